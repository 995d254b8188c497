"""What the machine hands to its driver: app events, storage requests, settings.

Everything here is an immutable value. The driver drains app events with
`GossipNode.next_event()` (or `events()`), executes `StoreEvents` requests in
the order they were emitted, and feeds the results back with
`GossipNode.events_stored`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidEvent
from ..eventlog import Event, SignatureCache, decode_wire
from .messages import MAX_FRAME

#: Default byte bound of a node's `EventCodec` cache (see there).
CODEC_CACHE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoreEvents:
    """Storage request: append these events (in this order) with `store.append_many`,
    then call `events_stored(results, now)` with the per-event results."""

    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class EventAccepted:
    """An event from a peer is now in the log (first receipt by this node)."""

    doc: str  # the document network it arrived in
    event: Event
    peer: str
    hops: int  # links travelled from its author


@dataclass(frozen=True, slots=True)
class CenterChanged:
    doc: str
    center: str
    distance: int
    upstream: str | None


@dataclass(frozen=True, slots=True)
class DocumentHeld:
    """The node now holds and replicates this document (joined, subscribed, carried)."""

    doc: str


@dataclass(frozen=True, slots=True)
class DocumentDropped:
    """The node no longer holds this document (garbage collected, join refused, blocked).

    The log keeps its events (it is append-only); the node just stops replicating it.
    """

    doc: str
    reason: str


@dataclass(frozen=True, slots=True)
class PeerMisbehaved:
    """A peer sent bad input; it was dropped whole. `count` is the peer's running total."""

    peer: str
    reason: str
    doc: str | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class ForkSeen:
    """`author` signed two versions of its chain in `network` at `seq` (gossip/forks.py);
    `peer` passed one of them on (its author's fault, not the peer's)."""

    author: str
    network: str
    seq: int
    peer: str


@dataclass(frozen=True, slots=True)
class PeerSuggested:
    """`source` suggested connecting to `peer` for `doc`; `hint` is its address if known."""

    peer: str
    doc: str
    hint: str
    source: str = ""  # the suggesting peer: its suggestions are dropped should it be banned


@dataclass(frozen=True, slots=True)
class PeerReachable:
    """`peer` says it accepts TCP connections on `port` of the host its link comes
    from: the driver may now give others its address (`GossipNode.set_hint`)."""

    peer: str
    port: int


AppEvent = (StoreEvents | EventAccepted | CenterChanged | DocumentHeld | DocumentDropped
            | PeerMisbehaved | PeerSuggested | PeerReachable | ForkSeen)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an event a peer sent is not stored now (no fault of the peer)."""

    reason: str  # e.g. "blocked", "banned", "members", "pow", "flood"
    until: float | None = None  # held back until then; None: refused


class Policy:
    """Which authors, documents and events to replicate. The default allows everything.

    Subclass it, or use `BlockList`. Events refused by policy are dropped
    silently (not stored, not forwarded, nobody blamed); refused documents are
    not held. See admission.py for how refusals and holds apply to a message.
    """

    def allows_author(self, author: str) -> bool:
        return True

    def allows_document(self, doc: str) -> bool:
        return True

    def admit(self, ev: Event, doc: str, now: float) -> Refusal | None:
        """None to store `ev` (which came in the network of `doc`), else why not."""
        if self.allows_author(ev.author) and self.allows_document(ev.network):
            return None
        return Refusal("blocked")

    def learned(self, ev: Event) -> bool:
        """`ev` is now in the log; True if that changes what `admit` answers."""
        return False


class BlockList(Policy):
    def __init__(self, authors: set[str] | None = None, documents: set[str] | None = None) -> None:
        self.authors = set(authors or ())
        self.documents = set(documents or ())

    def allows_author(self, author: str) -> bool:
        return author not in self.authors

    def allows_document(self, doc: str) -> bool:
        return doc not in self.documents


class EventCodec:
    """Decodes and verifies event wire bytes, remembering results.

    Both are pure functions of the bytes, so the simulator shares one codec
    among all its nodes and each event is decoded and verified once per
    process. A real node keeps its own, bounded in entries (`limit`) and in
    bytes (`max_bytes`, `CODEC_CACHE_BYTES` by default): peers choose what gets
    decoded, so 5,000 unsolicited 64 KiB events must not stay pinned. Past
    either bound the cache starts over (it is only a cache).
    """

    def __init__(self, limit: int = 200_000, signatures: SignatureCache | None = None,
                 verify: bool = True, max_bytes: int | None = None) -> None:
        self.signatures = signatures or SignatureCache()
        # A real node leaves signatures to its log, which checks them on every
        # core; a forged event then comes back rejected and its sender is blamed.
        self.verify = verify
        self._decoded: dict[bytes, Event | Exception] = {}
        self._children: dict[str, str] = {}
        self._wires: dict[str, bytes] = {}
        self._limit = limit
        self.max_bytes = CODEC_CACHE_BYTES if max_bytes is None else max_bytes
        self.bytes = 0  # what the cached wires and decoded events hold, approximately

    def _make_room(self, size: int) -> None:
        if len(self._decoded) >= self._limit or len(self._wires) >= self._limit \
                or self.bytes + size > self.max_bytes:
            self._decoded.clear()
            self._wires.clear()
            self._children.clear()
            self.bytes = 0
        self.bytes += size

    def decode(self, wire: bytes) -> Event:
        """Raises: InvalidEvent (a subclass) if the bytes are not a valid signed event."""
        hit = self._decoded.get(wire)
        if hit is None:
            try:
                hit = decode_wire(wire)
                if self.verify:
                    self.signatures.verify(hit)
            except InvalidEvent as e:
                hit = e
            # The wire is kept as the key, the event holds a copy of its parts.
            self._make_room(2 * len(wire) + 300)
            self._decoded[wire] = hit
            if not isinstance(hit, Exception):
                self._wires[hit.id] = wire
        if isinstance(hit, Exception):
            raise hit
        return hit

    def wire(self, event: Event) -> bytes:
        """The wire bytes of an event, built once (`Event.wire` concatenates on every call)."""
        wire = self._wires.get(event.id)
        if wire is None or (event.body is None) != (len(wire) == 66 + len(event.header)):
            wire = event.wire
            self._make_room(len(wire) + 150)
            self._wires[event.id] = wire
        return wire

    def link_child(self, event: Event) -> str:
        """The child id a link event names (cached: links are looked at on every hop)."""
        child = self._children.get(event.id)
        if child is None:
            if len(self._children) >= self._limit or self.bytes + 250 > self.max_bytes:
                self._children.clear()
            self._make_room(250)
            child = self._children[event.id] = str(event.content()["child"])
        return child


@dataclass
class GossipConfig:
    """Tunables of the protocol. Times are seconds."""

    max_peers: int = 8  # peers per document
    min_peers: int = 3  # below this a peer gets suggestions
    retry_base: float = 1.0  # metadata resend: min(cap, base * 2**attempt) + jitter
    retry_cap: float = 60.0
    retry_jitter: float = 0.1  # fraction of the delay
    lazy_interval: float = 1.0  # batching of lazy announcements
    graft_timeout: float = 2.0  # wait for the eager copy before grafting
    hold_down: float = 5.0  # a lost center is refused this long (see election.py)
    # A seqno request per center is sent or relayed, and our own seqno raised, at
    # most this often: a raise sends an update down the whole tree.
    seqno_interval: float = 2.0
    settle_delay: float = 2.0  # quiet time before digests are re-advertised
    gc_delay: float = 5.0  # an unwanted document is dropped after this grace
    reconcile_attempts: int = 8
    offer_attempts: int = 5  # `Have` re-offers (with backoff) while a document has few links
    max_distance: int = 64
    max_frame: int = MAX_FRAME
    max_orphans: int = 4096  # out-of-order events buffered per node
    max_missing: int = 50_000  # announced-but-missing events chased per document
    unsolicited_limit: int = 64  # unsolicited messages tolerated per peer before reporting
    recent_limit: int = 4096  # per document, event ids remembered with who has them
    # --- byte budgets for what peers make us hold (limits.py). Exceeding a
    # per-peer share is the peer's misbehaviour (PeerMisbehaved: a ban); the
    # total bound evicts the largest holder's entries first.
    orphan_peer_bytes: int = 16 * 1024 * 1024  # buffered orphans one peer may make us hold
    orphan_total_bytes: int = 64 * 1024 * 1024  # ... all peers together
    # --- reconciliation answers (flow control): one `Vector` is answered with
    # at most this many bytes of events, then a `More`; the requester asks
    # again (a new vector) once it has stored them, so it paces what we read.
    vector_answer_bytes: int = 4 * 1024 * 1024
    vector_resend_after: float = 30.0  # an identical vector within this is a duplicate
    vector_bytes_per_s: float = 8 * 1024 * 1024  # answer bytes per peer and second ...
    vector_burst_bytes: float = 16 * 1024 * 1024  # ... and in a burst; beyond, requests wait
    deferred_vector_bytes: int = 2 * 1024 * 1024  # waiting requests kept per peer (older dropped)
    deferred_vector_total_bytes: int = 32 * 1024 * 1024  # ... and for all peers together
    codec_cache_bytes: int = CODEC_CACHE_BYTES  # decoded-event cache of a node's own codec
    codec: EventCodec | None = None  # share one in simulations
