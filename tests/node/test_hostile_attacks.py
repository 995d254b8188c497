"""Issue 16's attacks, each by a real hostile process against a real `serve`,
with an honest peer beside it: the attack costs the attacker (cut off, banned)
and leaves the victim's memory, CPU, views and honest replication intact.
Run with `-s` to see what each attack cost the victim."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from cliqueclique.home import Home
from cliqueclique.views import BatchSigner

from .conftest import Hostile
from .harness import FORUM_AUTHORS, Pair, Serve, cli, log_ids, make_forum, seed_node

pytestmark = pytest.mark.slow


def peer_rows(home: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in cli(home, "peers", "--json").stdout.splitlines()]


def banned(home: Path) -> list[dict[str, object]]:
    return [row for row in peer_rows(home) if row["state"] == "banned"]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    p = Pair(tmp_path)
    try:
        yield p
    finally:
        p.stop()


def test_a_far_future_reply_is_refused_and_every_view_still_renders(pair: Pair, hostile: Hostile) -> None:
    done = hostile(pair.a, pair.root, "far-future")
    assert done.outcome.startswith("done far-future") and ("closed" in done.outcome or "cut off" in done.outcome)
    titles = [e["title"] for e in json.loads(cli(pair.a_home, "thread", pair.root, "--json").stdout)["entries"]]
    assert "from the year 3 million" not in titles
    assert cli(pair.a_home, "find", "--text", "far").returncode == 0
    assert [row["ban_reason"] for row in banned(pair.a_home)], peer_rows(pair.a_home)  # the sender only
    assert pair.b.node_id not in [row["id"] for row in banned(pair.a_home)]
    pair.honest_post_arrives()


def test_unsolicited_big_events_from_fresh_keys_pin_no_memory(pair: Pair, hostile: Hostile) -> None:
    done = hostile(pair.a, pair.root, "unsolicited", UNSOLICITED_EACH="420")  # ~150 MiB offered
    assert done.outcome.startswith("done unsolicited closed"), done.outcome
    assert done.rss_growth_mib < 80, str(done)
    assert pair.b.node_id not in [row["id"] for row in banned(pair.a_home)]
    pair.honest_post_arrives()


def test_orphans_whose_chain_never_starts_cost_their_sender(pair: Pair, hostile: Hostile) -> None:
    done = hostile(pair.a, pair.root, "orphans", ORPHANS="1500")  # ~88 MiB offered
    assert "cut off" in done.outcome or "closed" in done.outcome, done.outcome
    assert done.rss_growth_mib < 60, str(done)  # the per-peer orphan budget is 16 MiB (before: +290 MiB)
    reasons = [str(row["ban_reason"]) for row in banned(pair.a_home)]
    assert any("orphan" in reason for reason in reasons), reasons
    pair.honest_post_arrives()


def test_empty_vectors_get_bounded_answers_and_honest_posts_go_on(tmp_path: Path, hostile: Hostile) -> None:
    pair = Pair(tmp_path, events=10_000)
    try:
        done = hostile(pair.a, pair.root, "empty-vectors")
        answered = int(done.outcome.rsplit("answer_bytes=", 1)[1])
        # one paced answer (a chunk of at most 4 MiB, then `More`), not 20 copies of the forum
        assert 0 < answered <= 5 * 1024 * 1024, done.outcome
        assert done.rss_growth_mib < 80 and done.cpu_seconds < 10, str(done)
        assert pair.honest_post_arrives() < 10
    finally:
        pair.stop()


def test_a_fresh_key_from_a_banned_source_is_refused_and_a_kept_peer_there_is_not(
        pair: Pair, hostile: Hostile) -> None:
    done = hostile(pair.a, pair.root, "oversize-after-handshake", AGAIN="fresh", SOURCE="127.0.0.1")
    assert "reconnect refused" in done.outcome, done.outcome  # same host, new key: the source is banned
    assert len(banned(pair.a_home)) == 1  # by id only the first key
    # B shares 127.0.0.1 with the attacker; A keeps B (it shares the forum), so B gets back in.
    pair.b.stop()
    pair.b = Serve(pair.b_home)
    pair.honest_post_arrives()
    refused = [line for line in pair.a.stderr if "banned" in line and "refused" in line]
    assert refused and not [line for line in refused if pair.b.node_id[:16] in line], refused


def test_a_fork_is_blamed_on_its_author_and_both_nodes_hide_it(pair: Pair, hostile: Hostile) -> None:
    """The forker sends A and B each its own seq-1 reply; they pass their twins
    to each other (before: they banned each other for it, and each showed its own)."""
    done = hostile(pair.a, pair.root, "fork", OTHER=f"{pair.b.address} {pair.b.node_id}")
    twins = done.outcome.split("twins=")[1].split()[0].split(",")
    assert "evidence=yes" in done.outcome, done.outcome
    for serve, home, other in ((pair.a, pair.a_home, pair.b), (pair.b, pair.b_home, pair.a)):
        serve.wait_for_stderr("fork: ")
        forks = [json.loads(line) for line in cli(home, "evidence", "--json").stdout.splitlines()]
        assert {f["network"] for f in forks} == {pair.root} and {f["id"] for f in forks} <= set(twins)
        entries = json.loads(cli(home, "thread", pair.root, "--json").stdout)["entries"]
        shown = [e for e in entries if e["title"] == "twin" and e["hidden"] is None]
        assert shown == [], shown  # whichever twin it holds, it is hidden
        assert other.node_id not in [row["id"] for row in banned(home)]
    pair.honest_post_arrives()


def test_a_forged_reply_in_a_batch_leaves_no_dangling_link(pair: Pair, hostile: Hostile) -> None:
    done = hostile(pair.a, pair.root, "forged-batch")
    good = done.outcome.split("good=")[1].split()[0]
    forged = done.outcome.split("forged=")[1].split()[0]
    entries = json.loads(cli(pair.a_home, "thread", pair.root, "--json").stdout)["entries"]
    assert [e for e in entries if e["status"] == "missing"] == []  # no "[not held yet]"
    held = set(log_ids(pair.a_home))
    assert forged not in held
    assert (good in held) == any(e["id"] == good for e in entries)  # a kept reply is linked
    assert pair.b.node_id not in [row["id"] for row in banned(pair.a_home)]
    assert len(banned(pair.a_home)) == 1  # the sender
    pair.honest_post_arrives()


def test_a_newcomer_to_a_forum_with_a_deletion_blames_nobody(tmp_path: Path) -> None:
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    root, wires = make_forum(6_001)  # 3,000 replies
    seed_node(a_home, "a", root, wires)
    store = Home(a_home).node().open_store()
    victim_doc = store.get(log_ids(a_home, "--kind", "document")[1500])
    assert victim_doc is not None
    key = next(SigningKey(bytes([i + 1]) * 32) for i in range(FORUM_AUTHORS)
               if SigningKey(bytes([i + 1]) * 32).verify_key.encode().hex() == victim_doc.author)
    store.append(BatchSigner(key, store).delete(victim_doc.id, victim_doc.id))
    store.close()
    cli(b_home, "init")
    a, b = Serve(a_home), Serve(b_home)
    try:
        started = time.monotonic()
        cli(b_home, "join", "--timeout", "120", cli(a_home, "invite", root).stdout.strip())
        seconds = time.monotonic() - started
        print(f"\nnewcomer caught up 3,000 replies (one deleted) in {seconds:.1f} s")
        assert banned(b_home) == [] and banned(a_home) == []
        assert set(log_ids(b_home)) >= set(log_ids(a_home)) - {e for e in log_ids(a_home, "--kind", "subscription")}
        entries = json.loads(cli(b_home, "thread", root, "--json").stdout)["entries"]
        assert [e["status"] for e in entries if e["id"] == victim_doc.id] == ["deleted"]
    finally:
        a.stop()
        b.stop()
