"""Forum governance across real processes (issue: governance on the running node).

Four `cliqueclique serve` processes on loopback, every one linked to every
other (`peer add`): the forum's owner, a moderator it appoints, a member, and
a spamming node. What a node refuses is seen three ways: the ids are absent
from its log (`log --json`), its status counts the refusal by reason
(`status`: "kept out: N events refused (banned N, ...)"), and a later honest
post reached it after the refused one was sent, so the absence is not a
matter of waiting longer. Attacks the CLI refuses to sign (a banned author's
post, a stranger's post in a members-only forum, a post without its proof of
work) are written straight into the attacker's log, as a hostile node would,
and its `serve` relays them like anything else.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from nacl.signing import SigningKey

from cliqueclique.eventlog.work import has_work
from cliqueclique.eventlog.writer import Author
from cliqueclique.home import Home

from .harness import DEADLINE, Serve, cli, log_ids

pytestmark = pytest.mark.slow

ROLES = ("owner", "moderator", "member", "spammer")
T = TypeVar("T")
KEPT_OUT = re.compile(r"kept out: (\d+) events refused \(([^)]*)\), (\d+) events held back by flood limits "
                      r"\((\d+) waiting now\)")


class Recording(Serve):
    """`serve --events` keeping each event line it prints (the node's own
    events too, once it has picked up what the CLI appended)."""

    def __init__(self, home: Path) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        super().__init__(home)

    def _lines_until(self, done: object) -> list[str]:
        def record(line: str) -> bool:
            if line.startswith("{"):
                event = json.loads(line)
                self.events[event["id"]] = event
            return done(line)  # type: ignore[operator,no-any-return]
        return super()._lines_until(record)

    def wait_for_prefix(self, prefix: str) -> str:
        """The full id of the event starting with `prefix`, once the node has it."""
        def found() -> list[str]:
            return [i for i in self.events if i.startswith(prefix)]
        if not found():
            self._lines_until(lambda line: bool(found()))
        return found()[0]


def each(items: Iterable[T], work: Callable[[T], Any]) -> list[Any]:
    """`work` on every item at once (CLI processes in parallel), results in order."""
    items = list(items)
    with concurrent.futures.ThreadPoolExecutor(max(1, len(items))) as pool:
        return list(pool.map(work, items))


@dataclass
class Peer:
    role: str
    home: Path
    serve: Recording

    @property
    def id(self) -> str:
        return self.serve.node_id

    def cli(self, *args: str, check: bool = True) -> str:
        return cli(self.home, *args, check=check).stdout

    def log(self) -> set[str]:
        return set(log_ids(self.home))

    def thread(self, root: str) -> dict[str, dict]:  # type: ignore[type-arg]
        """The entries of `thread --json`, by id."""
        return {e["id"]: e for e in json.loads(self.cli("thread", root, "--json"))["entries"]}

    def kept_out(self) -> tuple[dict[str, int], int]:
        """What the running node's status says it refused (by reason) and held back so far."""
        match = KEPT_OUT.search(self.cli("status", "--once"))
        if match is None:
            return {}, 0
        reasons = {why: int(n) for why, n in (part.split() for part in match[2].split(", ") if part != "none")}
        return reasons, int(match[3])

    def peer_states(self) -> dict[str, str]:
        return {p["id"]: p["state"] for p in map(json.loads, self.cli("peers", "--json").splitlines())}

    def mod(self, *args: str) -> str:
        """Run `mod ARGS`; the full id of the moderation event it signed."""
        prefix = re.search(r"\(event ([0-9a-f]{16})\)", self.cli("mod", *args))
        assert prefix is not None
        return self.serve.wait_for_prefix(prefix[1])

    def post(self, root: str, subject: str) -> str:
        """A reply through the CLI (which mines proof of work when the forum asks
        for it); its document's id, once this node's `serve` has sent it on.
        (A post travels whole: a node holding the document holds its link.)"""
        doc = self.cli("post", "-s", subject, "-b", f"{subject} from the {self.role}", "--parent", root).strip()
        self.serve.wait_for({doc})
        return doc

    def write(self, root: str, count: int, tag: str, key: SigningKey | None = None,
              unproven_bits: int = 0) -> list[tuple[str, str]]:
        """Replies appended straight to this node's log, signed by its own key or
        by `key`, past every check the CLI makes (a hostile node's own writes);
        with `unproven_bits`, each document's id lacks that proof of work. The
        running `serve` picks them up and sends them on. [(doc, link)]"""
        local = Home(self.home).node()
        store = local.open_store()
        try:
            author = Author(key, store) if key is not None else local.author(store)
            out = []
            for i in range(count):
                doc = author.document(f"{tag} {i}", f"{tag} number {i}")
                n = 0
                while unproven_bits and has_work(doc.id, unproven_bits):
                    n += 1
                    doc = author.document(f"{tag} {i}", f"{tag} number {i} ({n})")
                link = author.link(root, doc.id)
                out.append((doc.id, link.id))
            return out
        finally:
            store.close()


def ids(posts: list[tuple[str, str]]) -> set[str]:
    return {i for post in posts for i in post}


def eventually(what: str, check: Callable[[], bool]) -> None:
    """Poll `check` (each look is a CLI process: a look takes a fraction of a
    second) until it holds, or fail after the harness's deadline."""
    deadline = time.monotonic() + DEADLINE
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Peer]]:
    """The four nodes, serving, each linked to the three others."""
    base = tmp_path_factory.mktemp("governance")
    serves: list[Recording] = []

    def start(role: str) -> Peer:
        cli(base / role, "init", "--name", role)
        serve = Recording(base / role)
        serves.append(serve)
        return Peer(role, base / role, serve)

    try:
        peers = {p.role: p for p in each(ROLES, start)}
        pairs = [(a, b) for a in peers.values() for b in peers.values() if a is not b]
        each(pairs, lambda ab: ab[0].cli("peer", "add", f"{ab[1].id}@{ab[1].serve.address}"))

        def linked(a: Peer) -> None:
            others = {b.id for b in peers.values() if b is not a}
            eventually(f"the {a.role} is linked to every other node",
                       lambda: others <= {p for p, s in a.peer_states().items() if s == "connected"})
        each(peers.values(), linked)
        yield peers
    finally:
        each(serves, Serve.stop)


def open_forum(nodes: dict[str, Peer], subject: str, *actions: tuple[str, ...]) -> str:
    """The owner posts a forum, appoints the moderator and applies `actions`
    (`mod` arguments after the forum id); every other node joins it and holds
    all of that. The forum's id."""
    owner = nodes["owner"]
    root = owner.cli("post", "-s", subject, "-b", "welcome").strip()
    setup = {root, owner.mod("add", root, nodes["moderator"].id)}
    setup |= {owner.mod(action[0], root, *action[1:]) for action in actions}
    invite = owner.cli("invite", root).strip()

    def join(peer: Peer) -> None:
        peer.cli("join", "--timeout", str(int(DEADLINE)), invite)
        peer.serve.wait_for(setup)
    each((nodes[r] for r in ("moderator", "member", "spammer")), join)
    return root


def refused(peer: Peer, reason: str) -> int:
    return peer.kept_out()[0].get(reason, 0)


def refusals(peers: Iterable[Peer], reason: str) -> dict[str, int]:
    """role -> events its node refused so far for `reason`."""
    return dict(each(peers, lambda p: (p.role, refused(p, reason))))


def each_refuses(peers: Iterable[Peer], reason: str, before: dict[str, int], what: str) -> None:
    """Wait until every one of `peers` refused more events for `reason` than `before`."""
    each(peers, lambda p: eventually(f"the {p.role} refuses {what}",
                                     lambda: refused(p, reason) > before[p.role]))


def still_linked(peers: Iterable[Peer], relay: Peer) -> None:
    """Refusing what `relay` sent is nobody's fault: none of `peers` cut or banned it."""
    states = each(peers, lambda p: (p.role, p.peer_states().get(relay.id)))
    assert all(state == "connected" for _, state in states), states


def test_a_ban_stops_a_spammer_everywhere_and_ignoring_the_moderator_brings_it_back(
        nodes: dict[str, Peer]) -> None:
    owner, moderator, member, spammer = (nodes[r] for r in ROLES)
    others = (owner, moderator, member)
    root = open_forum(nodes, "A forum worth spamming")

    # The spammer floods the forum; everybody takes it in, for now.
    earlier = [spammer.post(root, f"buy now {i}") for i in range(3)]
    each(others, lambda p: p.serve.wait_for(set(earlier)))

    # The moderator bans it; every node learns of the ban.
    ban = moderator.mod("ban", root, spammer.id, "--reason", "spam")
    each((owner, member, spammer), lambda p: p.serve.wait_for({ban}))
    shown = member.thread(root)
    for doc in earlier:  # what it posted before the ban stays held, hidden
        assert shown[doc]["hidden"] == {"by": moderator.id, "reason": "spam"}
        assert shown[doc]["text"] is None
    assert shown[root]["hidden"] is None
    before = refusals(others, "banned")

    # The spammer's own CLI refuses to sign; a spamming node writes its log itself.
    attempt = cli(spammer.home, "post", "-s", "more", "-b", "x", "--parent", root, check=False)
    assert attempt.returncode != 0 and "banned" in attempt.stderr
    later = spammer.write(root, 5, "after the ban")

    # Each other node is sent the new spam (it is linked to the spammer) and refuses it ...
    each_refuses(others, "banned", before, "the banned spammer's new posts")
    # ... and an honest post sent after it reaches the member: the spam is not just late.
    marker = owner.post(root, "an honest word after the spam")
    member.serve.wait_for({marker})
    logs = dict(zip(ROLES, each(others, Peer.log)))
    for role, held in logs.items():
        assert not ids(later) & held, f"the {role} stored spam from a banned author"
    assert set(earlier) <= logs["member"]
    assert member.thread(root)[marker]["hidden"] is None
    still_linked(others, spammer)

    # The member stops honouring that moderator: the earlier spam shows again,
    # and the posts it refused are fetched again and kept. (This can take up to
    # 30 s: the member's vector after the change may be the very one the
    # spammer answered just before, with the posts then refused, and a peer
    # answers an identical vector again only after GossipConfig.vector_resend_after.)
    member.cli("mod", "ignore", root, moderator.id)
    shown = member.thread(root)
    for doc in earlier:
        assert shown[doc]["hidden"] is None and shown[doc]["text"] is not None
    member.serve.wait_for(ids(later))
    shown = member.thread(root)
    assert all(shown[doc]["hidden"] is None for doc, _ in later)
    # The others still honour the ban.
    for peer in (owner, moderator):
        assert not ids(later) & peer.log()
        assert peer.thread(root)[earlier[0]]["hidden"] is not None


def test_a_members_forum_stores_nothing_from_a_non_member(nodes: dict[str, Peer]) -> None:
    owner, moderator, member, spammer = (nodes[r] for r in ROLES)
    others = (owner, moderator, member)
    root = open_forum(nodes, "Members only", ("policy", "members"), ("approve", member.id))
    before = refusals(others, "members")

    attempt = cli(spammer.home, "post", "-s", "let me in", "-b", "x", "--parent", root, check=False)
    assert attempt.returncode != 0 and "members only" in attempt.stderr
    intruder = spammer.write(root, 3, "not a member")
    each_refuses(others, "members", before, "the non-member's posts")

    # A member's post and the owner's, sent after, reach everyone; the non-member's never does.
    approved = member.post(root, "a member speaks")
    by_owner = owner.post(root, "the owner too")
    each(others, lambda p: p.serve.wait_for({approved, by_owner}))
    for peer, held in zip(others, each(others, Peer.log)):
        assert not ids(intruder) & held, f"the {peer.role} stored a non-member's post"
    still_linked(others, spammer)


POW_BITS = 10


def test_a_pow_forum_stores_no_unproven_post_and_accepts_a_proven_one_from_a_stranger(
        nodes: dict[str, Peer]) -> None:
    owner, moderator, member, spammer = (nodes[r] for r in ROLES)
    others = (owner, moderator, member)
    root = open_forum(nodes, "Pay to post", ("policy", f"pow:{POW_BITS}"))
    before = refusals(others, "pow")

    # Somebody else's unproven post, which the spammer's node holds and relays
    # as an honest relay would (it is not the relay's to judge).
    unproven = spammer.write(root, 1, "no work done", key=SigningKey.generate(), unproven_bits=POW_BITS)
    assert not has_work(unproven[0][0], POW_BITS)
    each_refuses(others, "pow", before, "the unproven post")

    # The spammer's own post, mined by the CLI: a stranger's proven post is welcome.
    proven = spammer.post(root, "I did the work")
    assert has_work(proven, POW_BITS)
    each(others, lambda p: p.serve.wait_for({proven}))
    for peer, held in zip(others, each(others, Peer.log)):
        assert not ids(unproven) & held, f"the {peer.role} stored an unproven post"
    still_linked(others, spammer)
    assert member.thread(root)[proven]["hidden"] is None


def test_posts_beyond_the_flood_burst_are_held_back_and_arrive_later(nodes: dict[str, Peer]) -> None:
    """110 fresh replies at once against the default budget (bursts of 100, then
    one a second): the receivers take 100, hold the rest back, and take them
    as the budget refills."""
    owner, moderator, member, spammer = (nodes[r] for r in ROLES)
    others = (owner, moderator, member)
    root = open_forum(nodes, "A busy forum")
    held_before = {p.role: p.kept_out()[1] for p in (owner, member)}

    started = time.monotonic()
    flood = spammer.write(root, 110, "flood")
    eventually("the owner holds back posts beyond the burst",
               lambda: owner.kept_out()[1] > held_before["owner"])
    assert not ids(flood) <= owner.log(), "the whole flood was taken at once"
    each(others, lambda p: p.serve.wait_for(ids(flood)))
    elapsed = time.monotonic() - started
    # Ten posts past the burst, refilled at one a second: several seconds at least.
    assert elapsed > 5.0, f"the flood was not slowed down ({elapsed:.1f} s)"
    assert member.kept_out()[1] > held_before["member"]
    still_linked(others, spammer)
