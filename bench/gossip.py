"""Gossip benchmark: replay forum workloads in the deterministic simulator.

    python bench/gossip.py                      # every scenario (standard, then churn)
    python bench/gossip.py --scenario churn     # only the churn scenario
    python bench/gossip.py --nodes 100          # only the scenarios of that size
    python bench/gossip.py --workload FILE      # replay an exact workload
    python bench/gossip.py --dump DIR           # also write each generated workload
    python bench/gossip.py --workers 1          # one process (default: two, one per core)

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
  payload are control messages; bytes as the link sends them: compressed per
  link direction, plus 28 bytes of length prefix and seal a frame);
- ``virtual_seconds_to_converge``: from the last append until every live node
  holds every reply.

Generated scenarios (``--scenario``, default ``all``):
- ``standard``: a random connected graph (average degree 5, at most 8), link
  latencies 10-100 ms, 10 authors each posting 100 replies at about one per
  second after a 10 s warm-up; with failures, 20% of the non-author nodes crash
  for good halfway. Sizes 30, 100, 300 and 1000 (``--nodes``).
- ``churn``: a sparse random D-regular graph (``--degree``, default 4) of 100
  nodes, link latencies 10-50 ms, 10 authors each posting 100 replies in a
  burst (exponential gaps, mean ``--gap-ms`` 100), and 20% of the non-author
  nodes (``--failed``) crashing at ``--crash-at`` (default 0.5) of the posting
  period: their connections close.
Crashed nodes are chosen so that the survivors stay connected (otherwise no
protocol could reach reliability 1). Runs are deterministic for a given seed
and worker count; by default the nodes are split over two processes.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cliqueclique.eventlog import Kind
from cliqueclique.gossip.outputs import AppEvent, EventAccepted
from cliqueclique.gossip.sim import SimNetwork, SimNode

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
        crash = {"t_ms": posts * 1000 // 2, "nodes": _crash_set(n, edges, failed, writers, rng)}
    return {
        "params": {"seed": seed, "warmup_ms": 10_000, "root_node": 0, "failed_fraction": failed,
                   "scenario": "standard"},
        "node_ids": [f"n{i}" for i in range(n)],
        "edges": [[a, b, rng.randint(10, 100)] for a, b in sorted(edges)],
        "appends": appends,
        "crash": crash,
    }


def regular_graph(n: int, degree: int, rng: random.Random) -> set[tuple[int, int]]:
    """A random simple connected `degree`-regular graph: pair up `degree` stubs per
    node at random, then repair loops and double edges by degree-preserving edge
    swaps (plain rejection almost never succeeds beyond degree 5)."""
    if degree >= n or n * degree % 2:
        raise ValueError(f"no {degree}-regular graph on {n} nodes")
    for _ in range(100):
        stubs = [i for i in range(n) for _ in range(degree)]
        rng.shuffle(stubs)
        pairs = [[a, b] for a, b in zip(stubs[::2], stubs[1::2])]
        for _ in range(100 * len(pairs)):
            count = Counter((min(a, b), max(a, b)) for a, b in pairs)
            bad = [k for k, (a, b) in enumerate(pairs) if a == b or count[(min(a, b), max(a, b))] > 1]
            if not bad:
                break
            k, j = rng.choice(bad), rng.randrange(len(pairs))
            (a, b), (c, d) = pairs[k], pairs[j]
            one, two = (min(a, c), max(a, c)), (min(b, d), max(b, d))
            if a != c and b != d and one != two and one not in count and two not in count:
                pairs[k], pairs[j] = [a, c], [b, d]
        edges = {(min(a, b), max(a, b)) for a, b in pairs}
        if len(edges) == len(pairs) and all(a != b for a, b in edges) and _connected(n, edges, set()):
            return edges
    raise RuntimeError("no simple connected regular graph found")  # pragma: no cover


def _crash_set(n: int, edges: set[tuple[int, int]], failed: float, writers: list[int],
               rng: random.Random) -> list[int]:
    """`failed` of the nodes, never an author or the root, leaving the rest connected."""
    count = round(n * failed)
    removed: set[int] = set()
    candidates = [i for i in range(n) if i not in writers and i != 0]
    rng.shuffle(candidates)
    for c in candidates:
        if len(removed) >= count:
            break
        if _connected(n, edges, removed | {c}):
            removed.add(c)
    return sorted(removed)


def make_churn_workload(n: int = 100, failed: float = 0.2, seed: int = 1, degree: int = 4,
                        authors: int = 10, posts: int = 100, gap_ms: float = 100.0,
                        crash_at: float = 0.5) -> dict[str, Any]:
    """A random `degree`-regular graph, a burst of replies, crashes part-way through."""
    rng = random.Random(seed)
    edges = regular_graph(n, degree, rng)
    writers = rng.sample(range(1, n), authors)
    appends = []
    for w, node in enumerate(writers):
        t = 0.0
        for k in range(posts):
            t += rng.expovariate(1 / gap_ms)
            appends.append({"t_ms": int(t), "node": node, "text": f"comment {k} by author {w}"})
    appends.sort(key=lambda a: (a["t_ms"], a["node"]))
    crash = None
    if failed:
        period = max(a["t_ms"] for a in appends)
        crash = {"t_ms": int(period * crash_at), "nodes": _crash_set(n, edges, failed, writers, rng)}
    return {
        "params": {"seed": seed, "warmup_ms": 10_000, "root_node": 0, "failed_fraction": failed,
                   "scenario": "churn", "degree": degree, "gap_ms": gap_ms, "crash_at": crash_at},
        "node_ids": [f"n{i}" for i in range(n)],
        "edges": [[a, b, rng.randint(10, 50)] for a, b in sorted(edges)],
        "appends": appends,
        "crash": crash,
    }


class Share:
    """One process's share of a run: the nodes with `side[i] == index` (all if side is None)."""

    def __init__(self, workload: dict[str, Any], seed: int, index: int = 0,
                 side: list[int] | None = None) -> None:
        self.workload = workload
        params = workload.get("params", {})
        self.warmup = params.get("warmup_ms", 10_000) / 1000
        n = len(workload["node_ids"])
        local = None if side is None else (lambda i: side[i] == index)
        self.is_local = local or (lambda i: True)
        sim = self.sim = SimNetwork(seed, auto_connect=False, keep_app_events=False, local=local)
        sim.add_nodes(n)
        for a, b, latency in workload["edges"]:
            sim.connect(a, b, latency / 1000)
        root_node = params.get("root_node", 0)
        root = sim.nodes[root_node].author.document("forum", "the benchmark thread")
        self.root = root.id
        for node in sim.nodes:
            if node.index != root_node:
                node.store.append(root.wire)
            if self.is_local(node.index):
                sim.subscribe(node.index, root.id)
        self.children: dict[str, str] = {}  # reply link id -> reply document id (posted here)
        self.deliveries: dict[str, int] = defaultdict(int)
        self.hops: dict[str, int] = defaultdict(int)
        self.last = 0.0
        sim.listeners.append(self._observe)
        for a in workload["appends"]:
            if self.is_local(a["node"]):
                sim.at(self.warmup + a["t_ms"] / 1000, self._poster(a["node"], a["text"]))
        crash = workload.get("crash")
        self.crashed = list(crash["nodes"]) if crash else []
        if crash:
            sim.at(self.warmup + crash["t_ms"] / 1000, self._crash)
        self.before: tuple[int, int, int] | None = None

    def _observe(self, node: SimNode, event: AppEvent, now: float) -> None:
        if isinstance(event, EventAccepted):
            ev = event.event
            if ev.kind is Kind.LINK and ev.network == self.root:  # a reply (its link)
                self.deliveries[ev.id] += 1
                self.hops[ev.id] = max(self.hops[ev.id], event.hops)
                self.last = max(self.last, now)

    def _poster(self, index: int, text: str) -> Any:
        def act() -> None:
            if self.sim.nodes[index].alive:
                doc, link = self.sim.post(index, text[:40], text, parent=self.root)
                assert link is not None
                self.children[link.id] = doc.id
        return act

    def _crash(self) -> None:
        for i in self.crashed:
            self.sim.crash(i)

    def run_window(self, frames: list[Any], start: float, end: float) -> tuple[list[Any], float | None]:
        sim = self.sim
        sim.deliver_remote(frames)
        if self.before is None and start >= self.warmup:
            self.before = self.totals()
        sim.run_before(end)
        out, sim.remote_out = sim.remote_out, []
        return out, sim.next_time()

    def run_alone(self) -> None:
        self.sim.run_until(self.warmup)
        self.before = self.totals()
        self.sim.run_until_quiet(float("inf"))

    def totals(self) -> tuple[int, int, int]:
        frames = nbytes = payload = 0
        for node in self.sim.nodes:
            nbytes += node.wire_bytes  # compressed and sealed, as a real link sends them
            for stats in node.all_stats():
                frames += stats.frames
                payload += stats.payload_frames
        return frames, nbytes, payload

    def partial(self) -> dict[str, Any]:
        sent: dict[str, int] = defaultdict(int)
        for node in self.sim.nodes:
            for stats in node.all_stats():
                for eid, count in stats.payload_sent.items():
                    sent[eid] += count
        assert self.before is not None
        return {"children": self.children, "deliveries": dict(self.deliveries),
                "hops": dict(self.hops), "last": self.last, "sent": dict(sent),
                "before": self.before, "after": self.totals()}

    def complete(self, wanted: set[str]) -> tuple[int, int]:
        live = [n for n in self.sim.nodes if n.alive and self.is_local(n.index)]
        return sum(1 for n in live if n.store.present(wanted) == wanted), len(live)


def _find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def split(workload: dict[str, Any]) -> tuple[list[int], float]:
    """Two halves of the nodes and the shortest link between them (the window, ms).

    Nodes joined by short links are kept together (union-find over links shorter
    than a threshold, then the groups dealt out largest first), trying the
    highest threshold that still gives halves within 45-55%: the longer the
    shortest link between the halves, the fewer the synchronisation windows."""
    n = len(workload["node_ids"])
    edges = workload["edges"]
    best: tuple[list[int], float] = ([i % 2 for i in range(n)], 0.0)
    best = (best[0], min((lat for a, b, lat in edges if best[0][a] != best[0][b]), default=1000))
    for threshold in sorted({lat for _, _, lat in edges}, reverse=True):
        parent = list(range(n))
        for a, b, lat in edges:
            if lat < threshold:
                parent[_find(parent, a)] = _find(parent, b)
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(n):
            groups[_find(parent, i)].append(i)
        side = [0] * n
        sizes = [0, 0]
        for members in sorted(groups.values(), key=lambda g: (-len(g), g[0])):
            half = 0 if sizes[0] <= sizes[1] else 1
            for i in members:
                side[i] = half
            sizes[half] += len(members)
        if min(sizes) >= 0.45 * n:
            window = min((lat for a, b, lat in edges if side[a] != side[b]), default=1000)
            if window > best[1]:
                best = (side, window)
            break
    return best


def _worker(workload: dict[str, Any], seed: int, index: int, side: list[int], window: float,
            conn: Any, other: Any) -> None:
    """One of two processes: exchange frames and next deadlines with the other one
    directly after every window, so both pick the same next window (no coordinator)."""
    gc.disable()  # millions of long-lived objects: cyclic collection would rescan them all
    share = Share(workload, seed, index, side)
    out: list[Any] = []
    while True:
        mine = (share.sim.next_time(), out)
        if index == 0:  # one side sends first: two blocking sends could deadlock
            other.send(mine)
            theirs = other.recv()
        else:
            theirs = other.recv()
            other.send(mine)
        inbox = theirs[1]
        times = [t for t in (mine[0], theirs[0]) if t is not None]
        times += [f[0] for f in out] + [f[0] for f in inbox]
        if not times:
            break
        start = min(times)
        end = start + window
        if start < share.warmup:
            end = min(end, share.warmup)
        out, _ = share.run_window(inbox, start, end)
    conn.send(share.partial())
    conn.send(share.complete(conn.recv()))


def run(workload: dict[str, Any], seed: int = 1, workers: int = 2) -> dict[str, Any]:
    """Run one workload, in one process or split over two (this machine has two cores).

    Split runs are a conservative parallel simulation: each process owns half the
    nodes and both advance in lockstep windows as long as the shortest link between
    the halves, so no frame can arrive within the window it was sent in."""
    started = time.perf_counter()
    side, _ = split(workload)
    cross = [lat for a, b, lat in workload["edges"] if side[a] != side[b]]
    if workers > 1 and cross and min(cross) <= 0:
        workers = 1  # no lookahead: a zero-latency link between the halves cannot be split
    if workers == 1:
        gc_was = gc.isenabled()
        gc.disable()
        try:
            share = Share(workload, seed)
            share.run_alone()
            partials = [share.partial()]
            wanted = _wanted(partials)
            done, live = share.complete(wanted)
        finally:
            if gc_was:
                gc.enable()
        return _metrics(workload, partials, done, live, time.perf_counter() - started)
    ctx = mp.get_context("fork")
    window = min(cross, default=1000) / 1000
    between = ctx.Pipe()
    mains = [ctx.Pipe() for _ in range(2)]
    procs = [ctx.Process(target=_worker,
                         args=(workload, seed, w, side, window, mains[w][1], between[w]))
             for w in range(2)]
    for p in procs:
        p.start()
    conns = [pipe[0] for pipe in mains]
    partials = [c.recv() for c in conns]
    wanted = _wanted(partials)
    for c in conns:
        c.send(wanted)
    done = live = 0
    for c in conns:
        d, lv = c.recv()
        done, live = done + d, live + lv
    for p in procs:
        p.join()
    return _metrics(workload, partials, done, live, time.perf_counter() - started)


def _wanted(partials: list[dict[str, Any]]) -> set[str]:
    wanted: set[str] = set()
    for part in partials:
        wanted |= set(part["children"]) | set(part["children"].values())
    return wanted


def _metrics(workload: dict[str, Any], partials: list[dict[str, Any]], done: int, live: int,
             wall: float) -> dict[str, Any]:
    children: dict[str, str] = {}
    deliveries: dict[str, int] = defaultdict(int)
    hops: dict[str, int] = defaultdict(int)
    sent: dict[str, int] = defaultdict(int)
    frames = nbytes = payload = 0
    last = 0.0
    for part in partials:
        children.update(part["children"])
        for k, v in part["deliveries"].items():
            deliveries[k] += v
        for k, v in part["hops"].items():
            hops[k] = max(hops[k], v)
        for k, v in part["sent"].items():
            sent[k] += v
        frames += part["after"][0] - part["before"][0]
        nbytes += part["after"][1] - part["before"][1]
        payload += part["after"][2] - part["before"][2]
        last = max(last, part["last"])
    params = workload.get("params", {})
    warmup = params.get("warmup_ms", 10_000) / 1000
    last_append = warmup + max(a["t_ms"] for a in workload["appends"]) / 1000
    events = len(children)
    total = sum(deliveries[link] for link in children)
    rmrs = [(sent.get(link, 0) + sent.get(doc, 0)) / deliveries[link] - 1
            for link, doc in children.items() if deliveries.get(link)]
    n = len(workload["node_ids"])
    crash = workload.get("crash")
    return {
        "scenario": params.get("scenario", "workload"),
        "nodes": n,
        "degree": round(2 * len(workload["edges"]) / n, 2),
        "authors": len({a["node"] for a in workload["appends"]}),
        "events": events,
        "failed_fraction": round(len(crash["nodes"]) / n, 3) if crash else 0.0,
        "rmr": round(sum(rmrs) / len(rmrs), 4) if rmrs else 0.0,
        "ldh": max((hops[link] for link in children), default=0),
        "reliability": round(done / live, 4) if live else 0.0,
        "deliveries": total,
        "messages_per_event": round(frames / max(events, 1), 2),
        "bytes_per_delivery": round(nbytes / max(total, 1), 1),
        "control_messages_per_delivery": round((frames - payload) / max(total, 1), 3),
        "virtual_seconds_to_converge": round(max(last - last_append, 0.0), 3),
        "wall_seconds": round(wall, 2),
        "seed": params.get("seed"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", type=Path, help="replay this workload JSON file")
    parser.add_argument("--nodes", type=int, action="append", help="only these sizes")
    parser.add_argument("--failed", type=float, action="append", help="only these failure rates")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2),
                        help="processes per run (1: no fork)")
    parser.add_argument("--dump", type=Path, help="write generated workloads to this directory")
    parser.add_argument("--scenario", choices=("all", "standard", "churn"), default="all")
    parser.add_argument("--degree", type=int, default=4, help="churn: degree of the regular graph")
    parser.add_argument("--gap-ms", type=float, default=100.0,
                        help="churn: mean gap between one author's replies")
    parser.add_argument("--crash-at", type=float, default=0.5,
                        help="churn: when the crashes happen, as a fraction of the posting period")
    args = parser.parse_args(argv)
    if args.workload:
        print(json.dumps(run(json.loads(args.workload.read_text()), args.seed, args.workers)), flush=True)
        return 0
    workloads: list[tuple[str, Any]] = []
    if args.scenario in ("all", "standard"):
        for n in args.nodes or SIZES:
            for failed in args.failed if args.failed is not None else FAILURES:
                workloads.append((f"gossip-{n}-{int(failed * 100)}",
                                  lambda n=n, failed=failed: make_workload(
                                      n, failed, seed=args.seed * 1000 + n)))
    if args.scenario in ("all", "churn"):
        for n in args.nodes or (100,):
            for failed in args.failed if args.failed is not None else (0.2,):
                workloads.append((f"churn-{n}-{int(failed * 100)}", lambda n=n, failed=failed:
                                  make_churn_workload(n, failed, seed=args.seed * 1000 + n,
                                                      degree=args.degree, gap_ms=args.gap_ms,
                                                      crash_at=args.crash_at)))
    for name, make in workloads:
        workload = make()
        if args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            (args.dump / f"{name}.json").write_text(json.dumps(workload))
        print(json.dumps(run(workload, args.seed, args.workers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
