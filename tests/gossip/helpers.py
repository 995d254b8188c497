"""Shared helpers for gossip tests: small forums in the simulator and tree checks."""

from __future__ import annotations

import random
from collections import deque

from cliqueclique.eventlog import Kind
from cliqueclique.gossip.outputs import GossipConfig
from cliqueclique.gossip.sim import SimNetwork, SimNode
from cliqueclique.gossip.states import DocState


def fast_config() -> GossipConfig:
    return GossipConfig(retry_base=0.5, retry_cap=8.0, hold_down=3.0, settle_delay=1.0,
                        gc_delay=2.0, graft_timeout=1.0, lazy_interval=0.25)


def random_topology(sim: SimNetwork, n: int, rng: random.Random, extra: int | None = None) -> None:
    """n nodes joined by a random spanning tree plus `extra` random chords."""
    sim.add_nodes(n)
    order = list(range(n))
    rng.shuffle(order)
    for k in range(1, n):
        sim.connect(order[k], order[rng.randrange(k)], latency=rng.uniform(0.01, 0.1))
    for _ in range(n // 2 if extra is None else extra):
        a, b = rng.randrange(n), rng.randrange(n)
        if a != b:
            sim.connect(a, b, latency=rng.uniform(0.01, 0.1))


def start_forum(sim: SimNetwork, creator: int = 0) -> str:
    root, _ = sim.post(creator, "forum", "welcome")
    sim.subscribe(creator, root.id)
    return root.id


def join_all(sim: SimNetwork, root: str, members: list[int], creator: int = 0) -> None:
    """Members join one after another, each through a neighbour (or any holder) that holds it."""
    holders = {creator}
    for i in members:
        if i in holders:
            continue
        near = [j for j in sim.neighbours(i) if j in holders]
        via = near[0] if near else min(holders)
        sim.connect(i, via)  # the invite names the peer: dial it
        sim.join(i, root, via)
        sim.run_until(sim.now + 2.0)
        holders.add(i)


def settled_forum(seed: int, n: int) -> tuple[SimNetwork, str]:
    """A forum on a random graph of `n` nodes that all joined, once quiet."""
    sim = SimNetwork(seed, config=fast_config)
    random_topology(sim, n, random.Random(seed))
    root = start_forum(sim)
    join_all(sim, root, list(range(n)))
    sim.run_until_quiet(1000)
    return sim, root


def scope_events(node: SimNode, root: str) -> set[str]:
    """Ids of the events of the root's network and of its children's networks."""
    children = {s.event.content()["child"] for s in node.store.events(network=root, kind=Kind.LINK)
                if not s.event.purged}
    return {s.event.id for net in {root} | children for s in node.store.events(network=net)
            if s.event.kind is not Kind.SUBSCRIPTION}


def holders(sim: SimNetwork, doc: str) -> list[SimNode]:
    out = []
    for node in sim.alive():
        assert node.gossip is not None
        proto = node.gossip.protocol(doc)
        if proto is not None and proto.state is DocState.ACTIVE:
            out.append(node)
    return out


def check_tree(sim: SimNetwork, doc: str) -> None:
    """One center, distances equal hop counts, no cycles, subscribing set connected."""
    nodes = holders(sim, doc)
    assert nodes, "nobody holds the document"
    protos = {n.node_id: n.gossip.protocol(doc) for n in nodes}  # type: ignore[union-attr]
    centers = {p.center for p in protos.values() if p is not None}
    assert len(centers) == 1, f"{len(centers)} centers"
    (center,) = centers
    top = protos.get(center)
    assert top is not None and top.upstream is None and top.distance == 0
    for nid, proto in protos.items():
        assert proto is not None
        hops, cur, seen = 0, nid, set()
        while cur != center:
            assert cur not in seen, "cycle in the tree"
            seen.add(cur)
            up = protos[cur].upstream  # type: ignore[union-attr]
            assert up is not None and up in protos, "upstream is not a holder"
            assert up in protos[cur].links  # type: ignore[union-attr]
            cur, hops = up, hops + 1
        assert proto.distance == hops, "distance is not the hop count"
    subscribed = {nid for nid, p in protos.items() if p is not None and p.subscribed}
    if subscribed:
        start = next(iter(subscribed))
        seen = {start}
        queue = deque([start])
        while queue:
            cur = queue.popleft()
            p = protos[cur]
            assert p is not None
            neighbours = [p.upstream] if p.upstream else []
            neighbours += [q for q, link in p.links.items() if link.attrs is not None
                           and link.attrs.upstream == cur]
            for q in neighbours:
                if q in subscribed and q not in seen:
                    seen.add(q)
                    queue.append(q)
        assert seen == subscribed, "the subscribing set is not connected"
