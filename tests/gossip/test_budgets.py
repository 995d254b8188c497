"""The README's resource budgets of the sans-IO gossip machine, one test per bound:
exceeding a per-peer bound costs the offender; the count bounds shared by all
peers stay bounded and do not lose an honest peer's events for good.

Bounds: `GossipConfig.max_missing`, `unsolicited_limit`, `max_orphans`."""

from __future__ import annotations

import hashlib
import random


from cliqueclique.eventlog import Kind, MemoryStore, sign_event
from cliqueclique.gossip.messages import Events, IHave, encode_frames
from cliqueclique.gossip.node import GossipNode
from cliqueclique.gossip.outputs import GossipConfig, PeerMisbehaved
from cliqueclique.gossip.sim import SimNetwork

from .helpers import fast_config, start_forum


def _reports(sim: SimNetwork, i: int, about: int) -> list[PeerMisbehaved]:
    peer = sim.nodes[about].node_id
    return [e for e in sim.nodes[i].app_events if isinstance(e, PeerMisbehaved) and e.peer == peer]


def _forum_of_three(seed: int, **config: int) -> tuple[SimNetwork, str]:
    """Node 0 holds a forum; node 1 (the offender) and node 2 (honest) joined it
    through node 0 and are linked to it only (no suggestions acted on)."""
    def make() -> GossipConfig:
        c = fast_config()
        for name, value in config.items():
            setattr(c, name, value)
        return c

    sim = SimNetwork(seed, config=make, auto_connect=False)
    sim.add_nodes(3)
    root = start_forum(sim)
    for i in (1, 2):
        sim.connect(i, 0)
        sim.join(i, root, 0)
        sim.run_until_quiet(sim.now + 50)
    proto = sim.nodes[0].gossip.protocol(root)  # type: ignore[union-attr]
    assert proto is not None and {sim.nodes[1].node_id, sim.nodes[2].node_id} <= proto.links.keys()
    return sim, root


def _made_up_ids(n: int, salt: bytes = b"") -> tuple[str, ...]:
    return tuple(hashlib.sha256(salt + b"%d" % k).hexdigest() for k in range(n))


def _honest_reply_withheld(sim: SimNetwork, root: str) -> tuple[str, str]:
    """Node 2 posts a reply whose pushes to node 0 are lost: node 0 can learn of it
    only from what the test injects. (reply id, link id)."""
    sim.filter = lambda src, dst, frame: not (src == 2 and dst == 0)
    reply, link = sim.post(2, "a real reply", "text", parent=root)
    assert link is not None
    return reply.id, link.id


# --- max_missing: announced-but-missing events per document -----------------------------

MAX_MISSING = 20


def test_announcements_beyond_max_missing_are_ignored_and_honest_events_still_arrive() -> None:
    sim, root = _forum_of_three(31, max_missing=MAX_MISSING)
    victim = sim.nodes[0].gossip
    assert victim is not None
    proto = victim.protocol(root)
    assert proto is not None
    reply, link = _honest_reply_withheld(sim, root)
    # The offender announces five times the bound of ids nobody has.
    flood = _made_up_ids(5 * MAX_MISSING)
    for k in range(0, len(flood), 10):
        sim.inject(1, 0, encode_frames([IHave(root, flood[k:k + 10])])[0])
    sim.run_until(sim.now + 0.01)
    assert len(proto.missing) == MAX_MISSING  # the rest was ignored
    assert set(proto.missing) <= set(flood[:MAX_MISSING])
    assert victim.memory_report()["missing"] <= 150 * 3 * MAX_MISSING  # table, claims, graft heap
    # Its made-up ids are grafted from it, never come, and are forgotten.
    sim.run_until(sim.now + 3 * victim.config.graft_timeout)
    assert not set(proto.missing) & set(flood)
    # The honest announcement of a real event is then chased and the event stored.
    sim.filter = None  # node 2 answers node 0's graft
    sim.inject(2, 0, encode_frames([IHave(root, (reply, link))])[0])
    sim.run_until(sim.now + 3 * victim.config.graft_timeout)
    assert sim.nodes[0].store.has(link) and sim.nodes[0].store.has(reply)
    assert _reports(sim, 0, about=2) == []


def test_an_offender_filling_max_missing_costs_an_honest_announcer_nothing() -> None:
    sim, root = _forum_of_three(32, max_missing=MAX_MISSING)
    victim = sim.nodes[0].gossip
    assert victim is not None
    reply, link = _honest_reply_withheld(sim, root)
    sim.inject(1, 0, encode_frames([IHave(root, _made_up_ids(MAX_MISSING))])[0])
    sim.run_until(sim.now + 0.01)
    for _ in range(victim.config.unsolicited_limit):  # within one graft timeout
        sim.inject(2, 0, encode_frames([IHave(root, (reply, link))])[0])
    sim.run_until(sim.now + 0.1)
    assert _reports(sim, 0, about=2) == []


# --- unsolicited_limit: unsolicited messages per peer -------------------------------------


def _victim(config: GossipConfig) -> GossipNode:
    return GossipNode("ee" * 32, MemoryStore(), random.Random(1), config)


def test_the_unsolicited_limit_reports_the_offender_and_not_a_peer_just_under_it() -> None:
    config = GossipConfig()
    limit = config.unsolicited_limit
    victim = _victim(config)
    offender, other = "a1" * 32, "b2" * 32
    victim.peer_connected(offender, 0.0)
    victim.peer_connected(other, 0.0)
    victim.events()
    unknown = IHave("cd" * 32, ("ef" * 32,))  # a document the victim does not hold
    frame = encode_frames([unknown])[0]
    for k in range(limit - 1):
        victim.receive(offender, frame, 1.0 + k)
        victim.receive(other, frame, 1.0 + k)
    assert [e for e in victim.events() if isinstance(e, PeerMisbehaved)] == []  # under the limit
    victim.receive(offender, frame, 100.0)  # the offender's 64th
    reports = [e for e in victim.events() if isinstance(e, PeerMisbehaved)]
    assert [e.peer for e in reports] == [offender] and "unsolicited" in reports[0].reason
    # One frame of many messages counts each message.
    victim.receive(other, encode_frames([unknown] * 2)[0], 101.0)  # its 64th and 65th
    assert [e.peer for e in victim.events() if isinstance(e, PeerMisbehaved)] == [other]


def test_unsolicited_messages_of_one_peer_do_not_count_against_another_in_a_forum() -> None:
    sim, root = _forum_of_three(33)
    limit = sim.nodes[0].gossip.config.unsolicited_limit  # type: ignore[union-attr]
    frame = encode_frames([IHave("cd" * 32, ("ef" * 32,))])[0]
    for k in range(limit):
        sim.inject(1, 0, frame, delay=k * 0.001)
    sim.run_until(sim.now + 1.0)
    assert len(_reports(sim, 0, about=1)) == 1
    assert _reports(sim, 0, about=2) == []
    # The honest peer still replicates: its new reply reaches node 0.
    reply, link = sim.post(2, "still heard", "text", parent=root)
    sim.run_until(sim.now + 2.0)
    assert link is not None and sim.nodes[0].store.has(link.id) and sim.nodes[0].store.has(reply.id)


# --- max_orphans: out-of-order events buffered in all ---------------------------------------

MAX_ORPHANS = 50


def test_max_orphans_bounds_the_count_and_evicts_the_bulk_holder_not_the_honest_peer() -> None:
    sim, root = _forum_of_three(34, max_orphans=MAX_ORPHANS)
    victim = sim.nodes[0].gossip
    assert victim is not None
    # The honest peer's three replies; node 0 gets the 2nd and 3rd first (their links
    # wait for link 1: orphans), then the offender's flood, then the 1st.
    sim.filter = lambda src, dst, frame: not (src == 2 and dst == 0)
    replies = [sim.post(2, f"reply {k}", "text", parent=root) for k in range(3)]
    for doc, link in replies[1:]:
        assert link is not None
        sim.inject(2, 0, encode_frames([Events(root, ((1, doc.wire), (1, link.wire)))])[0])
    sim.run_until(sim.now + 0.01)
    assert len(victim._orphans) == 2
    # Small edits of the forum whose chain never starts (seq 1 never comes): cheap in
    # bytes (far under orphan_peer_bytes), many in count.
    key = sim.nodes[1].key
    flood = [sign_event(key, Kind.EDIT, network=root, seq=seq, prev="ab" * 32, timestamp=seq,
                        body=b"x%d" % seq).wire for seq in range(2, 2 + 4 * MAX_ORPHANS)]
    for k in range(0, len(flood), 20):
        sim.inject(1, 0, encode_frames([Events(root, tuple((1, w) for w in flood[k:k + 20]))])[0])
        sim.run_until(sim.now + 0.001)
        assert len(victim._orphans) <= MAX_ORPHANS
    assert len(victim._orphans) == MAX_ORPHANS and victim._orphans.evicted > 0
    assert victim._orphans.peer_bytes(sim.nodes[2].node_id) > 0  # the honest orphans stayed
    first_doc, first_link = replies[0]
    assert first_link is not None
    sim.inject(2, 0, encode_frames([Events(root, ((1, first_doc.wire), (1, first_link.wire)))])[0])
    sim.run_until(sim.now + 0.01)
    store = sim.nodes[0].store
    for doc, link in replies:
        assert link is not None and store.has(doc.id) and store.has(link.id)
    assert _reports(sim, 0, about=2) == []
