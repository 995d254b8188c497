"""Whole-network behaviour in the deterministic simulator (virtual time only)."""

from __future__ import annotations

import random

from cliqueclique.eventlog import Kind
from cliqueclique.gossip.outputs import CenterChanged, DocumentDropped, PeerMisbehaved
from cliqueclique.gossip.sim import SimNetwork

from .helpers import (
    check_tree,
    fast_config,
    holders,
    join_all,
    random_topology,
    scope_events,
    start_forum,
)


def forum(seed: int, n: int = 10, members: list[int] | None = None, **faults: float) -> tuple[SimNetwork, str]:
    sim = SimNetwork(seed, config=fast_config, **faults)  # type: ignore[arg-type]
    random_topology(sim, n, random.Random(seed))
    root = start_forum(sim)
    join_all(sim, root, list(range(n)) if members is None else members)
    return sim, root


def test_same_seed_same_run_byte_for_byte() -> None:
    digests = []
    for seed in (5, 5, 6):
        sim = SimNetwork(seed, config=fast_config, loss=0.1, duplicate=0.1, reorder=0.2, trace=True)
        random_topology(sim, 8, random.Random(seed))
        root = start_forum(sim)
        join_all(sim, root, list(range(8)))
        sim.post(3, "hi", "there", parent=root)
        sim.run_until_quiet(500)
        digests.append(sim.trace_digest())
    assert digests[0] == digests[1] != digests[2]


def test_tree_invariants_after_quiescence() -> None:
    sim, root = forum(11, n=14)
    for i in (3, 5, 8):
        sim.post(i, f"reply {i}", "text", parent=root)
    sim.subscribe(9, root, False)  # 9 becomes a relay or leaves
    sim.bookmark(9, root)
    sim.run_until_quiet(1000)
    check_tree(sim, root)
    for node in holders(sim, root):
        info = node.gossip.info(root)  # type: ignore[union-attr]
        assert info is not None and info.center == holders(sim, root)[0].gossip.info(root).center  # type: ignore[union-attr]


def test_replies_reach_every_subscriber_with_their_children() -> None:
    sim, root = forum(3, n=12)
    posted = [sim.post(i, f"reply {i}", "x", parent=root)[0].id for i in (1, 4, 7, 10)]
    sim.run_until_quiet(1000)
    expected = scope_events(sim.nodes[0], root)
    assert set(posted) <= expected
    for node in sim.nodes:
        assert scope_events(node, root) == expected
        assert all(node.gossip.holds(child) for child in posted)  # type: ignore[union-attr]
        progress = node.gossip.progress(root)  # type: ignore[union-attr]
        assert progress.held == progress.known == len(expected)
        assert all(p.they_lack == 0 and p.we_lack == 0 for p in progress.peers.values())


def test_unwanted_documents_are_garbage_collected() -> None:
    sim, root = forum(4, n=10)
    sim.run_until_quiet(1000)
    leaves = [n for n in holders(sim, root)
              if n.gossip.info(root).downstream == () and n.index != 0]  # type: ignore[union-attr]
    leaf = leaves[0]
    sim.subscribe(leaf.index, root, False)
    sim.run_until_quiet(sim.now + 1000)
    assert not leaf.gossip.holds(root)  # type: ignore[union-attr]
    assert any(isinstance(e, DocumentDropped) and e.doc == root for e in leaf.app_events)
    for node in holders(sim, root):  # the metadata-deletion handshake finished everywhere
        assert leaf.node_id not in node.gossip.protocol(root).links  # type: ignore[union-attr]
    sim.post(2 if leaf.index != 2 else 3, "after", "gc", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    assert not leaf.gossip.holds(root)  # type: ignore[union-attr]
    check_tree(sim, root)


def test_relays_stay_while_they_have_wanters() -> None:
    sim = SimNetwork(8, config=fast_config)
    sim.add_nodes(3)
    sim.connect(0, 1)
    sim.connect(1, 2)
    sim.auto_connect = False  # a line: 0 - 1 - 2, so 1 must relay
    root = start_forum(sim)
    sim.join(1, root, 0)
    sim.run_until(5)
    sim.join(2, root, 1)
    sim.run_until(10)
    sim.subscribe(1, root, False)
    sim.post(2, "far", "away", parent=root)
    sim.run_until_quiet(1000)
    info = sim.nodes[1].gossip.info(root)  # type: ignore[union-attr]
    assert info is not None and info.wanters >= 1 and not info.bookmarked
    assert scope_events(sim.nodes[0], root) == scope_events(sim.nodes[2], root)
    check_tree(sim, root)


def test_reelection_after_the_center_crashes() -> None:
    sim, root = forum(21, n=12)
    sim.run_until_quiet(1000)
    center = holders(sim, root)[0].gossip.info(root).center  # type: ignore[union-attr]
    crashed = sim.by_id[center].index
    changes: list[float] = []
    sim.listeners.append(
        lambda node, ev, now: changes.append(now) if isinstance(ev, CenterChanged) else None)
    sim.crash(crashed)
    t0 = sim.now
    sim.run_until_quiet(t0 + 1000)
    check_tree(sim, root)
    new_center = holders(sim, root)[0].gossip.info(root).center  # type: ignore[union-attr]
    assert new_center != center
    live = [n for n in sim.alive()]
    assert max(n.node_id for n in live) == new_center  # everyone subscribed: highest live id wins
    last_change = max(changes)
    assert last_change - t0 < 30  # bounded: hold-down plus a few rounds, no counting to infinity
    reply, _ = sim.post(live[0].index, "still", "here", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    assert all(n.store.get(reply.id) is not None for n in live)


def test_partition_heals_into_one_tree() -> None:
    sim, root = forum(31, n=12)
    sim.run_until_quiet(1000)
    side_a, side_b = list(range(6)), list(range(6, 12))
    sim.partition([side_a, side_b])
    sim.run_until(sim.now + 30)
    a_post, _ = sim.post(1, "left", "a", parent=root)
    b_post, _ = sim.post(7, "right", "b", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    centers = set()
    for part in components(sim):  # each connected part of each side elects its own center
        here = {sim.nodes[i].gossip.info(root).center for i in part}  # type: ignore[union-attr]
        assert len(here) == 1
        centers |= here
    assert len(centers) >= 2
    sim.heal()
    sim.run_until_quiet(sim.now + 1000)
    check_tree(sim, root)
    for node in sim.nodes:
        assert node.store.get(a_post.id) is not None and node.store.get(b_post.id) is not None


def components(sim: SimNetwork) -> list[set[int]]:
    seen: set[int] = set()
    parts = []
    for start in range(len(sim.nodes)):
        if start in seen or not sim.nodes[start].alive:
            continue
        part, stack = {start}, [start]
        while stack:
            i = stack.pop()
            for (a, b) in sim.links:
                j = b if a == i else a if b == i else None
                if j is not None and j not in part and sim._usable((a, b)):
                    part.add(j)
                    stack.append(j)
        seen |= part
        parts.append(part)
    return parts


def test_restart_keeps_the_log_and_catches_up() -> None:
    sim, root = forum(41, n=8)
    sim.crash(5)
    posts = [sim.post(i, f"while away {i}", "x", parent=root)[0].id for i in (1, 2, 3)]
    sim.run_until_quiet(sim.now + 500)
    sim.restart(5)
    sim.run_until_quiet(sim.now + 1000)
    node = sim.nodes[5]
    assert node.gossip.holds(root)  # type: ignore[union-attr]
    assert all(node.store.get(p) is not None for p in posts)
    check_tree(sim, root)


def test_hostile_peer_is_reported_and_others_converge() -> None:
    sim, root = forum(51, n=8)
    evil = 3
    victims = sim.neighbours(evil)
    sim.run_until_quiet(1000)
    from cliqueclique.gossip.messages import Attrs, Events, Update, encode_frames
    forged = bytearray(sim.post(evil, "mine", "x", parent=root)[1].wire)  # type: ignore[union-attr]
    forged[5] ^= 0xFF  # break the signature
    sub = sim.nodes[evil].store.get(sim.nodes[evil].store.head(sim.nodes[evil].node_id,
                                                               sim.nodes[evil].node_id)[1])  # type: ignore[index]
    absurd = Attrs(True, True, True, "f" * 64, True, 60000, "e" * 64, 1, bytes(8), bytes(8))
    payloads = [
        b"garbage",
        encode_frames([Events(root, ((1, bytes(forged)),))])[0],
        encode_frames([Events(root, ((1, sub.wire),))])[0],  # type: ignore[union-attr]
        encode_frames([Update(root, 99, absurd)])[0],
        encode_frames([Update(root, 2**63, absurd)])[0],
    ]
    for v in victims:
        for p in payloads:
            sim.inject(evil, v, p)
    good, _ = sim.post(0, "honest", "post", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    for v in victims:
        reports = [e for e in sim.nodes[v].app_events
                   if isinstance(e, PeerMisbehaved) and e.peer == sim.nodes[evil].node_id]
        assert len(reports) >= len(payloads)
    for node in sim.nodes:
        assert node.store.get(good.id) is not None
        assert not [e for e in node.store.events(network=root, kind=Kind.LINK)
                    if e.event.id == bytes(forged).hex()]
    check_tree(sim, root)


def test_policy_blocks_an_author() -> None:
    from cliqueclique.gossip.outputs import BlockList
    sim, root = forum(61, n=6)
    spammer = sim.nodes[4]
    for node in sim.nodes:
        if node.index != 4:
            node.gossip.set_policy(BlockList(authors={spammer.node_id}), sim.now)  # type: ignore[union-attr]
    sim.run_until_quiet(1000)
    spam, _ = sim.post(4, "spam", "x", parent=root)
    ok, _ = sim.post(1, "ok", "x", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    for node in sim.nodes:
        assert node.store.get(ok.id) is not None
        if node.index != 4:
            assert node.store.get(spam.id) is None


def test_reconciliation_sends_only_what_is_missing() -> None:
    sim, root = forum(71, n=8)
    old = [sim.post(i, f"old {i}", "x", parent=root) for i in (1, 2)]
    sim.run_until_quiet(sim.now + 500)
    sim.crash(5)
    new = [sim.post(i, f"new {i}", "x", parent=root) for i in (1, 2, 3)]
    sim.run_until_quiet(sim.now + 500)
    before = {eid: sum(s.payload_sent[eid] for n in sim.nodes for s in n.all_stats())
              for doc, link in old for eid in (doc.id, link.id)}  # type: ignore[union-attr]
    sim.restart(5)
    sim.run_until_quiet(sim.now + 1000)
    node = sim.nodes[5]
    for doc, link in new:
        assert node.store.get(doc.id) is not None and node.store.get(link.id) is not None  # type: ignore[union-attr]
    after = {eid: sum(s.payload_sent[eid] for n in sim.nodes for s in n.all_stats()) for eid in before}
    assert after == before  # what the restarted node already held was never sent again


def test_unsolicited_flood_is_reported() -> None:
    from cliqueclique.gossip.messages import IHave, encode_frames
    sim, _ = forum(81, n=5, members=[0, 1])
    outsider = next(i for i in sim.neighbours(0) if i not in (0, 1)) if any(
        i not in (0, 1) for i in sim.neighbours(0)) else 2
    sim.connect(outsider, 0)
    frame = encode_frames([IHave("ab" * 32, ("cd" * 32,))])[0]
    for k in range(200):
        sim.inject(outsider, 0, frame, delay=k * 0.001)
    sim.run_until_quiet(sim.now + 100)
    reports = [e for e in sim.nodes[0].app_events
               if isinstance(e, PeerMisbehaved) and e.peer == sim.nodes[outsider].node_id]
    assert reports and "unsolicited" in reports[0].reason


def test_lost_eager_pushes_are_recovered_by_graft_then_pruned() -> None:
    """A tree link that loses every payload: the lazy announcement and a graft repair it."""
    from cliqueclique.gossip.messages import decode_frame
    sim = SimNetwork(91, config=fast_config)
    sim.add_nodes(4)
    for a, b in ((0, 1), (1, 2), (2, 3), (3, 0)):
        sim.connect(a, b, latency=0.02)
    sim.auto_connect = False
    root = start_forum(sim)
    join_all(sim, root, [1, 3, 2])
    sim.run_until_quiet(sim.now + 100)
    check_tree(sim, root)
    x = next(n for n in sim.nodes if n.gossip.info(root).distance == 2)  # type: ignore[union-attr]
    upstream = sim.by_id[x.gossip.info(root).upstream].index  # type: ignore[union-attr, index]
    sent: list[tuple[int, int, int]] = []

    def faulty(src: int, dst: int, data: bytes) -> bool:
        kinds = {m.__class__.__name__ for m in decode_frame(data)}
        sent.extend((src, dst, 0) for _ in range(1) if "Graft" in kinds)
        return not (src == upstream and dst == x.index and "Events" in kinds)
    sim.filter = faulty
    author = next(i for i in range(4) if i not in (x.index, upstream))
    link = sim.post(author, "hello", "x", parent=root)[1]
    assert link is not None
    t0 = sim.now
    while x.store.get(link.id) is None and sim.now < t0 + 10:
        sim.run_until(sim.now + 0.05)
    assert x.store.get(link.id) is not None
    assert sim.now - t0 < 3 * fast_config().graft_timeout  # well before any reconciliation
    assert any(src == x.index for src, _, _ in sent), "x grafted the link"
    # The tree link works again: the grafted link now duplicates it, so x prunes it.
    frames: list[tuple[int, int, set[str]]] = []

    def record(src: int, dst: int, data: bytes) -> bool:
        frames.append((src, dst, {m.__class__.__name__ for m in decode_frame(data)}))
        return True
    sim.filter = record
    for k in range(3):
        sim.post(author, f"more {k}", "x", parent=root)
        sim.run_until(sim.now + 2)
    prunes = [(src, dst) for src, dst, kinds in frames if "Prune" in kinds and src == x.index]
    assert prunes and all(dst != upstream for _, dst in prunes)
    pruned = prunes[0][1]
    last = max(i for i, f in enumerate(frames) if f[:2] == (x.index, pruned) and "Prune" in f[2])
    later = [f for f in frames[last + 1:] if f[0] == pruned and f[1] == x.index and "Events" in f[2]]
    assert len(later) <= 1  # at most one push was already in flight


def test_no_count_to_infinity_on_a_ring() -> None:
    """A ring is where distance-vector routing counts to infinity: ours never counts up."""
    sim = SimNetwork(101, config=fast_config)
    sim.add_nodes(8)
    for i in range(8):
        sim.connect(i, (i + 1) % 8, latency=0.02)
    sim.auto_connect = False
    root = start_forum(sim)
    join_all(sim, root, [1, 2, 3, 4, 5, 6, 7])
    sim.run_until_quiet(sim.now + 100)
    check_tree(sim, root)
    center = sim.nodes[0].gossip.info(root).center  # type: ignore[union-attr]
    before = {n.node_id: n.gossip.info(root).distance for n in sim.nodes}  # type: ignore[union-attr]
    seen: list[tuple[str, int]] = []

    def watch(node: object, event: object, now: float) -> None:
        if isinstance(event, CenterChanged) and event.center == center:
            seen.append((node.node_id, event.distance))  # type: ignore[attr-defined]
    sim.listeners.append(watch)
    sim.crash(sim.by_id[center].index)
    sim.run_until_quiet(sim.now + 1000)
    assert all(distance <= before[nid] for nid, distance in seen)
    check_tree(sim, root)
    assert all(n.gossip.info(root).center != center for n in sim.alive())  # type: ignore[union-attr]
