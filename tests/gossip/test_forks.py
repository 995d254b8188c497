"""A forking author (two signed events at one place in its chain) in the
simulator: the fork is blamed on the author alone, the evidence reaches every
holder, and the chain stops replicating from the fork on."""

from __future__ import annotations

from cliqueclique.eventlog import BatchSigner, Event, Kind
from cliqueclique.gossip.messages import Events, pack_frames
from cliqueclique.gossip.outputs import PeerMisbehaved
from cliqueclique.gossip.sim import SimNetwork

from .helpers import settled_forum

N = 9


def twins(sim: SimNetwork, author: int, root: str) -> list[tuple[Event, Event, BatchSigner]]:
    """Two different replies by `author`, each with its link at seq 1 of the
    forum's network (and the signer that goes on from there)."""
    out = []
    for text in ("version for the east", "version for the west"):
        signer = BatchSigner(sim.nodes[author].key)
        doc = signer.document("twin", text)
        out.append((doc, signer.link(root, doc.id), signer))
    return out


def send(sim: SimNetwork, src: int, dst: int, root: str, events: tuple[Event, ...]) -> None:
    sim.connect(src, dst)
    for frame, _ in pack_frames([Events(root, tuple((1, e.wire) for e in events))]):
        sim.inject(src, dst, frame)


def linked(sim: SimNetwork, i: int, root: str) -> list[int]:
    """The nodes node `i` has a link with for the forum, by index."""
    proto = sim.nodes[i].gossip.protocol(root)  # type: ignore[union-attr]
    assert proto is not None
    return sorted(n.index for n in sim.nodes if n.node_id in proto.links)


def blamed(sim: SimNetwork) -> set[tuple[int, str]]:
    return {(node.index, e.peer) for node in sim.nodes for e in node.app_events if isinstance(e, PeerMisbehaved)}


def test_a_fork_is_the_authors_fault_and_every_holder_learns_it() -> None:
    sim, root = settled_forum(5, N)
    forker = sim.nodes[N - 1]
    (doc_a, link_a, later), (doc_b, link_b, _) = twins(sim, forker.index, root)
    east, west = linked(sim, forker.index, root)[:2]  # a non-link's events are not taken
    send(sim, forker.index, east, root, (doc_a, link_a))
    send(sim, forker.index, west, root, (doc_b, link_b))
    sim.run_until_quiet(sim.now + 1000)
    honest = [n for n in sim.nodes if n is not forker]
    for node in honest:
        # each holds one twin (whichever reached it first) and knows of the other
        held = {link_a.id, link_b.id} & {s.event.id for s in node.store.events(network=root, kind=Kind.LINK)}
        assert len(held) == 1, node.index
        assert node.store.forks() == {(forker.node_id, root): 1}, node.index
        assert node.gossip.forks.refuses(link_a) and node.gossip.forks.refuses(link_b)  # type: ignore[union-attr]
    honest_ids = {n.node_id for n in honest}
    assert not {peer for _, peer in blamed(sim)} & honest_ids  # no honest relay blamed

    # The forked chain goes no further: a later post on either twin is taken by nobody.
    doc_c = later.document("after the fork", "more")
    link_c = later.link(root, doc_c.id)
    assert link_c.seq == 2 and link_c.prev == link_a.id
    send(sim, forker.index, west, root, (doc_c, link_c))
    good, _ = sim.post(3, "honest after the fork", "x", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    for node in honest:
        assert node.store.get(good.id) is not None
        assert node.store.get(link_c.id) is None
    assert not {peer for _, peer in blamed(sim)} & honest_ids


def test_the_author_sending_its_own_fork_is_blamed() -> None:
    sim, root = settled_forum(8, N)
    forker = sim.nodes[N - 1]
    (doc_a, link_a, _), (doc_b, link_b, _) = twins(sim, forker.index, root)
    send(sim, forker.index, 1, root, (doc_a, link_a))
    sim.run_until_quiet(sim.now + 1000)
    send(sim, forker.index, 1, root, (doc_b, link_b))  # the second twin, to a node holding the first
    sim.run_until_quiet(sim.now + 1000)
    assert (1, forker.node_id) in blamed(sim)
    assert {peer for _, peer in blamed(sim)} == {forker.node_id}
