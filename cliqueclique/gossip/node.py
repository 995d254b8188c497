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

The machine is one class in parts, each a module of its own: intake.py
(events from peers to the log and back), outgoing.py (pushes, graft answers,
vectors), index.py (chain heads, digests, progress, which documents link
which), restore.py (a restart: flags at once, links on first use), flags.py
(subscriptions, bookmarks, blocks), forgetting.py (what garbage
collection may remove from the log, and forgetting it), with admission.py (the policy's
answers), forks.py (forked chains) and reconcile.py (answering vectors)
beside them; this module holds the state and the driver contract.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Iterable, MutableSet

from ..errors import InvalidEvent
from ..eventlog import Event, EventStore, Kind
from . import reconcile
from .admission import Gate
from .errors import (
    AbsurdValue,
    InvalidPeerEvent,
    LocalProtocolError,
    RemoteProtocolError,
    Unsolicited,
    WrongDocument,
)
from .flags import LocalFlags
from .forgetting import Forgetting
from .forks import Forks
from .index import LogIndex
from .intake import EventIntake
from .limits import PeerBoundedBuffer, memory_report
from .messages import (
    MAX_ITEMS,
    Ack,
    Delete,
    Events,
    Graft,
    Have,
    IHave,
    Message,
    More,
    Prune,
    Reachable,
    SeqnoRequest,
    Shed,
    Suggest,
    Update,
    Vector,
    decode_frame,
    pack_frames,
)
from .outgoing import EventSending
from .outputs import (
    AppEvent,
    DocumentDropped,
    DocumentHeld,
    EventCodec,
    GossipConfig,
    PeerMisbehaved,
    PeerReachable,
    Policy,
    StoreEvents,
)
from .protocol import DocumentProtocol
from .records import DocumentInfo, GossipStats, Pending
from .restore import LazyCarried, LazyChildren, LazyLinks, LazyParents, restore
from .states import DocState

MAX_SERIAL = 2**62
TIMERS_PER_CALL = 200  # documents whose timers one `handle_timer` call runs


class GossipNode(EventIntake, EventSending, LogIndex, LocalFlags, Forgetting):
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
        self._pending: dict[str, Pending] = {}
        self._pending_heads: dict[tuple[str, str], int] = {}
        # Out-of-order events, and purged events waiting for their deletion
        # (a deleted document travels as its header beside its deletion, in
        # any order): bounded in bytes per peer and in total (limits.py).
        c = self.config
        self._orphans: PeerBoundedBuffer[tuple[str, str, int], Pending] = PeerBoundedBuffer(
            c.orphan_peer_bytes, c.orphan_total_bytes, c.max_orphans)
        self._deleting: Counter[str] = Counter()  # documents whose deletion is on its way to the log
        self._reconciler = reconcile.Reconciler(self)
        self._gate = Gate(self.codec)  # what the policy refuses or holds back (admission.py)
        self._pending_from: Counter[str] = Counter()  # peer -> its events on their way to the log
        self._heads: dict[str, dict[str, int]] = {}
        self._digest: dict[str, int] = {}
        # Filled per document on first use after a restart (restore.py).
        self._lazy = LazyLinks(self)
        self._children: dict[str, set[str]] = LazyChildren(self._lazy)
        self._parents: dict[str, tuple[str, ...]] = LazyParents(self._lazy)  # child -> who links it
        self._indexed: set[str] = set()
        self._carried: MutableSet[str] = LazyCarried(self._lazy)
        self._blocked_docs: set[str] = set()
        self.forks = Forks(store)
        self._unsolicited: Counter[str] = Counter()
        self._misbehaviour: Counter[str] = Counter()
        self._touched: dict[str, DocumentProtocol] = {}
        self._changed: set[str] = set()  # documents touched since `changed_documents` last asked
        self._timers: dict[str, float] = {}
        restore(self)
        self._changed.update(self._docs)

    # ================================================================ driver inputs

    def peer_connected(self, peer: str, now: float, hint: str = "", tcp_port: int = 0) -> None:
        """A link to `peer` is up: tell it which documents we hold, and the TCP port
        we accept connections on if `tcp_port` (the driver gives it for TCP links
        only: over I2P it would tie our destination to a host)."""
        self._connected[peer] = hint
        if tcp_port:
            self.send(peer, Reachable(tcp_port))
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
        due = 0
        for doc_id, deadline in list(self._timers.items()):
            if deadline <= now and doc_id in self._docs:
                doc = self._docs[doc_id]
                doc.handle_timer(now)
                self._timers.pop(doc_id)  # back in at the end (`_finish`): no document starves the others
                self._touch(doc)
                due += 1
                if due >= TIMERS_PER_CALL:  # the rest are still due: the driver calls again at once,
                    break                   # answering other input in between (a big log's start)
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

    def changed_documents(self) -> set[str]:
        """The documents whose state (flags, links, peers' heads, held events)
        any input touched since the last call (a status publisher refreshes only these)."""
        changed, self._changed = self._changed, set()
        return changed

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

    def set_hint(self, peer: str, hint: str, now: float) -> None:
        """Where a connected peer that had no address can be dialled (see `Reachable`):
        its links may now be suggested to those short of peers."""
        if peer not in self._connected or self._connected[peer]:
            return
        self._connected[peer] = hint
        for proto in self._docs.values():
            if peer in proto.links:
                proto.mark_dirty()
                self._touch(proto)
        self._finish(now)

    def document_wire(self, doc: str) -> bytes | None:
        ev = self.store.get(doc)
        return None if ev is None else ev.wire

    def known_ids(self, ids: Iterable[str]) -> set[str]:
        ids = list(ids)
        return self.store.present(ids) | {i for i in ids if i in self._pending}

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
        self._hold_pending(Pending(ev, proto.doc, peer, 1))
        self.emit(StoreEvents((ev,)))

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
        if isinstance(msg, Reachable):
            if msg.port and not self._connected.get(peer):
                self.emit(PeerReachable(peer, msg.port))
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
            # The peer let the document go (maybe forgot it: gc.py): the vector it
            # sends on coming back is a new request, even if it equals an old one.
            self._reconciler.replies.finished(peer, msg.doc)
            if proto is not None:
                proto.on_delete(peer, msg.serial, now)
                self._touch(proto)
            return
        if isinstance(msg, Update) and proto is None:
            proto = self._serve_joiner(peer, msg, now)
            if proto is None:
                return
        if proto is None:
            if not isinstance(msg, Ack | Prune | Shed | SeqnoRequest):  # these can cross a drop: no fault
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
        elif isinstance(msg, Shed):
            proto.on_shed(peer, now)
        elif isinstance(msg, SeqnoRequest):
            proto.on_seqno_request(peer, msg, now)

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

    # ================================================================ internals: bookkeeping

    def _touch(self, proto: DocumentProtocol) -> None:
        self._touched[proto.doc] = proto

    def _finish(self, now: float) -> None:
        """Flush every document touched by this input and refresh the timers."""
        rounds = 0
        while self._touched:
            rounds += 1
            touched, self._touched = self._touched, {}
            self._changed.update(touched)
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
