"""Abuse benchmark: one attacker with fresh keys against a moderated forum, in the simulator.

    python bench/abuse.py                     # the three scenarios at full size
    python bench/abuse.py --quick             # a small version (seconds)
    python bench/abuse.py --only pow,open_bans

Prints one JSON object per scenario. The forum: `--nodes` honest nodes (node
0 the owner, node 1 its one moderator, the others members) on a random
connected graph (a spanning tree plus n/2 chords, latencies 10-100 ms, every
link `--bandwidth` bytes a second each way, frames queueing behind each
other), each running the real gossip machine over a real SQLite log with its
views (on /dev/shm, `synchronous=OFF`: durability is not what is measured)
and the running node's policy (node/governance.py: bans, members, pow and the
default flood budget, 60 new posts a minute with bursts of 100 per author and
forum), its wall clock the virtual clock. The nodes join one after another,
each through a neighbour that holds the forum (`--flash-crowd`: all at
once; then an honest node with ten links for a moment sends a neighbour
nine suggestions, and is blamed for it). The attacker is one more node,
linked to `--attacker-links` random members, holding `--spam-keys` fresh keys
that sign `--spam-posts` replies to the forum's root, key after key (each
key's posts in a row: the order that gets most past a ban), handed to its
machine as fast as its links take them (the next batch when its busiest link
has drained). Meanwhile random members post `--honest-posts` replies, spread
over the attack. Events are real signed events throughout.

Scenarios (`seconds_to_contain` is virtual time from the containing action
until no honest node stores another spam event; a spam event counts
`after_containment` if an honest node stored it after that action had
reached it):

- `open_bans`: policy `open`; the moderator bans each spamming key (a real
  moderation event) as soon as it stores that key's first post; the
  containing action is each ban (times per key: max and mean over keys);
- `switch_members`: the moderator approves the members at setup and switches
  the forum to `members` `--switch-after` seconds into the attack;
- `pow`: the forum is `pow:BITS` from the start (16 by default). Every post
  by a stranger must carry the work, honest members' included (they are not
  approved), so the attacker mines each post for real on one core, its
  virtual clock advancing by the CPU seconds mining took, for `--pow-seconds`
  of attack: it gets out as many posts as its CPU allows, far fewer than
  10,000 (`attacker_cpu_seconds_for_all` projects the full attack). A post
  without the work is refused at the first honest hop, so sending unproven
  spam would get nothing stored; `spam_stored_after_containment` counts
  stored spam without the work (the policy is the containing action, in
  force from the start) and `seconds_to_contain` is null: the mined posts
  are admitted by design, at the rate the attacker can pay for.

Counters: `spam_stored_per_honest_node` (spam events: a reply is a document
and its link), `spam_forwarded_per_honest_node` (spam payload transmissions
an honest node made; a reply's document travels with its link and counts
once with it), `honest_reliability` (fraction of (honest reply, honest node)
pairs where the node holds the reply, once the run is quiet),
`honest_peers_banned` (honest nodes that blamed an honest neighbour:
`PeerMisbehaved`, setup included; `..._during_attack` from the attack on;
`honest_blamed_for` says why), `max_spam_posts_stored_per_key` (on any honest node; the
flood target is this at most the burst), `honest_delay_s` (from an honest
reply's posting to its last delivery), `honest_node_cpu_seconds` (mean CPU
an honest machine spent on frames and timers during the attack) and
`runtime_seconds` (wall clock, the whole scenario).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nacl.signing import SigningKey  # noqa: E402

from cliqueclique.eventlog import BatchSigner, Event, Kind, MemoryStore, ModAction, SQLiteStore  # noqa: E402
from cliqueclique.eventlog.work import has_work  # noqa: E402
from cliqueclique.gossip.outputs import AppEvent, EventAccepted, PeerMisbehaved  # noqa: E402
from cliqueclique.gossip.sim import SimNetwork, SimNode  # noqa: E402
from cliqueclique.node.governance import FloodConfig, Governance  # noqa: E402
from cliqueclique.views import open_views  # noqa: E402
from cliqueclique.views.moderation import moderate  # noqa: E402

SCENARIOS = ("open_bans", "switch_members", "pow")
OWNER, MODERATOR = 0, 1
TICK = 0.05  # the attacker looks at its links this often


class Run:
    """One scenario: the forum, the attacker, and what the listeners saw."""

    def __init__(self, scenario: str, args: argparse.Namespace, work: Path) -> None:
        self.scenario, self.args = scenario, args
        self.rng = random.Random(args.seed)
        n = self.n = args.nodes
        self.attacker = n  # the last node
        self.flood = FloodConfig()
        self.bits = args.pow_bits if scenario == "pow" else 0
        self.sim = sim = SimNetwork(args.seed, keep_app_events=False, default_bandwidth=args.bandwidth,
                                    store_factory=self._store(work), policy_factory=self._policy,
                                    measure_cpu=True, group_commit=True)
        sim.add_nodes(n + 1)
        order = list(range(n))
        self.rng.shuffle(order)
        for k in range(1, n):
            sim.connect(order[k], order[self.rng.randrange(k)], latency=self.rng.uniform(0.01, 0.1))
        for _ in range(n // 2):
            a, b = self.rng.randrange(n), self.rng.randrange(n)
            if a != b:
                sim.connect(a, b, latency=self.rng.uniform(0.01, 0.1))
        self.attacker_peers = self.rng.sample(range(2, n), min(args.attacker_links, n - 2))
        for peer in self.attacker_peers:
            sim.connect(self.attacker, peer, latency=self.rng.uniform(0.01, 0.1))
        self.keys = [SigningKey(self.rng.randbytes(32)) for _ in range(args.spam_keys)]
        clock = self._ms
        self.signers = [BatchSigner(k, None, clock) for k in self.keys]
        self.spam_keys = {s.id for s in self.signers}
        self.honest_ids = {node.node_id: node.index for node in sim.nodes[:n]}
        # --- what the listeners record
        self.stored: Counter[int] = Counter()  # honest node -> spam events stored
        self.per_key: Counter[tuple[int, str]] = Counter()  # (node, key) -> spam posts (links) stored
        self.after: Counter[int] = Counter()  # node -> spam events stored after containment reached it
        self.last_spam: dict[str, float] = {}  # key -> last time an honest node stored its spam
        self.reached: dict[tuple[int, str], float] = {}  # (node, key or "") -> containment arrived
        self.acted: dict[str, float] = {}  # key or "" -> when the containing action was taken
        self.blamed: set[tuple[int, str]] = set()  # (honest node, peer it blamed)
        self.blames: Counter[str] = Counter()  # why honest peers were blamed
        self.blamed_in_attack: set[int] = set()  # honest nodes that blamed an honest peer once it began
        self.honest_posts: dict[str, float] = {}  # link id -> when posted
        self.honest_docs: list[str] = []
        self.delivered: dict[str, float] = {}  # honest link id -> last delivery
        self.spam_ids: set[str] = set()
        self.signed = 0  # spam replies signed
        self.spam_sent = 0  # ... and handed to the attacker's machine
        self.attacker_cpu = 0.0
        self.honest_cpu: list[float] = []
        self.end_of_attack = 0.0
        sim.listeners.append(self._observe)

    # ------------------------------------------------------------ building

    def _store(self, work: Path) -> Any:
        def make(index: int, signatures: Any) -> Any:
            if index == self.attacker:
                return MemoryStore(signature_cache=signatures)
            store = open_views(SQLiteStore(work / f"{self.scenario}-{index}.sqlite", signature_cache=signatures))
            store.db.conn.execute("PRAGMA synchronous=OFF")
            return store
        return make

    def _policy(self, node: SimNode) -> Governance | None:
        if node.index == self.attacker:
            return None  # the attacker relays everything
        return Governance(node.store, node.node_id, self.flood, wall_clock=lambda: self.sim.now)  # type: ignore[arg-type]

    def _ms(self) -> int:
        return int(self.sim.now * 1000)

    def _moderate(self, i: int, action: ModAction, target: str, reason: str | None = None) -> Event:
        node = self.sim.nodes[i]
        ev = moderate(node.author, node.store, self.root, action, target, reason)  # type: ignore[arg-type]
        self.sim.publish(i, [ev])
        return ev

    def setup(self) -> None:
        sim = self.sim
        root = sim.nodes[OWNER].author.document("forum", "a moderated forum")
        self.root = root.id
        sim.subscribe(OWNER, root.id)
        self._moderate(OWNER, ModAction.APPOINT, sim.nodes[MODERATOR].node_id)
        if self.scenario == "pow":
            self._moderate(OWNER, ModAction.POLICY, f"pow:{self.bits}")
        if self.args.flash_crowd:  # everyone holds the root and subscribes at once
            for node in sim.nodes[1:]:
                node.store.append(root.wire)
                sim.subscribe(node.index, root.id)
        else:  # one after another, each through an invite from a neighbour that holds the forum
            order, seen = [OWNER], {OWNER}
            for i in order:  # breadth first: each node has a neighbour holding the forum
                for j in sorted(sim.neighbours(i)):
                    if j not in seen:
                        seen.add(j)
                        order.append(j)
            for i in order[1:]:
                sim.join(i, root.id, next(j for j in sim.neighbours(i) if j in seen and order.index(j) < order.index(i)))
                sim.run_until(sim.now + 1.0)
        sim.run_until(sim.now + 5)
        if self.scenario == "switch_members":
            for i in range(2, self.n):
                self._moderate(MODERATOR, ModAction.APPROVE, sim.nodes[i].node_id)
        sim.run_until_quiet(sim.now + 120)
        for node in sim.nodes[: self.n]:  # every honest node honours the moderator now
            assert sim.nodes[MODERATOR].node_id in node.gossip.policy.state(self.root).moderators  # type: ignore[union-attr]

    # ------------------------------------------------------------ the attack

    def attack(self) -> None:
        sim, args = self.sim, self.args
        self.start = start = sim.now + 1.0
        window = args.pow_seconds if self.scenario == "pow" else args.honest_window
        for k in range(args.honest_posts):
            sim.at(start + self.rng.uniform(0, window), self._honest(self.rng.randrange(2, self.n), k))
        if self.scenario == "pow":
            sim.at(start, self._mine)
        else:
            sim.at(start, self._flood)
        if self.scenario == "switch_members":
            sim.at(start + args.switch_after, self._switch)
        for node in sim.nodes:
            node.cpu_seconds = 0.0

    def _honest(self, i: int, k: int) -> Any:
        def post() -> None:
            cpu = time.process_time()
            doc, link = self.sim.post(i, f"honest {k}", f"an honest reply, number {k}", parent=self.root,
                                      work=self.bits)
            self.honest_cpu.append(time.process_time() - cpu)
            assert link is not None
            self.honest_posts[link.id] = self.sim.now
            self.honest_docs.append(doc.id)
        return post

    def _spam(self, j: int) -> list[Event]:
        """The attacker's j-th reply, signed now (mined if the forum asks for work)."""
        per_key = math.ceil(self.args.spam_posts / len(self.signers))
        signer = self.signers[j % len(self.signers)] if self.bits else self.signers[j // per_key]
        doc = signer.document(f"spam {j}", f"buy now! offer number {j}", work=self.bits)
        return [doc, signer.link(self.root, doc.id)]

    def _send(self, events: list[Event]) -> None:
        store = self.sim.nodes[self.attacker].store
        store.append_many(events)
        self.spam_ids.update(ev.id for ev in events)
        self.spam_sent += len(events) // 2
        self.sim.publish(self.attacker, events)
        self.end_of_attack = self.sim.now

    def _flood(self) -> None:
        """Hand the machine the next batch once the attacker's busiest link has drained."""
        sim = self.sim
        if self.signed >= self.args.spam_posts:
            return
        busy = max((sim.links[(min(self.attacker, p), max(self.attacker, p))].busy.get(self.attacker, 0.0)
                    for p in self.attacker_peers), default=0.0)
        if busy <= sim.now + TICK:
            batch = min(self.args.batch, self.args.spam_posts - self.signed)
            events = [ev for j in range(self.signed, self.signed + batch) for ev in self._spam(j)]
            self.signed += batch
            self._send(events)
        sim.at(sim.now + TICK, self._flood)

    def _mine(self) -> None:
        """One mined reply; the attacker's clock moves on by the CPU it took."""
        sim = self.sim
        if self.signed >= self.args.spam_posts or sim.now >= self.start + self.args.pow_seconds:
            return
        cpu = time.process_time()
        events = self._spam(self.signed)
        spent = time.process_time() - cpu
        self.attacker_cpu += spent
        self.signed += 1
        sim.at(sim.now + spent, lambda: self._send(events))
        sim.at(sim.now + spent, self._mine)

    def _switch(self) -> None:
        self._moderate(MODERATOR, ModAction.POLICY, "members", "spam")
        self.acted[""] = self.sim.now
        self.reached[(MODERATOR, "")] = self.sim.now

    def _ban(self, key: str) -> Any:
        def ban() -> None:
            self._moderate(MODERATOR, ModAction.BAN, key, "spam")
            self.acted[key] = self.sim.now
            self.reached[(MODERATOR, key)] = self.sim.now
        return ban

    # ------------------------------------------------------------ watching

    def _observe(self, node: SimNode, event: AppEvent, now: float) -> None:
        i = node.index
        if i == self.attacker:
            return
        if type(event) is EventAccepted:
            ev = event.event
            author = ev.author
            if author in self.spam_keys:
                self._spam_stored(i, ev, now)
            elif ev.kind is Kind.MODERATION:
                body = ev.content()
                if body["action"] == "ban" and body["target"] in self.spam_keys:
                    self.reached.setdefault((i, body["target"]), now)
                elif body["action"] == "policy" and body["target"] == "members":
                    self.reached.setdefault((i, ""), now)
            elif ev.kind is Kind.LINK and ev.id in self.honest_posts:
                self.delivered[ev.id] = now
        elif type(event) is PeerMisbehaved:
            self.blamed.add((i, event.peer))
            if event.peer in self.honest_ids:
                self.blames[event.reason[:80]] += 1
                if hasattr(self, "start"):
                    self.blamed_in_attack.add(i)

    def _spam_stored(self, i: int, ev: Event, now: float) -> None:
        key = ev.author
        self.stored[i] += 1
        self.last_spam[key] = now
        if ev.kind is Kind.LINK:
            self.per_key[(i, key)] += 1
        if self.scenario == "pow":
            if not has_work((ev.id if ev.kind is Kind.DOCUMENT else ev.ref) or "", self.bits):
                self.after[i] += 1
            return
        reached = self.reached.get((i, key if self.scenario == "open_bans" else ""))
        if reached is not None and now > reached:
            self.after[i] += 1
        if self.scenario == "open_bans" and i == MODERATOR and key not in self.acted:
            self.acted[key] = math.inf  # decided: the ban is written at once, as its own action
            self.sim.at(now, self._ban(key))

    # ------------------------------------------------------------ the outcome

    def result(self, runtime: float) -> dict[str, Any]:
        sim, n = self.sim, self.n
        honest = sim.nodes[:n]
        stored = [self.stored[i] for i in range(n)]
        forwarded = [sum(c for eid, c in node.gossip.stats.payload_sent.items() if eid in self.spam_ids)  # type: ignore[union-attr]
                     for node in honest]
        wanted = set(self.honest_posts) | set(self.honest_docs)
        held = sum(len(node.store.present(wanted)) for node in honest)
        reliability = held / (len(wanted) * n) if wanted else 1.0
        if self.scenario == "open_bans":
            spans = [max(0.0, self.last_spam.get(k, t) - t) for k, t in self.acted.items()]
            contain: Any = {"max": round(max(spans, default=0.0), 3),
                            "mean": round(sum(spans) / len(spans), 3) if spans else 0.0}
        elif self.scenario == "switch_members":
            t = self.acted.get("", math.inf)
            contain = round(max([0.0] + [s - t for s in self.last_spam.values() if s > t]), 3)
        else:
            contain = None
        delays = [self.delivered.get(link, math.inf) - t for link, t in self.honest_posts.items()]
        out: dict[str, Any] = {
            "scenario": self.scenario, "nodes": n, "spam_keys": len(self.signers),
            "spam_posts": self.spam_sent, "honest_posts": len(self.honest_posts),
            "spam_stored_per_honest_node": {"mean": round(sum(stored) / n, 1), "max": max(stored)},
            "spam_forwarded_per_honest_node": {"mean": round(sum(forwarded) / n, 1), "max": max(forwarded)},
            "spam_stored_after_containment": sum(self.after.values()),
            "seconds_to_contain": contain,
            "honest_reliability": round(reliability, 4),
            "honest_peers_banned": len({i for i, p in self.blamed if p in self.honest_ids}),
            "honest_peers_banned_during_attack": len(self.blamed_in_attack),
            "honest_blamed_for": dict(self.blames),
            "attacker_blamed_by": len({i for i, p in self.blamed if p not in self.honest_ids}),
            "max_spam_posts_stored_per_key": max(self.per_key.values(), default=0),
            "flood_burst": self.flood.burst,
            "honest_delay_s": {"mean": round(sum(delays) / len(delays), 3) if delays else 0.0,
                               "max": round(max(delays, default=0.0), 3)},
            "attack_seconds": round(self.end_of_attack - self.start, 2),
            "honest_node_cpu_seconds": round(sum(x.cpu_seconds for x in honest) / n, 3),
            "held_back": sum(x.gossip.admission_report()["held_back"] for x in honest),  # type: ignore[union-attr,misc]
            "refused": dict(sum((Counter(x.gossip.admission_report()["refused"]) for x in honest),  # type: ignore[union-attr,arg-type]
                                Counter())),
            "virtual_seconds": round(sim.now - self.start, 1),
            "runtime_seconds": round(runtime, 1),
        }
        if self.scenario == "open_bans":
            out["bans"] = len(self.acted)
        if self.scenario == "pow":
            per_post = self.attacker_cpu / max(1, self.spam_sent)
            out.update(pow_bits=self.bits,
                       attacker_cpu_seconds_per_post=round(per_post, 4),
                       attacker_cpu_seconds_for_all=round(per_post * self.args.spam_posts, 1),
                       honest_cpu_seconds_per_post=round(sum(self.honest_cpu) / max(1, len(self.honest_cpu)), 4))
        return out


def run(scenario: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    started = time.perf_counter()
    r = Run(scenario, args, work)
    r.setup()
    r.attack()
    sim = r.sim
    sim.run_until_quiet(r.start + args.limit)
    result = r.result(time.perf_counter() - started)
    for node in sim.nodes:
        close = getattr(node.store, "close", None)
        if close is not None:
            close()
    return result


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated scenarios: " + ",".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="a small version: 12 nodes, 10 keys, 600 spam posts, pow:12, the switch after 1 s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=50, help="honest nodes (owner, moderator, members)")
    parser.add_argument("--honest-posts", type=int, default=200)
    parser.add_argument("--honest-window", type=float, default=40.0, help="seconds the honest posts spread over")
    parser.add_argument("--spam-keys", type=int, default=100)
    parser.add_argument("--spam-posts", type=int, default=10_000)
    parser.add_argument("--attacker-links", type=int, default=4)
    parser.add_argument("--bandwidth", type=float, default=250_000.0, help="bytes a second, each link and way")
    parser.add_argument("--batch", type=int, default=10, help="spam replies handed to the machine at once")
    parser.add_argument("--switch-after", type=float, default=10.0)
    parser.add_argument("--pow-bits", type=int, default=16)
    parser.add_argument("--pow-seconds", type=float, default=60.0, help="attacker CPU seconds of mining")
    parser.add_argument("--limit", type=float, default=900.0, help="virtual seconds the run may take")
    parser.add_argument("--flash-crowd", action="store_true",
                        help="every node holds the root and subscribes at t=0, instead of joining one by one")
    parser.add_argument("--dir", type=Path, help="where the logs go (default: a temporary one in /dev/shm)")
    args = parser.parse_args(argv)
    if args.quick:
        args.nodes, args.honest_posts, args.spam_keys, args.spam_posts = 12, 40, 10, 600
        args.honest_window, args.pow_bits, args.pow_seconds, args.switch_after = 20.0, 12, 10.0, 1.0
    args.only = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    shm = Path("/dev/shm")
    work = Path(tempfile.mkdtemp(prefix="abuse-", dir=args.dir or (shm if shm.is_dir() else None)))
    try:
        for scenario in args.only:
            print(json.dumps(run(scenario, args, work)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
