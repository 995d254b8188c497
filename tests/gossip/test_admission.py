"""The policy's refusals and holds in replication (admission.py), in the simulator."""

from __future__ import annotations

from cliqueclique.eventlog import Event, Kind
from cliqueclique.gossip.outputs import PeerMisbehaved, Policy, Refusal
from cliqueclique.gossip.sim import SimNetwork, SimNode

from .helpers import settled_forum


class Refuses(Policy):
    """Refuses the posts of `authors`; `lift()` stops, as an unban would."""

    def __init__(self, authors: set[str]) -> None:
        self.authors = set(authors)
        self.changed = False

    def admit(self, ev: Event, doc: str, now: float) -> Refusal | None:
        return Refusal("banned") if ev.author in self.authors else None

    def lift(self) -> None:
        self.authors.clear()
        self.changed = True

    def learned(self, ev: Event) -> bool:
        changed, self.changed = self.changed, False
        return changed


class Floods(Policy):
    """A flood budget per author: `burst` posts, then one every `every` seconds."""

    def __init__(self, burst: int, every: float) -> None:
        self.burst, self.every = burst, every
        self.spent: dict[str, list[float]] = {}

    def admit(self, ev: Event, doc: str, now: float) -> Refusal | None:
        if ev.kind is not Kind.LINK:
            return None
        times = self.spent.setdefault(ev.author, [])
        times[:] = [t for t in times if t + self.every * self.burst > now]
        if len(times) >= self.burst:
            return Refusal("flood", times[0] + self.every * self.burst)
        times.append(now)
        return None


def refuse_everywhere(sim: SimNetwork, spammer: SimNode) -> dict[int, Refuses]:
    """Every other node refuses `spammer`'s events; their policies, by node index."""
    policies = {}
    for node in sim.nodes:
        if node is not spammer:
            policies[node.index] = Refuses({spammer.node_id})
            node.gossip.set_policy(policies[node.index], sim.now)  # type: ignore[union-attr]
    return policies


def links_by(node, author: str, root: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.event.id for s in node.store.events(network=root, kind=Kind.LINK) if s.event.author == author]


def blamed(sim: SimNetwork) -> list[PeerMisbehaved]:
    return [e for node in sim.nodes for e in node.app_events if isinstance(e, PeerMisbehaved)]


def test_a_refused_author_is_neither_stored_nor_forwarded_and_nobody_is_blamed() -> None:
    sim, root = settled_forum(3, 8)
    spammer = sim.nodes[5]
    policies = refuse_everywhere(sim, spammer)
    for i in range(6):  # a chain of posts: every later one depends on the refused first
        sim.post(5, f"spam {i}", "x", parent=root)
    good, _ = sim.post(2, "honest", "x", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    for node in sim.nodes:
        assert node.store.get(good.id) is not None
        if node is not spammer:
            assert links_by(node, spammer.node_id, root) == []
            report = node.gossip.admission_report()  # type: ignore[union-attr]
            assert report["held_now"] == 0
    assert sum(n.gossip.admission_report()["refused"].get("banned", 0)  # type: ignore[union-attr]
               for n in sim.nodes if n is not spammer) > 0
    assert blamed(sim) == []
    # The ban is lifted: the refused chain is asked for again and arrives whole.
    for policy in policies.values():
        policy.lift()
    sim.post(0, "after", "x", parent=root)  # each node learns of the change as it stores this
    sim.run_until_quiet(sim.now + 2000)
    for node in sim.nodes:
        assert len(links_by(node, spammer.node_id, root)) == 6
    assert blamed(sim) == []


def test_a_lifted_refusal_is_fetched_again_at_once_not_after_the_resend_window() -> None:
    """The peer has just answered our whole-scope vector (the refused posts in
    it); asking with the same vector again it would ignore for
    `vector_resend_after` (30 s). The refused networks are asked for alone."""
    sim, root = settled_forum(9, 6)
    spammer = sim.nodes[4]
    policies = refuse_everywhere(sim, spammer)
    for i in range(3):
        sim.post(4, f"spam {i}", "x", parent=root)
    sim.run_until_quiet(sim.now + 1000)
    for index, policy in policies.items():  # as `mod ignore` does: nothing new in the forum itself
        policy.lift()
        sim.nodes[index].gossip.set_policy(policy, sim.now)  # type: ignore[union-attr]
        sim._pump(sim.nodes[index])  # send what that input queued, as a driver does after any input
    window = sim.nodes[0].gossip.config.vector_resend_after  # type: ignore[union-attr]
    sim.run_until(sim.now + window / 3)
    for node in sim.nodes:
        assert len(links_by(node, spammer.node_id, root)) == 3, node.index


def test_a_flood_is_held_back_and_stored_once_the_budget_refills() -> None:
    sim, root = settled_forum(4, 7)
    flooder = sim.nodes[3]
    for node in sim.nodes:
        node.gossip.set_policy(Floods(burst=5, every=10.0), sim.now)  # type: ignore[union-attr]
    start = sim.now
    posts = [sim.post(3, f"flood {i}", "x", parent=root)[0].id for i in range(20)]
    honest = [sim.post(i, f"honest {i}", "x", parent=root)[0].id for i in (0, 1, 6)]
    sim.run_until(start + 20)
    far = [n for n in sim.nodes if n is not flooder]
    early = max(len(links_by(n, flooder.node_id, root)) for n in far)
    assert early <= 5 + 2  # the burst, and what refilled in 20 s
    assert any(n.gossip.admission_report()["held_now"] > 0 for n in far)  # type: ignore[union-attr]
    for node in sim.nodes:  # the honest posts were not held behind the flood
        assert all(node.store.get(h) is not None for h in honest)
    sim.run_until_quiet(start + 3000)
    for node in sim.nodes:
        assert all(node.store.get(p) is not None for p in posts)  # held back, not lost
        assert node.gossip.admission_report()["held_now"] == 0  # type: ignore[union-attr]
    assert blamed(sim) == []
