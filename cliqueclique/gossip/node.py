"""The node-level gossip machine: one `DocumentProtocol` per document, one log.

Driver contract (sans-IO, see protocol.py for the protocol itself)
------------------------------------------------------------------

Inputs, each with an explicit ``now`` in seconds (any clock that never goes
backwards while the machine lives):

- ``peer_connected(peer, now, hint="")``: an authenticated link is up; `hint`
  is the peer's transport address, passed on in suggestions.
- ``peer_lost(peer, now)``: the link is gone (broken or closed).
- ``receive(peer, data, now)``: one frame exactly as the peer sent it. Bad
  input never raises: it becomes a `PeerMisbehaved` app event and the whole
  frame is dropped before anything in it is applied.
- ``handle_timer(now)``: call when ``now >= get_timer()``.
- ``publish(events, now)``: events the application just appended to the log
  (posts, replies, edits, deletions and its own subscription events; pass a
  reply's document, link and subscription together).
- ``set_flags(doc, subscribed=..., bookmarked=..., now=...)`` and
  ``join(doc, via_peer, now)``: local decisions (the application also records
  them as subscription events in its log).
- ``events_stored(results, now)``: the `AppendResult`s of the last
  `StoreEvents` request(s), in any grouping, in order.

Outputs, drained after every input:

- ``messages_to_send()`` -> ``[(peer, frame_bytes)]`` (each frame at most
  ``config.max_frame`` bytes, 1 MiB by default; send them in order);
- ``get_timer()`` -> the next deadline or None;
- ``next_event()`` / ``events()`` -> app events (outputs.py). `StoreEvents`
  is a storage request: append its events with ``store.append_many`` in
  emission order and report back with ``events_stored``. The machine only
  ever *reads* the log (``get/head/at/present/events``).

Queries: ``holds(doc)``, ``held_documents()``, ``info(doc)``,
``progress(doc)``, ``memory_report()`` / ``state_bytes()`` (what peers made
the machine hold, in bytes; every part is bounded, see limits.py); ``policy`` (outputs.Policy) decides which authors and
documents to replicate, ``set_policy`` swaps it.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import BadPrev, BatchRolledBack, ChainGap, Equivocation, InvalidEvent, MissingDependency
from ..eventlog import Action, AppendResult, Event, EventStore, Kind, Status
from . import reconcile
from .admission import Gate
from .forks import Forks
from .errors import (
    AbsurdValue,
    InvalidPeerEvent,
    LocalProtocolError,
    RemoteProtocolError,
    Unsolicited,
    WrongDocument,
)
from .limits import PeerBoundedBuffer, event_bytes, memory_report
from .messages import (
    MAX_ITEMS,
    MESSAGE_OVERHEAD,
    Ack,
    Delete,
    Events,
    Graft,
    Have,
    IHave,
    Message,
    More,
    Prune,
    Suggest,
    Update,
    Vector,
    decode_frame,
    pack_frames,
)
from .outputs import (
    AppEvent,
    DocumentDropped,
    DocumentHeld,
    EventAccepted,
    EventCodec,
    ForkSeen,
    GossipConfig,
    PeerMisbehaved,
    Policy,
    Refusal,
    StoreEvents,
)
from .protocol import DocState, DocumentProtocol

MAX_SERIAL = 2**62
_NONE: frozenset[str] = frozenset()
_LOW, _HIGH = "0" * 64, "f" * 64
_NOT_BLAME = (MissingDependency, ChainGap, BatchRolledBack)
_FORKS = (Equivocation, BadPrev)  # the author's fault, whoever relayed it (forks.py)
_BLOCKED, _FORKED = Refusal("blocked"), Refusal("forked")


def _deletes_document(ev: Event) -> bool:
    return ev.kind is Kind.DELETION and ev.ref == ev.network


@dataclass(slots=True)
class _Pending:
    event: Event
    doc: str
    peer: str
    hops: int


@dataclass
class GossipStats:
    """Counters for benchmarks and status pages (frames are the wire unit)."""

    frames: int = 0
    bytes: int = 0
    payload_frames: int = 0
    payload_sent: Counter[str] = field(default_factory=Counter)  # event id -> transmissions


@dataclass(frozen=True, slots=True)
class PeerProgress:
    held: int  # events of the document the peer is known to hold
    we_lack: int  # ... that we do not hold
    they_lack: int  # events we hold that the peer is not known to hold


@dataclass(frozen=True, slots=True)
class Progress:
    held: int
    known: int  # held plus events we know exist but do not hold
    peers: dict[str, PeerProgress]


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    doc: str
    state: str
    subscribed: bool
    bookmarked: bool
    center: str
    center_subscribed: bool
    distance: int
    upstream: str | None
    peers: tuple[str, ...]
    downstream: tuple[str, ...]
    wanters: int
    subscribers: int


def _chain_digest(network: str, author: str, seq: int) -> int:
    raw = hashlib.blake2b(f"{network}{author}{seq}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big")


class GossipNode:
    """The gossip machine of one local node (see the module docstring)."""

    def __init__(self, node_id: str, store: EventStore, rng: random.Random,
                 config: GossipConfig | None = None, policy: Policy | None = None) -> None:
        self.node_id = node_id
        self.store = store
        self.rng = rng
        self.config = config or GossipConfig()
        self.policy = policy or Policy()
        self.codec = self.config.codec or EventCodec(signatures=store.signature_cache,
                                                      max_bytes=self.config.codec_cache_bytes)
        self.stats = GossipStats()
        self._docs: dict[str, DocumentProtocol] = {}
        self._connected: dict[str, str] = {}  # peer -> address hint
        self._events_from: dict[str, float] = {}  # peer -> when it last sent us new events
        self._outbox: dict[str, list[Message]] = {}
        self._app: deque[AppEvent] = deque()
        self._pending: dict[str, _Pending] = {}
        self._pending_heads: dict[tuple[str, str], int] = {}
        # Out-of-order events, and purged events waiting for their deletion
        # (a deleted document travels as its header beside its deletion, in
        # any order): bounded in bytes per peer and in total (limits.py).
        c = self.config
        self._orphans: PeerBoundedBuffer[tuple[str, str, int], _Pending] = PeerBoundedBuffer(
            c.orphan_peer_bytes, c.orphan_total_bytes, c.max_orphans)
        self._deleting: Counter[str] = Counter()  # documents whose deletion is on its way to the log
        self._reconciler = reconcile.Reconciler(self)
        self._gate = Gate(self.codec)  # what the policy refuses or holds back (admission.py)
        self._pending_from: Counter[str] = Counter()  # peer -> its events on their way to the log
        self._heads: dict[str, dict[str, int]] = {}
        self._digest: dict[str, int] = {}
        self._children: dict[str, set[str]] = {}
        self._parents: dict[str, set[str]] = {}
        self._indexed: set[str] = set()
        self._carried: set[str] = set()
        self._blocked_docs: set[str] = set()
        self.forks = Forks(store)
        self._unsolicited: Counter[str] = Counter()
        self._misbehaviour: Counter[str] = Counter()
        self._touched: dict[str, DocumentProtocol] = {}
        self._timers: dict[str, float] = {}
        self._restore()

    # ================================================================ driver inputs

    def peer_connected(self, peer: str, now: float, hint: str = "") -> None:
        """A link to `peer` is up: tell it which documents we hold."""
        self._connected[peer] = hint
        docs = tuple(d for d, p in self._docs.items() if p.active)
        for i in range(0, len(docs), MAX_ITEMS):
            self.send(peer, Have(docs[i : i + MAX_ITEMS]))
        for doc in docs:
            self._docs[doc].plan_offer(now, fresh=True)
            self._touch(self._docs[doc])
        self._finish(now)

    def peer_lost(self, peer: str, now: float) -> None:
        self._connected.pop(peer, None)
        self._events_from.pop(peer, None)
        self._outbox.pop(peer, None)
        # What the peer made us hold is of no use without it (and must not outlive a ban).
        self._orphans.drop_peer(peer)
        self._reconciler.drop_peer(peer)
        self._unsolicited.pop(peer, None)
        self._misbehaviour.pop(peer, None)
        for doc in list(self._docs.values()):
            if peer in doc.links or doc.via == peer:
                doc.peer_lost(peer, now)
                self._touch(doc)
        self._finish(now)

    def receive(self, peer: str, data: bytes, now: float) -> None:
        """One frame from `peer`. Bad input becomes a `PeerMisbehaved` event."""
        if peer not in self._connected:
            raise LocalProtocolError(f"receive from {peer[:16]}, which is not connected")
        doc: str | None = None
        try:
            messages = decode_frame(data, self.config.max_frame)
            checked = []
            for msg in messages:
                doc = getattr(msg, "doc", None)
                checked.append((msg, self._check(msg)))
        except RemoteProtocolError as e:
            self._misbehaved(peer, str(e), doc)
            self._finish(now)
            return
        for msg, extra in checked:
            self._apply(peer, msg, extra, now)
        self._finish(now)

    def handle_timer(self, now: float) -> None:
        self._reconciler.handle_timer(now)
        self._release_held(now)
        for doc_id, deadline in list(self._timers.items()):
            if deadline <= now and doc_id in self._docs:
                doc = self._docs[doc_id]
                doc.handle_timer(now)
                self._touch(doc)
        self._finish(now)

    def publish(self, events: Iterable[Event], now: float) -> None:
        """Local events already appended to the log: apply and replicate them."""
        events = list(events)
        changed = False
        for ev in events:
            if ev.kind is Kind.SUBSCRIPTION and ev.author == self.node_id:
                changed = self._apply_subscription(ev, now) or changed
            changed = self.policy.learned(ev) or changed
        if changed:
            self._policy_changed()
        for ev in events:
            if ev.kind is not Kind.SUBSCRIPTION:
                self._new_event(ev, None, 0, now)
        self._finish(now)

    def set_flags(self, doc: str, *, subscribed: bool | None = None,
                  bookmarked: bool | None = None, now: float) -> None:
        """Change local interest in a document the log holds.

        Raises:
            LocalProtocolError: the log does not hold the document (use `join`),
                or policy refuses it.
        """
        self._set_flags(doc, subscribed, bookmarked, now)
        self._finish(now)

    def join(self, doc: str, via_peer: str, now: float) -> None:
        """Get a document from a peer that holds it, and subscribe to it.

        Raises:
            LocalProtocolError: `via_peer` is not connected, or policy refuses the document.
        """
        if not self._allowed_doc(doc):
            raise LocalProtocolError(f"document {doc[:16]} is refused by policy")
        proto = self._docs.get(doc)
        if proto is not None and proto.state is not DocState.DROPPED:
            if proto.state is not DocState.JOINING:
                self._set_flags(doc, True, None, now)
                if via_peer in self._connected and proto.add_link(via_peer):
                    self._touch(proto)
            self._finish(now)
            return
        if self.store.get(doc) is not None:
            self._set_flags(doc, True, None, now)
            proto = self._docs[doc]
            if via_peer in self._connected:
                proto.add_link(via_peer)
            self._finish(now)
            return
        if via_peer not in self._connected:
            raise LocalProtocolError(f"cannot join through {via_peer[:16]}: not connected")
        proto = self._docs[doc] = DocumentProtocol(doc, self, joining_via=via_peer)
        self._touch(proto)
        self._finish(now)

    def events_stored(self, results: Iterable[AppendResult], now: float) -> None:
        """The outcome of `StoreEvents` requests, one result per event."""
        outcomes = [(result, self._pending.pop(result.event_id, None)) for result in results
                    if result.event_id is not None]
        changed = False
        accepted = [p.event for r, p in outcomes if p is not None and r.status is Status.ACCEPTED]
        # What the steps below look up per event, read for the whole batch at once.
        self._load_heads(ev.network for ev in accepted)
        held = self.store.present({self.codec.link_child(ev) for ev in accepted
                                   if ev.kind is Kind.LINK and not ev.purged})
        for result, pending in outcomes:
            if pending is None:
                continue
            self._pending_from[pending.peer] -= 1
            if self._pending_from[pending.peer] <= 0:
                del self._pending_from[pending.peer]
            ev = pending.event
            key = (ev.author, ev.network)
            if self._pending_heads.get(key) == ev.seq:
                del self._pending_heads[key]
            if _deletes_document(ev):
                self._deleting[ev.network] -= 1
                if self._deleting[ev.network] <= 0:
                    del self._deleting[ev.network]
            if result.status is Status.ACCEPTED:
                self._new_event(ev, pending.peer, pending.hops, now, held)
                changed = self.policy.learned(ev) or changed
            elif isinstance(result.error, _FORKS):
                self._fork_found(ev, pending)
            elif result.status is Status.REJECTED and not isinstance(result.error, _NOT_BLAME):
                self._misbehaved(pending.peer, result.reason or "rejected event", pending.doc)
        if changed:
            self._policy_changed()
        self._store_orphans()
        self._reconciler.ask_for_more(self._pending_from)
        self._finish(now)

    def set_policy(self, policy: Policy, now: float) -> None:
        self.policy = policy
        self._policy_changed()
        for doc in list(self._docs.values()):
            if doc.active and not self._allowed_doc(doc.doc):
                doc.drop(now, "blocked")
                self._touch(doc)
        self._finish(now)

    # ================================================================ driver outputs

    def messages_to_send(self) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        if not self._outbox:
            return out
        outbox, self._outbox = self._outbox, {}
        stats = self.stats
        for peer, messages in outbox.items():
            for frame, payload in pack_frames(messages, self.config.max_frame):
                out.append((peer, frame))
                stats.frames += 1
                stats.bytes += len(frame)
                stats.payload_frames += payload
        return out

    def get_timer(self) -> float | None:
        deadline = min(self._timers.values(), default=None)
        return min((t for t in (deadline, self._reconciler.timer, self._gate.timer) if t is not None),
                   default=None)

    def next_event(self) -> AppEvent | None:
        return self._app.popleft() if self._app else None

    def events(self) -> list[AppEvent]:
        out = list(self._app)
        self._app.clear()
        return out

    # ================================================================ queries

    def holds(self, doc: str) -> bool:
        """True if the node holds and replicates the document (actively or as a carried child)."""
        proto = self._docs.get(doc)
        return (proto is not None and proto.active) or doc in self._carried

    def held_documents(self) -> set[str]:
        return {d for d, p in self._docs.items() if p.active} | self._carried

    def memory_report(self) -> dict[str, int]:
        """Approximate bytes, by kind, of what peers made this machine hold (each
        kind is bounded in bytes, see limits.py and `GossipConfig`)."""
        return memory_report(self)

    def admission_report(self) -> dict[str, object]:
        """What the policy kept out so far: refused events by reason, events held
        back (flood budgets), held events let go for room, and held now."""
        gate = self._gate
        return {"refused": dict(gate.refused), "held_back": gate.held_back, "let_go": gate.let_go,
                "held_now": gate.held_count}

    def state_bytes(self) -> int:
        """The total of `memory_report`."""
        return sum(memory_report(self).values())

    def protocol(self, doc: str) -> DocumentProtocol | None:
        return self._docs.get(doc)

    def info(self, doc: str) -> DocumentInfo | None:
        p = self._docs.get(doc)
        if p is None:
            return None
        downstream = tuple(peer for peer, link in p.links.items() if link.live and link.attrs
                           and link.attrs.upstream == self.node_id
                           and link.attrs.center == p.center)
        return DocumentInfo(doc, p.state.value, p.local_subscribed, p.local_bookmarked, p.center,
                            p.center_subscribed, p.distance, p.upstream, tuple(p.holders()),
                            downstream, p.wanters, p.subscribers)

    def scope(self, proto: DocumentProtocol) -> list[str]:
        """The networks a document replicates: itself, plus carried children if subscribed."""
        if not proto.subscribed:
            return [proto.doc]
        children = self._children.get(proto.doc, ())
        return [proto.doc] + sorted(c for c in children if c in self._carried)

    def progress(self, doc: str) -> Progress:
        """Held vs known events of a document's scope, overall and per peer."""
        proto = self._docs.get(doc)
        if proto is None:
            return Progress(0, 0, {})
        networks = self.scope(proto)
        held = known = 0
        per_peer: dict[str, list[int]] = {p: [0, 0, 0] for p in proto.holders()}
        for net in networks:
            mine = self._heads_of(net)
            authors = set(mine)
            for peer in per_peer:
                authors |= set(proto.links[peer].heads.get(net, ()))
            for author in authors:
                m = mine.get(author, 0)
                best = m
                for peer, row in per_peer.items():
                    t = proto.links[peer].heads.get(net, {}).get(author, 0)
                    best = max(best, t)
                    row[0] += t
                    row[1] += max(0, t - m)
                    row[2] += max(0, m - t)
                held += m
                known += best
        known += len(proto.missing)
        peers = {}
        doc_digest, scope_digest = self.digests(proto)
        for peer, row in per_peer.items():
            a = proto.links[peer].attrs
            assert a is not None
            same = (scope_digest == a.scope_digest) if (proto.subscribed and a.subscribed) \
                else (doc_digest == a.doc_digest)
            # Equal digests of the chain heads mean the peer holds exactly what we hold.
            peers[peer] = PeerProgress(held, 0, 0) if same else PeerProgress(*row)
        return Progress(held, known, peers)

    def caught_up_with(self, doc: str, peer: str) -> bool:
        """True once we hold the document and everything `peer` has told us it
        holds of its scope (equal digests, or its heads known and none ahead)."""
        proto = self._docs.get(doc)
        if proto is None or proto.state is DocState.JOINING or self.store.get(doc) is None:
            return False
        link = proto.links.get(peer)
        if link is None or link.attrs is None:
            return False  # nothing heard from the peer about this document yet
        doc_digest, scope_digest = self.digests(proto)
        a = link.attrs
        if (scope_digest == a.scope_digest) if (proto.subscribed and a.subscribed) \
                else (doc_digest == a.doc_digest):
            return True
        if not link.heads or proto.missing:
            return False
        # Every network the peer reported, ours included or not yet (a reply's
        # reply arrives in a network we carry only once we follow the reply).
        return all(self._heads_of(net).get(author, 0) >= seq
                   for net, theirs in link.heads.items() for author, seq in theirs.items())

    # ================================================================ callbacks from documents

    def send(self, peer: str, msg: Message) -> None:
        if peer in self._connected:
            self._outbox.setdefault(peer, []).append(msg)

    def emit(self, event: AppEvent) -> None:
        self._app.append(event)

    def last_events_from(self, peer: str) -> float | None:
        """When `peer` last sent us events we did not hold, if ever."""
        return self._events_from.get(peer)

    def is_connected(self, peer: str) -> bool:
        return peer in self._connected

    def hint(self, peer: str) -> str:
        return self._connected.get(peer, "")

    def has_subscribed_parent(self, doc: str) -> bool:
        for parent in self._parents.get(doc, ()):
            p = self._docs.get(parent)
            if p is not None and p.active and p.subscribed:
                return True
        return False

    def document_wire(self, doc: str) -> bytes | None:
        ev = self.store.get(doc)
        return None if ev is None else ev.wire

    def known_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        return self.store.present(ids) | {i for i in ids if i in self._pending}

    def digests(self, proto: DocumentProtocol) -> tuple[bytes, bytes]:
        doc = self._digest_of(proto.doc)
        scope = 0
        for net in self.scope(proto):
            scope ^= self._digest_of(net)
        return (doc or 1).to_bytes(8, "big"), (scope or 1).to_bytes(8, "big")

    def subscription_changed(self, doc: str, now: float) -> None:
        """A document's subscribed status flipped: re-evaluate the children it carries."""
        proto = self._docs.get(doc)
        if proto is not None and proto.active:
            self._index_links(doc)
        for child in list(self._children.get(doc, ())):
            self._update_carried(child, now)
        if proto is not None and proto.active and proto.subscribed:
            proto.mark_dirty()
            proto.settle_at = now  # re-advertise the scope digest soon: reconciliation follows

    def document_activated(self, doc: str) -> None:
        proto = self._docs[doc]
        self._index_links(doc)
        proto.doc_digest, proto.scope_digest = self.digests(proto)
        self.emit(DocumentHeld(doc))
        proto.offer_to_peers()
        for peer, link in proto.links.items():
            if link.holder and not link.reconciled:
                link.reconciled = True
                self.send_vector(peer, proto)
        self._touch(proto)

    def announce(self, proto: DocumentProtocol) -> int:
        """Offer a document to the connected peers it has no link with (`Have`);
        returns how many were offered it."""
        offered = 0
        for peer in self._connected:
            if peer not in proto.links:
                self.send(peer, Have((proto.doc,)))
                offered += 1
        return offered

    def document_revived(self, doc: str) -> None:
        self.document_activated(doc)

    def document_dropped(self, doc: str, reason: str) -> None:
        self.emit(DocumentDropped(doc, reason))
        self._gate.drop_documents([doc])
        self._touch(self._docs[doc])
        for child in list(self._children.get(doc, ())):
            self._update_carried(child, 0.0)

    def joined_document(self, proto: DocumentProtocol, peer: str, wire: bytes, now: float) -> None:
        if proto.doc in self._pending:
            return
        ev = self.codec.decode(wire)  # checked in _check already
        self._hold_pending(_Pending(ev, proto.doc, peer, 1))
        self.emit(StoreEvents((ev,)))

    def push(self, peer: str, proto: DocumentProtocol, items: list[tuple[Event, int]]) -> None:
        """Send events to a peer; a link goes with the child document it names."""
        link = proto.links.get(peer)
        subscribed = link is not None and link.attrs is not None and link.attrs.subscribed
        out: list[list[tuple[int, bytes]]] = []
        payload_sent = self.stats.payload_sent
        for ev, hops in items:
            group = [(hops, self.codec.wire(ev))]
            if subscribed and ev.kind is Kind.LINK and ev.network == proto.doc:
                child = self.codec.link_child(ev)
                have = proto.recent.get(child)
                if have is None or peer not in have:
                    child_ev = self.store.get(child)
                    if child_ev is not None:  # counted with its link, as one reply
                        group.insert(0, (hops, self.codec.wire(child_ev)))
            out.append(group)
            payload_sent[ev.id] += 1
            if link is not None:
                chain = link.heads.setdefault(ev.network, {})
                if chain.get(ev.author, 0) < ev.seq:
                    chain[ev.author] = ev.seq
        self._send_events(peer, proto.doc, out)

    def push_ids(self, peer: str, proto: DocumentProtocol, ids: Iterable[str]) -> None:
        """Answer a graft: send the requested events we hold that belong to the scope."""
        scope = set(self.scope(proto))
        found = [ev for ev in (self.store.get(i) for i in ids) if ev is not None]
        found = [ev for ev in found if (ev.network in scope or ev.id in self._children.get(proto.doc, ()))
                 and not self.forks.refuses(ev)]
        found.sort(key=lambda ev: (ev.kind is not Kind.DOCUMENT, ev.seq))
        if found:
            self.push(peer, proto, [(ev, 1) for ev in found])

    def send_vector(self, peer: str, proto: DocumentProtocol) -> None:
        """Tell `peer` how far we hold each chain of the scope, so it sends the rest.

        Events on their way to the log count as held: otherwise a node catching
        up asks again for all it has received but not yet written, and the
        answer repeats it. Should one of them fail, the digests still differ
        and a later vector asks for it."""
        link = proto.links.get(peer)
        if link is None or link.attrs is None:
            return
        networks = self.scope(proto) if (proto.subscribed and link.attrs.subscribed) else [proto.doc]
        networks.sort()
        self._load_heads(networks)
        pending: dict[str, dict[str, int]] = {}
        for (author, net), seq in self._pending_heads.items():
            pending.setdefault(net, {})[author] = seq
        budget = self.config.max_frame // 2
        chunks: list[list[tuple[str, tuple[tuple[str, int], ...]]]] = [[]]
        size = 0
        for net in networks:
            heads = self._heads_of(net)
            if net in pending:
                heads = {**heads, **{a: s for a, s in pending[net].items() if s > heads.get(a, 0)}}
            authors = tuple(sorted(heads.items()))
            entry = 34 + 36 * len(authors)
            if size + entry > budget and chunks[-1]:
                chunks.append([])
                size = 0
            chunks[-1].append((net, authors))
            size += entry
        self._reconciler.asked(peer, proto.doc)
        for i, chunk in enumerate(chunks):
            lo = _LOW if i == 0 else chunk[0][0]
            hi = _HIGH if i == len(chunks) - 1 else f"{int(chunks[i + 1][0][0], 16) - 1:064x}"
            self.send(peer, Vector(proto.doc, lo, hi, tuple(chunk)))

    # ================================================================ internals: checking input

    def _check(self, msg: Message) -> list[tuple[int, Event]] | Event | None:
        """Validate one message completely before anything is applied."""
        if isinstance(msg, Events):
            out = []
            for hops, wire in msg.items:
                try:
                    ev = self.codec.decode(wire)
                except InvalidEvent as e:
                    raise InvalidPeerEvent(str(e)) from None
                if ev.kind is Kind.SUBSCRIPTION:
                    raise InvalidPeerEvent("subscription events are never replicated")
                out.append((hops, ev))
            return out
        if isinstance(msg, Update):
            a = msg.attrs
            if msg.serial > MAX_SERIAL:
                raise AbsurdValue(f"serial {msg.serial}")
            if a.distance > self.config.max_distance:
                raise AbsurdValue(f"distance {a.distance}")
            if a.holds and a.center is None:
                raise AbsurdValue("a holder without a center")
            if a.center == a.upstream and a.distance != 1 and a.upstream is not None:
                raise AbsurdValue("upstream is the center but distance is not 1")
            if msg.document is not None:
                try:
                    ev = self.codec.decode(msg.document)
                except InvalidEvent as e:
                    raise InvalidPeerEvent(str(e)) from None
                if ev.id != msg.doc or ev.kind is not Kind.DOCUMENT:
                    raise WrongDocument("the update carries another document")
                return ev
            return None
        if isinstance(msg, Ack | Delete) and msg.serial > MAX_SERIAL:
            raise AbsurdValue(f"serial {msg.serial}")
        if isinstance(msg, Vector) and msg.lo > msg.hi:
            raise AbsurdValue("vector range is empty")
        return None

    # ================================================================ internals: applying input

    def _apply(self, peer: str, msg: Message, extra: object, now: float) -> None:
        if type(msg) is Events:  # the hot path
            proto = self._docs.get(msg.doc)
            if proto is None:
                self._unsolicited_input(peer, msg.doc)
            else:
                self._touch(proto)
                self._accept_events(peer, proto, extra, now)  # type: ignore[arg-type]
            return
        if isinstance(msg, Have):
            for doc_id in msg.docs:
                proto = self._docs.get(doc_id)
                if proto is not None and proto.active and peer not in proto.links and proto.room():
                    proto.add_link(peer)
                    self._touch(proto)
            return
        proto = self._docs.get(msg.doc)
        if isinstance(msg, Delete):
            self.send(peer, Ack(msg.doc, msg.serial))
            if proto is not None:
                proto.on_delete(peer, msg.serial, now)
                self._touch(proto)
            return
        if isinstance(msg, Update) and proto is None:
            proto = self._serve_joiner(peer, msg, now)
            if proto is None:
                return
        if proto is None:
            if not isinstance(msg, Ack | Prune):
                self._unsolicited_input(peer, msg.doc)
            return
        self._touch(proto)
        if isinstance(msg, Update):
            proto.on_update(peer, msg, now)
        elif isinstance(msg, Ack):
            proto.on_ack(peer, msg.serial, now)
        elif isinstance(msg, Events):
            assert isinstance(extra, list)
            self._accept_events(peer, proto, extra, now)
        elif isinstance(msg, IHave):
            if not proto.on_ihave(peer, msg.ids, now):
                self._unsolicited_input(peer, msg.doc)
        elif isinstance(msg, Graft):
            proto.on_graft(peer, msg.ids, now)
        elif isinstance(msg, Prune):
            proto.on_prune(peer)
        elif isinstance(msg, Vector):
            self._reconciler.on_vector(peer, proto, msg, now)
        elif isinstance(msg, More):
            self._reconciler.on_more(peer, proto, self._pending_from)
        elif isinstance(msg, Suggest):
            proto.on_suggest(peer, msg, now)

    def _serve_joiner(self, peer: str, msg: Update, now: float) -> DocumentProtocol | None:
        """An update for a document we do not hold: serve a joiner if the log has it."""
        doc = msg.doc
        if msg.attrs.holds or self.store.get(doc) is None or not self._allowed_doc(doc):
            self.send(peer, Delete(doc, 0))
            return None
        proto = self._docs[doc] = DocumentProtocol(doc, self)
        self.document_activated(doc)
        return proto

    def _unsolicited_input(self, peer: str, doc: str | None) -> None:
        self._unsolicited[peer] += 1
        if self._unsolicited[peer] % self.config.unsolicited_limit == 0:
            self._misbehaved(peer, str(Unsolicited(f"{self._unsolicited[peer]} messages")), doc)

    def _misbehaved(self, peer: str, reason: str, doc: str | None) -> None:
        self._misbehaviour[peer] += 1
        self.emit(PeerMisbehaved(peer, reason, doc, self._misbehaviour[peer]))

    def _accept_events(self, peer: str, proto: DocumentProtocol, items: list[tuple[int, Event]],
                       now: float) -> None:
        link = proto.links.get(peer)
        if not proto.active or link is None or not link.live:
            self._unsolicited_input(peer, proto.doc)
            return
        doc = proto.doc
        children = self._children.get(doc, _NONE)
        batch_children: set[str] | None = None
        wanted: list[tuple[int, Event]] = []
        for hops, ev in items:
            net = ev.network
            if net != doc:
                if batch_children is None:
                    batch_children = {self.codec.link_child(e) for _, e in items
                                      if e.kind is Kind.LINK and e.network == doc}
                if not proto.subscribed or (net not in children and net not in batch_children):
                    continue  # stale: not (or no longer) in our scope
            wanted.append((hops, ev))
        if type(self.policy) is not Policy or self._blocked_docs or self.forks:
            wanted = self._gate.admit(self._admit, peer, doc, wanted, now)
        self._take_events(peer, proto, wanted, now, released=False)

    def _admit(self, ev: Event, doc: str, now: float) -> Refusal | None:
        if ev.author in self._blocked_docs or ev.network in self._blocked_docs:
            return _BLOCKED
        if self.forks.refuses(ev):
            return _FORKED
        return self.policy.admit(ev, doc, now)

    def _fork_found(self, ev: Event, pending: _Pending) -> None:
        """The log refused `ev` as a fork of its author's chain: blame the author
        if it sent it itself (nobody else), and pass the evidence on (forks.py)."""
        if pending.peer == ev.author:
            self._misbehaved(pending.peer, f"forked its chain in {ev.network[:16]} at seq {ev.seq}",
                             pending.doc)
        found = self.forks.found(ev)
        if found is None:
            return
        seq, evidence = found
        self.emit(ForkSeen(ev.author, ev.network, seq, pending.peer))
        proto = self._docs.get(pending.doc)
        if evidence is None or proto is None or not proto.active:
            return
        items = [(1, self.codec.wire(e)) for e in evidence]
        for peer, link in proto.links.items():
            if link.live:
                self._send_events(peer, proto.doc, [items])

    def _release_held(self, now: float) -> None:
        """Offer held-back events whose time has come to the policy again."""
        for peer, doc, items in self._gate.due(now):
            proto = self._docs.get(doc)
            if proto is None or not proto.active:
                continue
            self._take_events(peer, proto, self._gate.admit(self._admit, peer, doc, items, now), now,
                              released=True)

    def _policy_changed(self) -> None:
        """What the policy refuses changed: ask the peers of every document whose
        events it refused for what we lack (the refused events, if now allowed)."""
        for doc in self._gate.forget_refusals():
            proto = self._docs.get(doc)
            if proto is None or not proto.active:
                continue
            for peer, link in proto.links.items():
                if link.live:
                    self.send_vector(peer, proto)
            self._touch(proto)

    def _take_events(self, peer: str, proto: DocumentProtocol, wanted: list[tuple[int, Event]],
                     now: float, released: bool) -> None:
        """Store the admitted events of a message (`released`: events held back
        from an earlier one, whose copies prove nothing about the link)."""
        doc = proto.doc
        link = proto.links.get(peer)
        held = self.store.present(ev.id for _, ev in wanted)  # one query for the message
        self._load_heads(ev.network for _, ev in wanted)  # and one for the chains' heads
        to_store: list[Event] = []
        gap = False
        pending_ids = self._pending
        doc_heads: dict[str, int] = {}
        if link is not None:
            doc_heads = link.heads.setdefault(doc, doc_heads)
        # Documents this message deletes: their purged header (and edits) may go in with it.
        deleted_here = {ev.network for _, ev in wanted if _deletes_document(ev)}
        for hops, ev in wanted:
            net = ev.network
            eid = ev.id
            if net == doc and doc_heads.get(ev.author, 0) < ev.seq:
                doc_heads[ev.author] = ev.seq
            if eid in pending_ids or eid in held:
                if not released:
                    proto.on_duplicate(peer, eid)
                continue
            expected = self._expected(ev.author, net)
            pending = _Pending(ev, doc, peer, hops)
            waits = ev.purged and net not in deleted_here and not self._deletion_known(net)
            if ev.seq > expected or waits:
                # A gap, or a purged event whose deletion we do not hold yet (it
                # comes later in its chain, maybe in a later frame): wait, blame nobody.
                gap = gap or not waits
                if not self._orphans.add((ev.author, net, ev.seq), pending, peer, event_bytes(ev)):
                    self._misbehaved(peer, "orphan budget exceeded", doc)
                    break
                if not waits and (ev.author, net, expected) in self._orphans:
                    to_store.extend(self._take_orphans(ev.author, net, expected))
                continue
            self._hold_pending(pending)
            to_store.append(ev)
            if ev.seq == expected:
                self._pending_heads[(ev.author, net)] = ev.seq
                if self._orphans:
                    to_store.extend(self._take_orphans(ev.author, net, ev.seq + 1))
        if to_store:
            self.emit(StoreEvents(tuple(to_store)))
            self._events_from[peer] = now
        if gap:
            self.send_vector(peer, proto)  # "send me what I lack"

    def _expected(self, author: str, network: str) -> int:
        seq = self._pending_heads.get((author, network))
        if seq is None:
            seq = self._heads_of(network).get(author, 0)
        return seq + 1

    def _take_orphans(self, author: str, network: str, seq: int) -> list[Event]:
        """The buffered run of a chain from `seq` on, up to (not including) a purged
        event whose deletion is neither held, on its way, nor further on in the run."""
        run: list[_Pending] = []
        while (pending := self._orphans.get((author, network, seq + len(run)))) is not None:
            if pending.event.id in self._pending:
                break
            run.append(pending)
        if not self._deletion_known(network) and not any(_deletes_document(p.event) for p in run):
            run = run[:next((i for i, p in enumerate(run) if p.event.purged), len(run))]
        out = []
        for pending in run:
            self._orphans.pop((author, network, seq))
            self._hold_pending(pending)
            self._pending_heads[(author, network)] = seq
            out.append(pending.event)
            seq += 1
        return out

    def _hold_pending(self, pending: _Pending) -> None:
        """`pending` goes to the log now (the caller emits it in a `StoreEvents`)."""
        self._pending[pending.event.id] = pending
        self._pending_from[pending.peer] += 1
        if _deletes_document(pending.event):
            self._deleting[pending.event.network] += 1

    def _deletion_known(self, document: str) -> bool:
        """True if the log holds a deletion of `document` or one is on its way there."""
        return document in self._deleting or self.store.is_deleted(document)

    def _store_orphans(self) -> None:
        if not self._orphans:
            return
        ready: list[Event] = []
        for author, network, seq in list(self._orphans):
            if (author, network, seq) in self._orphans and self._expected(author, network) == seq:
                ready.extend(self._take_orphans(author, network, seq))
        if ready:
            self.emit(StoreEvents(tuple(ready)))

    def _with_children(self, events: list[Event]) -> list[list[tuple[int, bytes]]]:
        """Events to send, each child document in one group with the link naming
        it (a receiver takes a child's network in only beside that link); no
        event of a forked chain from the fork on."""
        if self.forks:
            events = [ev for ev in events if not self.forks.refuses(ev)]
        documents = {ev.id: ev for ev in events if ev.kind is Kind.DOCUMENT}
        named = {self.codec.link_child(ev) for ev in events if ev.kind is Kind.LINK} & documents.keys()
        placed: set[str] = set()
        groups = []
        for ev in events:
            if ev.id in named:
                continue  # goes with (the first) link naming it
            group = [ev]
            if ev.kind is Kind.LINK:
                child = self.codec.link_child(ev)
                if child in named and child not in placed:
                    placed.add(child)
                    group.insert(0, documents[child])
            self.stats.payload_sent[ev.id] += 1  # a child document counts with its link
            groups.append([(1, self.codec.wire(e)) for e in group])
        return groups

    def _send_events(self, peer: str, doc: str, groups: list[list[tuple[int, bytes]]]) -> None:
        """Send (hops, wire) items in as few messages as fit; a group never splits."""
        budget = self.config.max_frame - 64 - MESSAGE_OVERHEAD - 34
        chunk: list[tuple[int, bytes]] = []
        size = 0
        for group in groups:
            group_size = sum(len(wire) + 6 for _, wire in group)
            if chunk and (size + group_size > budget or len(chunk) + len(group) > MAX_ITEMS):
                self.send(peer, Events(doc, tuple(chunk)))
                chunk, size = [], 0
            chunk.extend(group)
            size += group_size
        if chunk:
            self.send(peer, Events(doc, tuple(chunk)))

    # ================================================================ internals: new events

    def _new_event(self, ev: Event, peer: str | None, hops: int, now: float,
                   held: set[str] | None = None) -> None:
        """An event is now in the log (accepted from a peer, or published locally).

        `held`: the children of this batch's links that the log holds, if known."""
        net = ev.network
        self._advance_head(ev)
        if peer is not None:
            self.emit(EventAccepted(net, ev, peer, hops))
        proto = self._docs.get(net)
        if proto is not None:
            if proto.state is DocState.JOINING and ev.kind is Kind.DOCUMENT:
                proto.document_stored(now)
            if proto.active:
                proto.on_held(ev, peer, hops, now, child=False)
                self._touch(proto)
        for parent in self._parents.get(net, ()):
            pp = self._docs.get(parent)
            if pp is not None and pp.active and pp.subscribed:
                pp.on_held(ev, peer, hops, now, child=True)
                self._touch(pp)
        if ev.kind is Kind.LINK and not ev.purged:
            child = self.codec.link_child(ev)
            self._children.setdefault(net, set()).add(child)
            self._parents.setdefault(child, set()).add(net)
            if proto is not None and proto.active and proto.subscribed:
                self._update_carried(child, now, held=None if held is None else child in held)
                if child not in self._carried and peer is not None and child not in self._pending:
                    proto.want_from(peer, child, now)
        elif ev.kind is Kind.DOCUMENT and net in self._parents:
            self._update_carried(net, now, held=True)

    def _advance_head(self, ev: Event) -> None:
        heads = self._heads.get(ev.network)
        if heads is None:
            heads = self._heads_of(ev.network)
        if ev.seq > heads.get(ev.author, 0):
            heads[ev.author] = ev.seq
            self._digest.pop(ev.network, None)  # recomputed when next advertised

    def _load_heads(self, networks: Iterable[str]) -> None:
        """Cache the heads of several networks with one query (see `_heads_of`)."""
        unknown = {net for net in networks if net not in self._heads}
        if unknown:
            found = self.store.heads_many(unknown)
            for net in unknown:
                self._heads[net] = found.get(net, {})

    def _heads_of(self, network: str) -> dict[str, int]:
        self._load_heads((network,))
        return self._heads[network]

    def _digest_of(self, network: str) -> int:
        """XOR of a hash per (network, author, head seq): equal digests, equal holdings."""
        digest = self._digest.get(network)
        if digest is None:
            digest = 0
            for author, seq in self._heads_of(network).items():
                digest ^= _chain_digest(network, author, seq)
            self._digest[network] = digest
        return digest

    def _index_links(self, doc: str) -> None:
        if doc in self._indexed:
            return
        self._indexed.add(doc)
        for stored in self.store.events(network=doc, kind=Kind.LINK):
            if not stored.event.purged:
                child = self.codec.link_child(stored.event)
                self._children.setdefault(doc, set()).add(child)
                self._parents.setdefault(child, set()).add(doc)

    def _update_carried(self, child: str, now: float, held: bool | None = None) -> None:
        """Carry `child` while a subscribed parent links it (`held`: whether the
        log holds it, if known)."""
        parent = self.has_subscribed_parent(child)
        if parent and child in self._carried and child not in self._docs:
            return  # the common case: one more link to a child we already carry
        should = parent and self._allowed_doc(child) and (self.store.has(child) if held is None else held)
        if should and child not in self._carried:
            self._carried.add(child)
        elif not should and child in self._carried:
            self._carried.discard(child)
            if not (child in self._docs and self._docs[child].active):
                self.emit(DocumentDropped(child, "no subscribed parent"))
        own = self._docs.get(child)
        if own is not None:
            own.mark_dirty()
            self._touch(own)

    # ================================================================ internals: local flags

    def _allowed_doc(self, doc: str) -> bool:
        return doc not in self._blocked_docs and self.policy.allows_document(doc)

    def _set_flags(self, doc: str, subscribed: bool | None, bookmarked: bool | None,
                   now: float) -> None:
        proto = self._docs.get(doc)
        if proto is None or proto.state is DocState.DROPPED:
            if not (subscribed or bookmarked):
                return
            if self.store.get(doc) is None:
                raise LocalProtocolError(f"document {doc[:16]} is not in the log: join it first")
            if not self._allowed_doc(doc):
                raise LocalProtocolError(f"document {doc[:16]} is refused by policy")
            proto = self._docs[doc] = DocumentProtocol(doc, self)
            proto.set_flags(subscribed, bookmarked)
            self.document_activated(doc)
        else:
            proto.set_flags(subscribed, bookmarked)
        self._touch(proto)

    def _apply_subscription(self, ev: Event, now: float) -> bool:
        """Apply one of our own subscription events; True if it lifted a block."""
        body = ev.content()
        doc, action = body["document"], Action(body["action"])
        try:
            if action is Action.SUBSCRIBE:
                self._set_flags(doc, True, None, now)
            elif action is Action.UNSUBSCRIBE:
                self._set_flags(doc, False, None, now)
            elif action is Action.BOOKMARK:
                self._set_flags(doc, None, True, now)
            elif action is Action.UNBOOKMARK:
                self._set_flags(doc, None, False, now)
            elif action is Action.BLOCK:
                self._blocked_docs.add(doc)
                self._set_flags(doc, False, False, now)
            elif action is Action.UNBLOCK:
                self._blocked_docs.discard(doc)
                return True
        except LocalProtocolError:
            pass  # a decision about a document we do not have: nothing to replicate
        return False

    def _restore(self) -> None:
        """Rebuild local flags from our own subscription events (after a restart)."""
        flags: dict[str, list[bool]] = {}
        for stored in self.store.events(network=self.node_id, kind=Kind.SUBSCRIPTION):
            body = stored.event.content()
            if not isinstance(body, dict):
                continue
            row = flags.setdefault(body["document"], [False, False])
            action = body["action"]
            if action in (Action.SUBSCRIBE, Action.UNSUBSCRIBE):
                row[0] = action == Action.SUBSCRIBE
            elif action in (Action.BOOKMARK, Action.UNBOOKMARK):
                row[1] = action == Action.BOOKMARK
            elif action == Action.BLOCK:
                self._blocked_docs.add(body["document"])
                row[0] = row[1] = False
            elif action == Action.UNBLOCK:
                self._blocked_docs.discard(body["document"])
        for doc, (subscribed, bookmarked) in flags.items():
            if (subscribed or bookmarked) and self.store.get(doc) is not None \
                    and self._allowed_doc(doc):
                proto = self._docs[doc] = DocumentProtocol(doc, self)
                proto.set_flags(subscribed, bookmarked)
                self.document_activated(doc)
        for doc in list(self._docs):
            self.subscription_changed(doc, 0.0)

    # ================================================================ internals: bookkeeping

    def _touch(self, proto: DocumentProtocol) -> None:
        self._touched[proto.doc] = proto

    def _finish(self, now: float) -> None:
        """Flush every document touched by this input and refresh the timers."""
        rounds = 0
        while self._touched:
            rounds += 1
            touched, self._touched = self._touched, {}
            for doc_id, proto in touched.items():
                proto.flush(now)
                if proto.state is DocState.DROPPED:
                    if self._docs.get(doc_id) is proto:
                        del self._docs[doc_id]
                    self._timers.pop(doc_id, None)
                    continue
                deadline = proto.get_timer()
                if deadline is None:
                    self._timers.pop(doc_id, None)
                else:
                    self._timers[doc_id] = deadline
            if rounds > 100:  # a cycle of links flipping each other: finish on the next input
                break
