"""Gossip benchmark: replay forum workloads in the deterministic simulator.

    python bench/gossip.py                      # the standard scenarios
    python bench/gossip.py --nodes 100          # only the scenarios of that size
    python bench/gossip.py --workload FILE      # replay an exact workload
    python bench/gossip.py --dump DIR           # also write each generated workload

Prints one JSON object per scenario. A workload is::

    {"params": {...}, "node_ids": [...], "edges": [[a, b, latency_ms], ...],
     "appends": [{"t_ms": T, "node": i, "text": "..."}, ...],
     "crash": {"t_ms": T, "nodes": [i, ...]} or null}

Node i is ``node_ids[i]`` (the simulator derives its own keys; the labels are
kept for reference). Every edge is a symmetric link with that one-way latency
from t=0. Node ``params.root_node`` (default 0) creates the forum root at
t=0 and every node holds it and subscribes before the first append. Each
append is a reply to the root posted at node i at ``T + params.warmup_ms``
(default 10 s of warm-up). Crashed nodes stop for good at ``T + warmup``.

Metrics (a reply's document travels with its link: one payload):
- ``rmr``: payload transmissions / deliveries - 1 per reply, averaged;
- ``ldh``: the most hops any delivery took;
- ``reliability``: fraction of live nodes holding every reply;
- ``deliveries``: first receipts of a reply by a node other than its author;
- ``messages_per_event``, ``bytes_per_delivery``, ``control_messages_per_delivery``:
  frames and bytes sent from the first append on (frames without an event
  payload are control messages);
- ``virtual_seconds_to_converge``: from the last append until every live node
  holds every reply.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cliqueclique.gossip.outputs import AppEvent, EventAccepted  # noqa: E402
from cliqueclique.gossip.sim import SimNetwork, SimNode  # noqa: E402

SIZES = (30, 100, 300, 1000)
FAILURES = (0.0, 0.2)


def _connected(n: int, edges: set[tuple[int, int]], removed: set[int]) -> bool:
    adj: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        if a not in removed and b not in removed:
            adj[a].append(b)
            adj[b].append(a)
    alive = [i for i in range(n) if i not in removed]
    seen = {alive[0]}
    stack = [alive[0]]
    while stack:
        for j in adj[stack.pop()]:
            if j not in seen:
                seen.add(j)
                stack.append(j)
    return len(seen) == len(alive)


def make_workload(n: int, failed: float, seed: int, authors: int = 10, posts: int = 100,
                  degree: float = 5.0, max_degree: int = 8) -> dict[str, Any]:
    """A random connected graph of average degree ~5 and a posting schedule."""
    rng = random.Random(seed)
    edges: set[tuple[int, int]] = set()
    deg = [0] * n
    order = list(range(n))
    rng.shuffle(order)
    for k in range(1, n):  # a random spanning tree first: connected by construction
        a, b = order[k], order[rng.randrange(k)]
        if deg[b] >= max_degree - 1:
            b = min(order[:k], key=lambda x: deg[x])
        edges.add((min(a, b), max(a, b)))
        deg[a] += 1
        deg[b] += 1
    target = int(n * degree / 2)
    while len(edges) < target:
        a, b = rng.randrange(n), rng.randrange(n)
        key = (min(a, b), max(a, b))
        if a == b or key in edges or deg[a] >= max_degree or deg[b] >= max_degree:
            continue
        edges.add(key)
        deg[a] += 1
        deg[b] += 1
    writers = rng.sample(range(n), authors)
    appends = []
    for w, node in enumerate(writers):
        for k in range(posts):
            t = int((k + rng.random()) * 1000)
            appends.append({"t_ms": t, "node": node, "text": f"comment {k} by author {w}"})
    appends.sort(key=lambda a: (a["t_ms"], a["node"]))
    crash = None
    if failed:
        count = int(round(n * failed))
        removed: set[int] = set()
        candidates = [i for i in range(n) if i not in writers and i != 0]
        rng.shuffle(candidates)
        for c in candidates:
            if len(removed) >= count:
                break
            if _connected(n, edges, removed | {c}):
                removed.add(c)
        crash = {"t_ms": posts * 1000 // 2, "nodes": sorted(removed)}
    return {
        "params": {"seed": seed, "warmup_ms": 10_000, "root_node": 0, "failed_fraction": failed},
        "node_ids": [f"n{i}" for i in range(n)],
        "edges": [[a, b, rng.randint(10, 100)] for a, b in sorted(edges)],
        "appends": appends,
        "crash": crash,
    }


class Meter:
    """Counts first receipts of replies as the simulator reports them."""

    def __init__(self) -> None:
        self.replies: dict[str, int] = {}  # link id -> author index
        self.children: dict[str, str] = {}  # link id -> document id
        self.deliveries: dict[str, int] = defaultdict(int)
        self.hops: dict[str, int] = defaultdict(int)
        self.last: float = 0.0

    def __call__(self, node: SimNode, event: AppEvent, now: float) -> None:
        if isinstance(event, EventAccepted) and event.event.id in self.replies:
            eid = event.event.id
            self.deliveries[eid] += 1
            if event.hops > self.hops[eid]:
                self.hops[eid] = event.hops
            self.last = max(self.last, now)


def run(workload: dict[str, Any], seed: int = 1) -> dict[str, Any]:
    started = time.perf_counter()
    params = workload.get("params", {})
    warmup = params.get("warmup_ms", 10_000) / 1000
    n = len(workload["node_ids"])
    sim = SimNetwork(seed, auto_connect=False, keep_app_events=False)
    sim.add_nodes(n)
    for a, b, latency in workload["edges"]:
        sim.connect(a, b, latency / 1000)
    root_node = params.get("root_node", 0)
    root = sim.nodes[root_node].author.document("forum", "the benchmark thread")
    for node in sim.nodes:
        if node.index != root_node:
            node.store.append(root.wire)
        sim.subscribe(node.index, root.id)
    meter = Meter()
    sim.listeners.append(meter)

    def poster(index: int, text: str) -> Any:
        def act() -> None:
            if sim.nodes[index].alive:
                doc, link = sim.post(index, text[:40], text, parent=root.id)
                assert link is not None
                meter.replies[link.id] = index
                meter.children[link.id] = doc.id
        return act

    for a in workload["appends"]:
        sim.at(warmup + a["t_ms"] / 1000, poster(a["node"], a["text"]))
    crash = workload.get("crash")
    crashed: list[int] = []
    if crash:
        crashed = list(crash["nodes"])

        def do_crash() -> None:
            for i in crashed:
                sim.crash(i)
        sim.at(warmup + crash["t_ms"] / 1000, do_crash)
    sim.run_until(warmup)
    before = _totals(sim)
    last_append = warmup + max(a["t_ms"] for a in workload["appends"]) / 1000
    sim.run_until_quiet(last_append + 3600)
    after = _totals(sim)
    frames, nbytes, payload = (after[k] - before[k] for k in range(3))
    sent = _payload_sent(sim)
    live = [node for node in sim.nodes if node.alive]
    wanted = set(meter.replies) | set(meter.children.values())
    complete = sum(1 for node in live if node.store.present(wanted) == wanted)
    deliveries = sum(meter.deliveries.values())
    rmrs = []
    for link, count in meter.deliveries.items():
        transmissions = sent.get(link, 0) + sent.get(meter.children[link], 0)
        if count:
            rmrs.append(transmissions / count - 1)
    events = len(meter.replies)
    edges = workload["edges"]
    return {
        "nodes": n,
        "degree": round(2 * len(edges) / n, 2),
        "authors": len({a["node"] for a in workload["appends"]}),
        "events": events,
        "failed_fraction": round(len(crashed) / n, 3),
        "rmr": round(sum(rmrs) / len(rmrs), 4) if rmrs else 0.0,
        "ldh": max(meter.hops.values(), default=0),
        "reliability": round(complete / len(live), 4) if live else 0.0,
        "deliveries": deliveries,
        "messages_per_event": round(frames / max(events, 1), 2),
        "bytes_per_delivery": round(nbytes / max(deliveries, 1), 1),
        "control_messages_per_delivery": round((frames - payload) / max(deliveries, 1), 3),
        "virtual_seconds_to_converge": round(max(meter.last - last_append, 0.0), 3),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "warmup_messages": before[0],
        "seed": params.get("seed"),
    }


def _totals(sim: SimNetwork) -> tuple[int, int, int]:
    frames = nbytes = payload = 0
    for node in sim.nodes:
        for stats in node.all_stats():
            frames += stats.frames
            nbytes += stats.bytes
            payload += stats.payload_frames
    return frames, nbytes, payload


def _payload_sent(sim: SimNetwork) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for node in sim.nodes:
        for stats in node.all_stats():
            for eid, count in stats.payload_sent.items():
                total[eid] += count
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", type=Path, help="replay this workload JSON file")
    parser.add_argument("--nodes", type=int, action="append", help="only these sizes")
    parser.add_argument("--failed", type=float, action="append", help="only these failure rates")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dump", type=Path, help="write generated workloads to this directory")
    args = parser.parse_args(argv)
    if args.workload:
        print(json.dumps(run(json.loads(args.workload.read_text()), args.seed)), flush=True)
        return 0
    for n in args.nodes or SIZES:
        for failed in args.failed if args.failed is not None else FAILURES:
            workload = make_workload(n, failed, seed=args.seed * 1000 + n)
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                (args.dump / f"gossip-{n}-{int(failed * 100)}.json").write_text(json.dumps(workload))
            print(json.dumps(run(workload, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
