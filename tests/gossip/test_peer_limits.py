"""Peer limits that hold (peerlimits.py): links beyond `max_peers` are shed
once things settle, the document's network stays connected, no node drops
below `min_peers`, and delivery is still complete."""

from __future__ import annotations

import random

import pytest

from cliqueclique.gossip.sim import SimNetwork, SimNode

from .helpers import fast_config, random_topology, start_forum

MAX_PEERS, MIN_PEERS = fast_config().max_peers, fast_config().min_peers


def live_links(node: SimNode, doc: str) -> set[str]:
    proto = node.gossip.protocol(doc)  # type: ignore[union-attr]
    return {peer for peer, link in proto.links.items() if link.live} if proto else set()


def check_links(sim: SimNetwork, doc: str) -> list[int]:
    """Link counts per node, after checking both ends agree and the network is connected."""
    by_id = {n.node_id: n for n in sim.nodes}
    links = {n.node_id: live_links(n, doc) for n in sim.nodes}
    for node, peers in links.items():
        for peer in peers:
            assert node in links[peer], "a link only one end knows"
    seen, todo = set(), [sim.nodes[0].node_id]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(links[node] - seen)
    assert seen == set(by_id), f"{len(by_id) - len(seen)} nodes cut off"
    return [len(links[n.node_id]) for n in sim.nodes]


def delivered_everywhere(sim: SimNetwork, author: int, root: str) -> None:
    reply, _ = sim.post(author, "after the shedding", "x", parent=root)
    sim.run_until_quiet(sim.now + 500)
    assert all(n.store.get(reply.id) is not None for n in sim.nodes)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_25_joiners_through_one_inviter_leave_it_within_max_peers(seed: int) -> None:
    sim = SimNetwork(seed, config=fast_config)
    sim.add_nodes(26)
    root = start_forum(sim)
    for i in range(1, 26):
        sim.connect(i, 0)
        sim.join(i, root, 0)
        sim.run_until(sim.now + 0.5)
    sim.run_until_quiet(sim.now + 1000)
    counts = check_links(sim, root)
    assert max(counts) <= MAX_PEERS, counts  # before: the inviter kept 25
    assert min(counts) >= MIN_PEERS, counts
    delivered_everywhere(sim, 17, root)


@pytest.mark.parametrize("seed", [4, 5])
def test_a_16_node_clique_sheds_down_to_max_peers(seed: int) -> None:
    sim = SimNetwork(seed, config=fast_config)
    sim.add_nodes(16)
    for a in range(16):
        for b in range(a + 1, 16):
            sim.connect(a, b)
    root = start_forum(sim)
    for i in range(1, 16):
        sim.join(i, root, 0)
        sim.run_until(sim.now + 0.5)
    sim.run_until_quiet(sim.now + 1000)
    counts = check_links(sim, root)
    assert max(counts) <= MAX_PEERS and min(counts) >= MIN_PEERS, counts  # before: 15 each
    delivered_everywhere(sim, 9, root)


@pytest.mark.parametrize("seed", range(6))
def test_shedding_on_sparse_random_graphs_keeps_every_node_connected(seed: int) -> None:
    """Random sparse graphs (some nodes reach others only through one peer),
    everyone joining through node 0: whatever is shed, nobody is cut off."""
    sim = SimNetwork(seed, config=fast_config)
    random_topology(sim, 30, random.Random(seed), extra=10)
    root = start_forum(sim)
    for i in range(1, 30):
        sim.connect(i, 0)
        sim.join(i, root, 0)
        sim.run_until(sim.now + 0.3)
    sim.run_until_quiet(sim.now + 1000)
    counts = check_links(sim, root)
    assert max(counts) <= MAX_PEERS, counts
    delivered_everywhere(sim, 29, root)
