"""Center sequence numbers: a subtree cut off from its center re-attaches as
soon as the center has raised its seqno, without waiting out the hold-down."""

from __future__ import annotations

from dataclasses import replace

from cliqueclique.gossip.messages import SeqnoRequest
from cliqueclique.gossip.protocol import DocumentProtocol
from cliqueclique.gossip.seqnos import MAX_SEQNO_STEP
from cliqueclique.gossip.sim import SimNetwork

from .helpers import check_tree, fast_config, join_all, start_forum

HOLD_DOWN = 30.0  # far longer than the test runs: only seqnos can explain a re-attachment


def ring_forum(n: int) -> tuple[SimNetwork, str, int]:
    """A forum on a ring of `n` nodes (two links each: no suggestions), settled;
    returns it with the center's index."""
    sim = SimNetwork(7, auto_connect=False,
                     config=lambda: replace(fast_config(), hold_down=HOLD_DOWN, min_peers=2))
    sim.add_nodes(n)
    for i in range(n):
        sim.connect(i, (i + 1) % n, latency=0.02)
    root = start_forum(sim)
    join_all(sim, root, list(range(n)))
    sim.run_until_quiet(1000)
    check_tree(sim, root)
    center = max(range(n), key=lambda i: sim.nodes[i].node_id)
    return sim, root, center


def proto(sim: SimNetwork, i: int, root: str) -> DocumentProtocol:
    gossip = sim.nodes[i].gossip
    assert gossip is not None
    p = gossip.protocol(root)
    assert p is not None
    return p


def test_a_subtree_cut_off_by_a_crash_reattaches_within_round_trips() -> None:
    n = 10
    sim, root, center = ring_forum(n)
    before = proto(sim, center, root).own_seqno
    sim.crash((center + 1) % n)  # everyone on that side loses the way it had
    sim.run_until(sim.now + 1.5)
    check_tree(sim, root)  # one center again: the old one, reached the long way round
    far = (center + 2) % n
    assert proto(sim, far, root).center == sim.nodes[center].node_id
    assert proto(sim, far, root).distance == n - 2
    assert proto(sim, center, root).own_seqno > before


def test_a_restarted_center_is_taken_back_despite_its_reset_seqno() -> None:
    n = 8
    sim, root, center = ring_forum(n)
    sim.crash((center + 1) % n)
    sim.run_until(sim.now + 1.5)
    assert proto(sim, (center + 3) % n, root).fd[sim.nodes[center].node_id][0] >= 1
    sim.crash(center)
    sim.run_until(sim.now + 1.0)
    sim.restart(center)  # a new machine: its own seqno starts at 0 again
    sim.run_until(sim.now + 2.0)
    check_tree(sim, root)
    assert proto(sim, (center + 3) % n, root).center == sim.nodes[center].node_id


def test_requests_raise_the_seqno_at_most_once_per_interval() -> None:
    sim, root, center = ring_forum(5)
    p = proto(sim, center, root)
    neighbour = sim.nodes[(center + 1) % 5].node_id
    me = sim.nodes[center].node_id
    now = sim.now
    start = p.own_seqno
    for k in range(1, 50):  # a peer asking in a loop
        p.on_seqno_request(neighbour, SeqnoRequest(root, me, start + k, 64), now)
    assert p.own_seqno == start + 1
    assert p.seqno_at == now + p.cfg.seqno_interval  # the rest waits for the interval
    p.handle_timer(now + p.cfg.seqno_interval)
    assert p.own_seqno == start + 49
    later = now + 2 * p.cfg.seqno_interval
    p.on_seqno_request(neighbour, SeqnoRequest(root, me, 2**32 - 1, 64), later)  # "the most there is"
    assert p.own_seqno == start + 49 + MAX_SEQNO_STEP  # one bounded step per interval


def test_a_request_is_relayed_once_per_center_and_interval() -> None:
    sim, root, center = ring_forum(6)
    relay = (center + 2) % 6
    p = proto(sim, relay, root)
    sent: list[tuple[str, object]] = []
    p.host.send = lambda peer, msg: sent.append((peer, msg))  # type: ignore[method-assign]
    downstream = next(q for q, link in p.links.items() if q != p.upstream)
    target = sim.nodes[center].node_id
    for _ in range(20):
        p.on_seqno_request(downstream, SeqnoRequest(root, target, p.center_seqno + 1, 64), sim.now)
    assert sent == [(p.upstream, SeqnoRequest(root, target, p.center_seqno + 1, 63))]
    p.on_seqno_request(downstream, SeqnoRequest(root, target, p.center_seqno + 1, 1), sim.now + 10)
    assert len(sent) == 1  # out of hops: not relayed
