"""Abuse in the simulator with the running node's policy (node/governance.py) over
real SQLite logs: a flood from fresh keys is held back without losing anyone's
post, and a switch to members-only contains it (bench/abuse.py at full size)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from nacl.signing import SigningKey

from cliqueclique.eventlog import BatchSigner, Event, Kind, MemoryStore, ModAction, SQLiteStore
from cliqueclique.gossip.outputs import AppEvent, EventAccepted, PeerMisbehaved
from cliqueclique.gossip.sim import SimNetwork, SimNode
from cliqueclique.node.governance import FloodConfig, Governance
from cliqueclique.views import open_views
from cliqueclique.views.moderation import moderate

from .helpers import fast_config, join_all, random_topology, start_forum

N = 8  # nodes 0..6 honest (0 the owner, 1 a moderator), 7 the attacker
ATTACKER = N - 1


class Forum:
    def __init__(self, tmp_path: Path, seed: int, flood: FloodConfig) -> None:
        def store(index: int, signatures: object) -> object:
            if index == ATTACKER:
                return MemoryStore(signature_cache=signatures)  # type: ignore[arg-type]
            return open_views(SQLiteStore(tmp_path / f"{index}.sqlite", signature_cache=signatures))  # type: ignore[arg-type]

        def policy(node: SimNode) -> Governance | None:
            if node.index == ATTACKER:
                return None
            return Governance(node.store, node.node_id, flood, wall_clock=lambda: self.sim.now)  # type: ignore[arg-type]

        self.sim = sim = SimNetwork(seed, config=fast_config, store_factory=store,  # type: ignore[arg-type]
                                    policy_factory=policy, group_commit=True)
        random_topology(sim, N, random.Random(seed))
        self.root = start_forum(sim)
        self.moderate(0, ModAction.APPOINT, sim.nodes[1].node_id)
        join_all(sim, self.root, list(range(N)))
        sim.run_until_quiet(sim.now + 1000)
        self.spam_keys: set[str] = set()
        self.stored: Counter[tuple[int, str]] = Counter()  # (honest node, spam key) -> spam posts stored
        self.arrivals: list[tuple[int, float, Event]] = []  # spam events stored: (node, when, event)
        self.policy_at: dict[int, float] = {}  # node -> when the members switch reached it
        self.blamed: list[PeerMisbehaved] = []
        self.sent = 0
        sim.listeners.append(self._observe)

    def moderate(self, i: int, action: ModAction, target: str) -> None:
        node = self.sim.nodes[i]
        self.sim.publish(i, [moderate(node.author, node.store, self.root, action, target)])  # type: ignore[arg-type]

    def _observe(self, node: SimNode, event: AppEvent, now: float) -> None:
        if isinstance(event, PeerMisbehaved):
            self.blamed.append(event)
        if not isinstance(event, EventAccepted) or node.index == ATTACKER:
            return
        ev = event.event
        if ev.author in self.spam_keys:
            self.arrivals.append((node.index, now, ev))
            if ev.kind is Kind.LINK:
                self.stored[(node.index, ev.author)] += 1
        elif ev.kind is Kind.MODERATION and ev.content()["target"] == "members":
            self.policy_at.setdefault(node.index, now)

    def spammers(self, n: int) -> list[BatchSigner]:
        signers = [BatchSigner(SigningKey(bytes([k + 1]) * 32), None, lambda: int(self.sim.now * 1000))
                   for k in range(n)]
        self.spam_keys |= {s.id for s in signers}
        return signers

    def spam(self, signer: BatchSigner, count: int) -> None:
        """The attacker relays `count` replies by one of its keys."""
        events = []
        for _ in range(count):
            self.sent += 1
            doc = signer.document("spam", f"buy now, offer {self.sent}")
            events += [doc, signer.link(self.root, doc.id)]
        self.sim.nodes[ATTACKER].store.append_many(events)
        self.sim.publish(ATTACKER, events)

    def honest_post(self, i: int, text: str) -> list[str]:
        doc, link = self.sim.post(i, "honest", text, parent=self.root)
        assert link is not None
        return [doc.id, link.id]

    def holding(self, ids: list[str]) -> float:
        """Fraction of (event, honest node) pairs held."""
        honest = self.sim.nodes[:ATTACKER]
        return sum(len(n.store.present(ids)) for n in honest) / (len(ids) * len(honest))


def test_a_flood_is_held_back_and_no_honest_post_is_lost(tmp_path: Path) -> None:
    forum = Forum(tmp_path, 11, FloodConfig(per_minute=30.0, burst=3.0))
    sim = forum.sim
    start = sim.now
    spammers = forum.spammers(2)
    for signer in spammers:
        forum.spam(signer, 12)
    honest = [eid for i in range(2, ATTACKER) for eid in forum.honest_post(i, f"honest {i}")]
    sim.run_until(start + 4)
    # The burst, and what refilled in 4 s (30 a minute), on any honest node.
    assert max(forum.stored.values()) <= 3 + 2
    assert sum(n.gossip.admission_report()["held_now"] for n in sim.nodes[:ATTACKER]) > 0  # type: ignore[union-attr,misc]
    assert forum.holding(honest) == 1.0  # not held behind the flood
    sim.run_until_quiet(start + 2000)
    assert forum.holding(honest) == 1.0
    for i in range(ATTACKER):  # held back, not lost: the budget refilled and they came in
        assert all(forum.stored[(i, s.id)] == 12 for s in spammers)
    assert forum.blamed == []


def test_a_switch_to_members_contains_a_flood(tmp_path: Path) -> None:
    forum = Forum(tmp_path, 12, FloodConfig())
    sim = forum.sim
    for i in range(2, ATTACKER):
        forum.moderate(1, ModAction.APPROVE, sim.nodes[i].node_id)
    sim.run_until_quiet(sim.now + 1000)
    start = sim.now
    spammers = forum.spammers(4)
    for k in range(80):  # ten replies a second for eight seconds, key after key
        sim.at(start + k / 10, lambda k=k: forum.spam(spammers[k // 20], 1))
    switch = start + 3.0
    def members() -> None:
        forum.moderate(1, ModAction.POLICY, "members")
        forum.policy_at[1] = sim.now
    sim.at(switch, members)
    honest: list[str] = []
    for k, i in enumerate([2, 3, 4, 5, 6, 2, 3]):
        sim.at(start + k, lambda i=i: honest.extend(forum.honest_post(i, f"member {i}")))
    sim.run_until_quiet(start + 2000)
    assert forum.arrivals and min(t for _, t, _ in forum.arrivals) < switch  # the flood got in at first
    assert set(forum.policy_at) == set(range(ATTACKER))
    late = [(i, t) for i, t, _ in forum.arrivals if t > forum.policy_at.get(i, switch)]
    assert late == []  # nothing after the switch reached a node
    assert max(t for _, t, _ in forum.arrivals) - switch <= 5.0
    assert len({ev.id for _, _, ev in forum.arrivals}) < 160  # most of the flood never got in
    assert forum.holding(honest) == 1.0
    assert forum.blamed == []
