"""Garbage collection in the simulator: unwanted documents leave the log after
the retention, wanted ones stay, and a forgotten document can come back.

A sweep runs as the running node runs it (node/gc.py): the machine says what
it needs, `gc.sweep` forgets what is unwanted for longer than the retention,
and the machine is told what went. Time is the simulator's virtual clock.
"""

from __future__ import annotations

from cliqueclique.eventlog import Kind
from cliqueclique.gc import GcReport, sweep
from cliqueclique.gossip.outputs import DocumentDropped
from cliqueclique.gossip.sim import SimNetwork, SimNode

from .helpers import fast_config, scope_events, start_forum

RETENTION = 60.0  # seconds of virtual time


def collect(sim: SimNetwork, i: int, *, dry_run: bool = False, retention: float = RETENTION) -> GcReport:
    node = sim.nodes[i]
    assert node.gossip is not None
    report = sweep(node.store, node.node_id, now=int(sim.now * 1000), retention=retention,
                   needed=node.gossip.needed_networks(), dry_run=dry_run)
    if not dry_run:
        node.gossip.forget(report.forgotten, sim.now)
    sim.publish(i, [])  # drive the node: what forgetting sent
    return report


def held(node: SimNode, network: str) -> int:
    return sum(1 for _ in node.store.events(network=network))


def star(n: int = 4, seed: int = 1) -> tuple[SimNetwork, str]:
    """Node 0 posts a forum with one reply; nodes 1..n-1 each link only to 0 and join."""
    sim = SimNetwork(seed, config=fast_config)
    sim.add_nodes(n)
    root = start_forum(sim)
    sim.post(0, "Re", "a reply", parent=root)
    for i in range(1, n):
        sim.connect(0, i)
        sim.join(i, root, 0)
    sim.run_until_quiet(1000)
    return sim, root


def leave(sim: SimNetwork, i: int, doc: str) -> None:
    """Node i unsubscribes and the machine drops the document (after gc_delay)."""
    sim.subscribe(i, doc, False)
    sim.run_until_quiet(sim.now + 1000)
    node = sim.nodes[i]
    assert node.gossip is not None and not node.gossip.holds(doc)


def test_an_unwanted_forum_is_forgotten_after_the_retention() -> None:
    sim, root = star()
    node = sim.nodes[3]
    reply = next(s.event.ref for s in node.store.events(network=root, kind=Kind.LINK))
    assert reply is not None and held(node, root) and held(node, reply)
    leave(sim, 3, root)
    first = collect(sim, 3)
    assert first.forgotten == [] and first.unwanted == 2  # the forum and its reply: retention starts
    sim.run_until(sim.now + RETENTION / 2)
    assert collect(sim, 3).forgotten == []
    sim.run_until(sim.now + RETENTION / 2)
    report = collect(sim, 3)
    assert report.forgotten == sorted([root, reply]) and report.documents == 2
    assert report.events == 3 and report.bytes_reclaimed > 0  # two documents and the link
    assert held(node, root) == held(node, reply) == 0
    assert node.store.verify() == []
    records = {r.network: r for r in node.store.forgotten()}
    assert set(records) == {root, reply} and records[root].unwanted_since == int(first_seen(first, sim))
    assert node.store.gc_marks() == {}
    assert collect(sim, 3).forgotten == []  # nothing left to forget
    for other in sim.nodes[:3]:  # the others keep it
        assert held(other, root) and held(other, reply)


def first_seen(first: GcReport, sim: SimNetwork) -> float:
    assert first.next_due is not None
    return first.next_due - RETENTION * 1000


def test_a_forgotten_document_is_refused_to_joiners_and_can_come_back() -> None:
    sim, root = star()
    leave(sim, 3, root)
    collect(sim, 3)
    sim.run_until(sim.now + RETENTION)
    assert root in collect(sim, 3).forgotten
    # A newcomer that reaches only the forgetting node is told it is not held there.
    newcomer = sim.add_node()
    sim.connect(3, newcomer.index)
    sim.join(newcomer.index, root, 3)
    sim.run_until_quiet(sim.now + 100)
    assert DocumentDropped(root, "join refused") in newcomer.app_events
    assert held(newcomer, root) == 0
    # The forgetting node joins again through a holder: everything comes back.
    sim.join(3, root, 0)
    sim.run_until_quiet(sim.now + 1000)
    assert scope_events(sim.nodes[3], root) == scope_events(sim.nodes[0], root)
    assert sim.nodes[3].store.verify() == []
    assert collect(sim, 3).forgotten == [] and sim.nodes[3].store.gc_marks() == {}
    # ... and, once it holds it again, serves the newcomer.
    sim.join(newcomer.index, root, 3)
    sim.run_until_quiet(sim.now + 1000)
    assert scope_events(newcomer, root) == scope_events(sim.nodes[0], root)


def test_forgotten_at_once_and_joined_again_at_once() -> None:
    """Retention 0: forgotten as soon as unwanted; joining again right away
    catches up in seconds (the holder takes the rejoiner's vector as new,
    although it equals the one it answered when the node first joined)."""
    sim, root = star(3)
    late = sim.add_node().index
    sim.connect(0, late)
    sim.join(late, root, 0)
    sim.run_until(sim.now + 3.0)
    assert scope_events(sim.nodes[late], root) == scope_events(sim.nodes[0], root)
    sim.subscribe(late, root, False)
    sim.run_until(sim.now + 1.0)  # within gc_delay: the machine still holds it, unwanted
    assert root in collect(sim, late, retention=0).forgotten
    assert held(sim.nodes[late], root) == 0
    sim.run_until(sim.now + 1.0)
    sim.join(late, root, 0)
    sim.run_until(sim.now + 5.0)
    assert scope_events(sim.nodes[late], root) == scope_events(sim.nodes[0], root)


def test_a_document_wanted_again_before_the_retention_ends_is_kept() -> None:
    sim, root = star()
    leave(sim, 3, root)
    assert collect(sim, 3).unwanted == 2
    sim.run_until(sim.now + RETENTION / 2)
    sim.subscribe(3, root)
    sim.run_until_quiet(sim.now + 1000)
    assert collect(sim, 3).unwanted == 0
    assert sim.nodes[3].store.gc_marks() == {}
    sim.run_until(sim.now + 2 * RETENTION)
    assert collect(sim, 3).forgotten == [] and held(sim.nodes[3], root)
    # Unwanted again: the retention starts over.
    leave(sim, 3, root)
    collect(sim, 3)
    sim.run_until(sim.now + RETENTION / 2)
    assert collect(sim, 3).forgotten == []
    sim.run_until(sim.now + RETENTION / 2)
    assert root in collect(sim, 3).forgotten


def test_a_dry_run_changes_nothing() -> None:
    sim, root = star()
    leave(sim, 3, root)
    collect(sim, 3)
    marks = sim.nodes[3].store.gc_marks()
    sim.run_until(sim.now + RETENTION)
    dry = collect(sim, 3, dry_run=True)
    assert dry.dry_run and root in dry.forgotten and dry.events == 3
    assert held(sim.nodes[3], root) and sim.nodes[3].store.gc_marks() == marks
    assert sim.nodes[3].store.forgotten() == []


def test_bookmarked_authored_and_ancestors_are_kept() -> None:
    sim, root = star(5)
    (reply,) = {s.event.ref for s in sim.nodes[0].store.events(network=root, kind=Kind.LINK)}
    assert reply is not None
    sim.bookmark(1, root)  # 1: bookmarked
    own, _ = sim.post(2, "Mine", "by node 2", parent=root)  # 2: wrote in the forum
    sim.subscribe(3, reply)  # 3: follows the reply, which lives below the forum
    sim.run_until_quiet(sim.now + 1000)
    for i in range(1, 5):
        sim.subscribe(i, root, False)
    sim.run_until_quiet(sim.now + 1000)
    for i in range(1, 5):
        collect(sim, i)
    sim.run_until(sim.now + 2 * RETENTION)
    reports = {i: collect(sim, i) for i in range(1, 5)}
    assert set(reports[1].forgotten) == {reply, own.id}  # the forum is bookmarked; its replies are not
    assert reports[2].forgotten == [reply] and held(sim.nodes[2], root) and held(sim.nodes[2], own.id)
    assert reports[3].forgotten == [own.id] and held(sim.nodes[3], root) and held(sim.nodes[3], reply)
    assert set(reports[4].forgotten) == {root, reply, own.id}
    for i in range(1, 5):
        assert sim.nodes[i].store.verify() == []


def test_a_relay_for_a_downstream_peer_keeps_it() -> None:
    """0 - 1 - 2 in a line (suggested peers are not dialled): 1 unsubscribes,
    but the others reach each other through it."""
    sim = SimNetwork(3, config=fast_config, auto_connect=False)
    sim.add_nodes(3)
    root = start_forum(sim)
    sim.connect(0, 1)
    sim.connect(1, 2)
    sim.join(1, root, 0)
    sim.run_until_quiet(1000)
    sim.join(2, root, 1)
    sim.run_until_quiet(sim.now + 1000)
    sim.subscribe(1, root, False)
    sim.run_until_quiet(sim.now + 1000)
    relay = sim.nodes[1].gossip
    assert relay is not None and relay.holds(root) and root in relay.needed_networks()
    collect(sim, 1)
    sim.run_until(sim.now + 2 * RETENTION)
    assert collect(sim, 1).forgotten == [] and held(sim.nodes[1], root)
    # Once the downstream peer leaves too, the relay lets it go.
    sim.subscribe(2, root, False)
    sim.run_until_quiet(sim.now + 1000)
    assert not relay.holds(root)
    collect(sim, 1)
    sim.run_until(sim.now + RETENTION)
    assert collect(sim, 1).forgotten == [root]
    assert collect(sim, 2).forgotten == []  # 2 just started its retention


def test_the_unwanted_mark_survives_a_restart() -> None:
    sim, root = star()
    leave(sim, 3, root)
    collect(sim, 3)
    sim.run_until(sim.now + RETENTION / 2)
    sim.crash(3)
    sim.restart(3)
    sim.run_until_quiet(sim.now + 1000)
    sim.run_until(sim.now + RETENTION / 2)
    assert root in collect(sim, 3).forgotten  # counted from before the restart
