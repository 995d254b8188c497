"""A deterministic network simulator for `GossipNode`s, in virtual time.

`SimNetwork` plays the driver for every node: it moves frames between nodes
with per-link latency, loss, duplication and reordering drawn from one seeded
`random.Random`, fires timers, executes storage requests on each node's
`MemoryStore` at once, and models partitions (links cut, both ends told after
`detect_delay`; healing reconnects them) and crashes (the node stops; a
restart builds a new machine over the same log). Nothing reads the clock:
the same seed and the same calls give the same run, frame for frame
(`trace_digest()` proves it).

All nodes share one `EventCodec` (and its `SignatureCache`), so each event is
decoded and verified once per process, and a thousand nodes fit in one.

For speed on several cores a run can also be split across processes
(`local=`): each process gives machines only to its own nodes, collects frames
for the others in `remote_out`, and advances in windows no longer than the
shortest link between processes (`run_before`, `deliver_remote`), so no frame
can arrive inside the window it was sent in; bench/gossip.py drives this.
`filter` lets a test drop chosen frames (a link that loses every payload).

Bytes are counted as the real link would send them (`SimNode.wire_bytes`): each
frame compressed by its sender's `FrameCompressor` for that link direction
(net/compress.py; a fresh one each time the link comes up, as a new connection
has), plus the length prefix and the seal (`WIRE_OVERHEAD`). Frames are still
delivered as they are: the compression only measures.

Optional, for benchmarks of whole nodes (bench/abuse.py): `store_factory`
gives a node another log than a `MemoryStore` (say a `SQLiteStore` with its
views), `policy_factory` gives its machine a `Policy` (say the running node's
`Governance`, whose wall clock is `now`: events are dated in virtual
milliseconds), links may have a `bandwidth` (bytes a second each way: frames
queue behind each other), `measure_cpu` adds up the CPU seconds each
node's machine spends on frames and timers (`SimNode.cpu_seconds`), and
`group_commit` stores all the storage requests of one input in one
`append_many` (one transaction, as the running node's writer batches them),
handing each request its share of the results in order.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nacl.signing import SigningKey

from ..eventlog import Action, Author, Event, EventStore, MemoryStore, SignatureCache, node_id
from ..net.compress import FrameCompressor
from ..net.framing import LENGTH, SEAL_OVERHEAD
from .node import GossipNode, GossipStats
from .outputs import AppEvent, EventCodec, GossipConfig, PeerSuggested, Policy, StoreEvents

_DELIVER, _TIMER, _ACTION, _LOST = 0, 1, 2, 3
#: What a `SecureChannel` adds to each compressed frame: length prefix, seq, tag.
WIRE_OVERHEAD = LENGTH.size + SEAL_OVERHEAD


@dataclass
class SimLink:
    latency: float
    up: bool = True
    epoch: int = 0
    bandwidth: float | None = None  # bytes a second each way; None: unlimited
    busy: dict[int, float] = field(default_factory=dict)  # sender -> its side is busy until then


@dataclass
class SimNode:
    index: int
    key: SigningKey
    node_id: str
    store: EventStore
    author: Author
    gossip: GossipNode | None = None
    alive: bool = True
    incarnation: int = 0
    timer: float | None = None
    group: int = 0  # partition group
    app_events: list[AppEvent] = field(default_factory=list)
    retired: list[GossipStats] = field(default_factory=list)  # stats of crashed incarnations
    cpu_seconds: float = 0.0  # the machine's, on frames and timers (with `measure_cpu`)
    wire_bytes: int = 0  # sent on links as a real one would: compressed and sealed (all incarnations)

    def all_stats(self) -> list[GossipStats]:
        return self.retired + ([self.gossip.stats] if self.gossip else [])


class SimNetwork:
    """N simulated nodes, their links, and virtual time."""

    def __init__(self, seed: int = 0, *, loss: float = 0.0, duplicate: float = 0.0,
                 reorder: float = 0.0, reorder_delay: float = 0.2, detect_delay: float = 0.5,
                 default_latency: float = 0.05, auto_connect: bool = True,
                 config: Callable[[], GossipConfig] | None = None, trace: bool = False,
                 keep_app_events: bool = True, local: Callable[[int], bool] | None = None,
                 store_factory: Callable[[int, SignatureCache], EventStore] | None = None,
                 policy_factory: Callable[[SimNode], Policy | None] | None = None,
                 default_bandwidth: float | None = None, measure_cpu: bool = False,
                 group_commit: bool = False) -> None:
        self.rng = random.Random(seed)
        self.net_rng = random.Random(self.rng.getrandbits(64))
        self.loss, self.duplicate, self.reorder = loss, duplicate, reorder
        self.reorder_delay, self.detect_delay = reorder_delay, detect_delay
        self.default_latency = default_latency
        self.default_bandwidth = default_bandwidth
        self.store_factory = store_factory
        self.policy_factory = policy_factory
        self.measure_cpu = measure_cpu
        self.group_commit = group_commit
        self.auto_connect = auto_connect
        self.signatures = SignatureCache()
        self.codec = EventCodec(limit=10_000_000, signatures=self.signatures,
                                max_bytes=2**40)  # shared by every node: a simulator's cache
        self._config = config or GossipConfig
        self.keep_app_events = keep_app_events
        self.now = 0.0
        self.nodes: list[SimNode] = []
        self.by_id: dict[str, SimNode] = {}
        self.links: dict[tuple[int, int], SimLink] = {}
        #: (sender, receiver) -> the sender's compressor for that direction, while the link is up
        self._compressors: dict[tuple[int, int], FrameCompressor] = {}
        self._queue: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        self._trace = hashlib.sha256() if trace else None
        self.listeners: list[Callable[[SimNode, AppEvent, float], None]] = []
        self.frames = 0
        self.dropped = 0
        # Partitioned runs (one process per share of the nodes, see bench/gossip.py): only
        # nodes for which `local(i)` holds get a machine; frames to the others are queued
        # in `remote_out` for the caller to hand to the process that owns them.
        self.local = local
        self.remote_out: list[tuple[float, int, int, bytes, int]] = []
        #: Optional fault injection: called as filter(src, dst, frame); False drops the frame.
        self.filter: Callable[[int, int, bytes], bool] | None = None

    # --- building ---------------------------------------------------------------------

    def add_node(self) -> SimNode:
        key = SigningKey(self.rng.getrandbits(256).to_bytes(32, "big"))
        index = len(self.nodes)
        store = (MemoryStore(signature_cache=self.signatures) if self.store_factory is None
                 else self.store_factory(index, self.signatures))
        node = SimNode(len(self.nodes), key, node_id(key), store, Author(key, store, self._clock))
        self.nodes.append(node)
        self.by_id[node.node_id] = node
        machine_seed = self.rng.getrandbits(64)  # drawn for every node, local or not
        if self.local is None or self.local(node.index):
            node.gossip = self._machine(node, machine_seed)
        return node

    def add_nodes(self, n: int) -> list[SimNode]:
        return [self.add_node() for _ in range(n)]

    def _machine(self, node: SimNode, seed: int) -> GossipNode:
        config = self._config()
        config.codec = self.codec
        policy = self.policy_factory(node) if self.policy_factory is not None else None
        return GossipNode(node.node_id, node.store, random.Random(seed), config, policy=policy)

    def _clock(self) -> int:
        return int(self.now * 1000)

    def connect(self, a: int, b: int, latency: float | None = None, bandwidth: float | None = None) -> None:
        """A symmetric link between nodes a and b (both ends told now, if alive)."""
        key = (min(a, b), max(a, b))
        link = self.links.get(key)
        if link is None:
            link = self.links[key] = SimLink(self.default_latency if latency is None else latency,
                                             bandwidth=bandwidth or self.default_bandwidth)
        elif link.up and self._usable(key):
            return
        link.up = True
        self._link_up(key)

    def _usable(self, key: tuple[int, int]) -> bool:
        a, b = self.nodes[key[0]], self.nodes[key[1]]
        return self.links[key].up and a.alive and b.alive and a.group == b.group

    def _link_up(self, key: tuple[int, int]) -> None:
        if not self._usable(key):
            return
        link = self.links[key]
        link.epoch += 1
        self._drop_compressors(key)
        a, b = self.nodes[key[0]], self.nodes[key[1]]
        for x, y in ((a, b), (b, a)):
            if x.gossip is not None:
                x.gossip.peer_connected(y.node_id, self.now, hint=f"sim:{y.index}")
                self._pump(x)

    def _link_down(self, key: tuple[int, int]) -> None:
        link = self.links[key]
        link.epoch += 1
        link.busy.clear()  # what was queued on it is lost with it
        self._drop_compressors(key)
        for x, y in ((key[0], key[1]), (key[1], key[0])):
            self._push(self.now + self.detect_delay, _LOST, (x, self.nodes[x].incarnation, y))

    def _drop_compressors(self, key: tuple[int, int]) -> None:
        """A link that goes down or comes up is a new connection: new compression streams."""
        self._compressors.pop(key, None)
        self._compressors.pop((key[1], key[0]), None)

    def neighbours(self, i: int) -> list[int]:
        return [b if a == i else a for (a, b) in self.links if i in (a, b)]

    # --- faults -----------------------------------------------------------------------

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Split the network: nodes in different groups cannot talk until `heal()`."""
        for g, members in enumerate(groups, start=1):
            for i in members:
                self.nodes[i].group = g
        for key, link in self.links.items():
            a, b = self.nodes[key[0]], self.nodes[key[1]]
            if link.up and a.group != b.group and a.alive and b.alive:
                self._link_down(key)

    def heal(self) -> None:
        cut = [k for k in self.links if self.nodes[k[0]].group != self.nodes[k[1]].group]
        for node in self.nodes:
            node.group = 0
        for key in cut:
            self._link_up(key)

    def crash(self, i: int) -> None:
        node = self.nodes[i]
        if not node.alive:
            return
        for key in self.links:
            if i in key and self._usable(key):
                self._link_down(key)
        node.alive = False
        if node.gossip is not None:
            node.retired.append(node.gossip.stats)
        node.gossip = None
        node.incarnation += 1
        node.timer = None

    def restart(self, i: int) -> None:
        """Bring a crashed node back with a new machine over its kept log."""
        node = self.nodes[i]
        if node.alive:
            return
        node.alive = True
        if self.local is None or self.local(i):
            node.gossip = self._machine(node, self.rng.getrandbits(64))
            self._pump(node)
        for key in self.links:
            if i in key:
                self._link_up(key)

    # --- application actions --------------------------------------------------------------

    def at(self, t: float, action: Callable[[], None]) -> None:
        self._push(t, _ACTION, action)

    def publish(self, i: int, events: Iterable[Event]) -> None:
        """Events already in node i's log (signed by anyone) go to its machine now."""
        node = self.nodes[i]
        assert node.gossip is not None
        node.gossip.publish(events, self.now)
        self._pump(node)

    def post(self, i: int, subject: str, text: str, parent: str | None = None,
             **options: object) -> tuple[Event, Event | None]:
        """Node i posts (a reply, if `parent`) and publishes it to its machine
        (`options` go to `Author.post`: `work=BITS` mines a proof of work)."""
        node = self.nodes[i]
        assert node.gossip is not None
        document, link = node.author.post(subject, text, parent=parent, **options)
        events = [document] + ([link] if link else [])
        if parent is not None:
            head = node.store.head(node.node_id, node.node_id)
            assert head is not None
            sub = node.store.get(head[1])
            assert sub is not None
            events.append(sub)
        node.gossip.publish(events, self.now)
        self._pump(node)
        return document, link

    def subscribe(self, i: int, doc: str, subscribed: bool = True) -> None:
        node = self.nodes[i]
        assert node.gossip is not None
        ev = node.author.subscription(doc, Action.SUBSCRIBE if subscribed else Action.UNSUBSCRIBE)
        node.gossip.publish([ev], self.now)
        self._pump(node)

    def bookmark(self, i: int, doc: str, bookmarked: bool = True) -> None:
        node = self.nodes[i]
        assert node.gossip is not None
        ev = node.author.subscription(doc, Action.BOOKMARK if bookmarked else Action.UNBOOKMARK)
        node.gossip.publish([ev], self.now)
        self._pump(node)

    def join(self, i: int, doc: str, via: int) -> None:
        node = self.nodes[i]
        assert node.gossip is not None
        node.author.subscription(doc, Action.SUBSCRIBE)  # recorded first, as an app would
        node.gossip.join(doc, self.nodes[via].node_id, self.now)
        self._pump(node)

    def inject(self, src: int, dst: int, data: bytes, delay: float = 0.0) -> None:
        """Deliver raw bytes as if `src` sent them (for hostile-peer tests)."""
        key = (min(src, dst), max(src, dst))
        self._push(self.now + delay, _DELIVER, (src, dst, data, self.links[key].epoch))

    # --- running ------------------------------------------------------------------------

    def _push(self, t: float, kind: int, payload: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, kind, payload))

    def run_until(self, t: float) -> None:
        queue = self._queue
        while queue and queue[0][0] <= t:
            when, _, kind, payload = heapq.heappop(queue)
            self.now = max(self.now, when)
            self._dispatch(kind, payload, when)
        self.now = max(self.now, t)

    def run_until_quiet(self, limit: float) -> float:
        """Run until nothing is pending (no frame, timer or action), or `limit`; return the time."""
        queue = self._queue
        while queue and queue[0][0] <= limit:
            when, _, kind, payload = heapq.heappop(queue)
            self.now = max(self.now, when)
            self._dispatch(kind, payload, when)
        return self.now

    def quiet(self) -> bool:
        return not self._queue

    def run_before(self, t: float) -> None:
        """Process everything strictly before `t` (one window of a partitioned run)."""
        queue = self._queue
        while queue and queue[0][0] < t:
            when, _, kind, payload = heapq.heappop(queue)
            self.now = max(self.now, when)
            self._dispatch(kind, payload, when)

    def next_time(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def deliver_remote(self, frames: Iterable[tuple[float, int, int, bytes, int]]) -> None:
        """Frames that nodes of another process sent to our nodes (sorted for determinism)."""
        for when, src, dst, data, epoch in sorted(frames, key=lambda f: f[:3]):
            self._push(when, _DELIVER, (src, dst, data, epoch))

    def _dispatch(self, kind: int, payload: Any, when: float) -> None:
        if not self.measure_cpu or kind == _ACTION:
            self._handle(kind, payload)
            return
        start = time.process_time()
        self._handle(kind, payload)
        self.nodes[payload[1] if kind == _DELIVER else payload[0]].cpu_seconds += time.process_time() - start

    def _handle(self, kind: int, payload: Any) -> None:
        if kind == _DELIVER:
            src, dst, data, epoch = payload
            node = self.nodes[dst]
            key = (min(src, dst), max(src, dst))
            if not self._usable(key) or self.links[key].epoch != epoch or node.gossip is None:
                self.dropped += 1
                return
            if self._trace is not None:
                self._trace.update(f"{self.now:.9f}|{src}|{dst}|".encode() + data)
            node.gossip.receive(self.nodes[src].node_id, data, self.now)
            self._pump(node)
        elif kind == _TIMER:
            index, incarnation, deadline = payload
            node = self.nodes[index]
            if node.gossip is None or node.incarnation != incarnation or node.timer != deadline:
                return
            node.timer = None
            node.gossip.handle_timer(self.now)
            self._pump(node)
        elif kind == _LOST:
            index, incarnation, peer = payload
            node = self.nodes[index]
            key = (min(index, peer), max(index, peer))
            if node.gossip is None or node.incarnation != incarnation or self._usable(key):
                return
            node.gossip.peer_lost(self.nodes[peer].node_id, self.now)
            self._pump(node)
        else:
            payload()

    def _pump(self, node: SimNode) -> None:
        """Drive one node after an input: storage requests, app events, frames, timer."""
        machine = node.gossip
        if machine is None:
            return
        events = machine.events()
        while events:
            grouped = self._group_commit(node, events) if self.group_commit else {}
            for event in events:
                if type(event) is StoreEvents:
                    results = grouped.pop(id(event), None)
                    if results is None:
                        results = node.store.append_many(event.events)
                    machine.events_stored(results, self.now)
                    continue
                if self.keep_app_events:
                    node.app_events.append(event)
                for listener in self.listeners:
                    listener(node, event, self.now)
                if isinstance(event, PeerSuggested) and self.auto_connect:
                    other = self.by_id.get(event.peer)
                    if other is not None and other.alive:
                        self.connect(node.index, other.index)
            events = machine.events()
        for peer, data in machine.messages_to_send():
            self._send(node.index, self.by_id[peer].index, data)
        deadline = machine.get_timer()
        if deadline != node.timer and deadline is not None:
            node.timer = deadline
            self._push(max(deadline, self.now), _TIMER, (node.index, node.incarnation, deadline))
        elif deadline is None:
            node.timer = None

    @staticmethod
    def _group_commit(node: SimNode, events: list[AppEvent]) -> dict[int, list[Any]]:
        """Every storage request of one drain in one `append_many` (one transaction, as
        the running node's writer does); id(request) -> its share of the results, in order."""
        requests = [e for e in events if type(e) is StoreEvents]
        if len(requests) < 2:
            return {}
        results = iter(node.store.append_many([ev for r in requests for ev in r.events]))
        return {id(r): [next(results) for _ in r.events] for r in requests}

    def _send(self, src: int, dst: int, data: bytes) -> None:
        key = (min(src, dst), max(src, dst))
        link = self.links.get(key)
        if link is None or not self._usable(key):
            return
        self.frames += 1
        compressor = self._compressors.get((src, dst))
        if compressor is None:  # made on the first frame after the link came up
            compressor = self._compressors[(src, dst)] = FrameCompressor()
        self.nodes[src].wire_bytes += len(compressor.compress(data)) + WIRE_OVERHEAD
        rng = self.net_rng
        if self.filter is not None and not self.filter(src, dst, data):
            self.dropped += 1
            return
        if self.loss and rng.random() < self.loss:
            self.dropped += 1
            return
        delay = link.latency
        if link.bandwidth:  # frames leave one after another, each taking len / bandwidth
            leaves = max(self.now, link.busy.get(src, 0.0)) + len(data) / link.bandwidth
            link.busy[src] = leaves
            delay += leaves - self.now
        if self.reorder and rng.random() < self.reorder:
            delay += rng.random() * self.reorder_delay
        if self.local is not None and not self.local(dst):
            self.remote_out.append((self.now + delay, src, dst, data, link.epoch))
            return
        self._push(self.now + delay, _DELIVER, (src, dst, data, link.epoch))
        if self.duplicate and rng.random() < self.duplicate:
            self._push(self.now + delay + rng.random() * self.reorder_delay, _DELIVER,
                       (src, dst, data, link.epoch))

    # --- inspection ---------------------------------------------------------------------

    def trace_digest(self) -> str:
        assert self._trace is not None, "create the network with trace=True"
        return self._trace.hexdigest()

    def alive(self) -> list[SimNode]:
        return [n for n in self.nodes if n.alive]
