"""A reconciliation answer announces events still travelling the tree instead of
sending them again (after a tree repair such answers made most duplicates)."""

from __future__ import annotations

from cliqueclique.gossip.sim import SimNetwork

from .helpers import fast_config, start_forum


def _chain(slow: float) -> tuple[SimNetwork, str]:
    """0 - 1 - 2, the link 1-2 `slow` seconds long; everyone subscribed, quiet."""
    sim = SimNetwork(3, config=fast_config, auto_connect=False)  # no link 0-2
    sim.add_nodes(3)
    sim.connect(0, 1, latency=0.01)
    sim.connect(1, 2, latency=slow)
    root = start_forum(sim)
    for i in (1, 2):
        sim.join(i, root, via=i - 1)
        sim.run_until_quiet(1000)
    assert [len(sim.nodes[i].gossip.protocol(root).links) for i in range(3)] == [1, 2, 1]
    return sim, root


def _vector_from_2_to_1(sim: SimNetwork, root: str) -> None:
    node2, node1 = sim.nodes[2], sim.nodes[1]
    assert node2.gossip is not None
    proto = node2.gossip.protocol(root)
    assert proto is not None
    node2.gossip.send_vector(node1.node_id, proto)
    sim._pump(node2)


def _reply_sent_by_1(sim: SimNetwork, link_id: str) -> int:
    return sum(s.payload_sent.get(link_id, 0) for s in sim.nodes[1].all_stats())


def test_an_event_in_flight_is_announced_not_sent_again() -> None:
    sim, root = _chain(slow=0.4)
    posted = sim.now
    doc, link = sim.post(0, "reply", "in flight", parent=root)
    assert link is not None
    # Node 1 holds it after 10 ms and pushes it on; 2 asks for what it lacks
    # while that copy is still on the 400 ms link.
    sim.at(posted + 0.05, lambda: _vector_from_2_to_1(sim, root))
    sim.run_until_quiet(1000)
    assert sim.nodes[2].store.present({doc.id, link.id}) == {doc.id, link.id}
    assert _reply_sent_by_1(sim, link.id) == 1  # the eager push only


def test_an_announced_event_that_never_arrives_is_grafted() -> None:
    sim, root = _chain(slow=0.4)
    posted = sim.now
    doc, link = sim.post(0, "reply", "lost on the way", parent=root)
    assert link is not None
    dropped: list[bytes] = []

    def lose_first_copy(src: int, dst: int, data: bytes) -> bool:
        if (src, dst) == (1, 2) and not dropped and len(data) > 300:
            dropped.append(data)  # the eager push (the only big frame 1 sends then)
            return False
        return True

    sim.filter = lose_first_copy
    sim.at(posted + 0.05, lambda: _vector_from_2_to_1(sim, root))
    sim.run_until_quiet(1000)
    assert dropped, "the eager copy was not seen"
    assert sim.nodes[2].store.present({doc.id, link.id}) == {doc.id, link.id}
    assert _reply_sent_by_1(sim, link.id) == 2  # the lost push, then the graft's answer
