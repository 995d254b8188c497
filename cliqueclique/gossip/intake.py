"""Events coming in: from a peer's message to the log and back.

Part of `GossipNode` (a mixin; node.py holds the state it works on). A
message's events are filtered to the document's scope, put to the policy
(admission.py: refused, held back or admitted), checked against what is held
or on its way (duplicates, gaps kept as orphans until their chain catches
up) and sent to the log as `StoreEvents`; `events_stored` takes the log's
answers: accepted events go on (`_new_event`), rejected ones are blamed on
the peer that sent them unless nobody is at fault (a missing dependency, a
gap) or the author is (a fork: forks.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..errors import BadPrev, BatchRolledBack, ChainGap, Equivocation, MissingDependency
from ..eventlog import AppendResult, Event, Kind, Status
from .limits import event_bytes
from .outputs import EventAccepted, ForkSeen, Policy, Refusal, StoreEvents
from .records import NO_IDS, Pending, deletes_document
from .states import DocState

if TYPE_CHECKING:
    from .protocol import DocumentProtocol

_NOT_BLAME = (MissingDependency, ChainGap, BatchRolledBack)
_FORKS = (Equivocation, BadPrev)  # the author's fault, whoever relayed it (forks.py)
_BLOCKED, _FORKED = Refusal("blocked"), Refusal("forked")
#: refused networks of one document asked for again one vector each (more: one whole-scope vector)
NARROW_VECTORS = 64

class EventIntake:
    """The intake half of `GossipNode` (see the module doc)."""

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
            if deletes_document(ev):
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

    def _accept_events(self, peer: str, proto: DocumentProtocol, items: list[tuple[int, Event]],
                       now: float) -> None:
        link = proto.links.get(peer)
        if not proto.active or link is None or not link.live:
            self._unsolicited_input(peer, proto.doc)
            return
        doc = proto.doc
        children = self._children.get(doc, NO_IDS)
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

    def _fork_found(self, ev: Event, pending: Pending) -> None:
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
        for doc, networks in self._gate.forget_refusals().items():
            proto = self._docs.get(doc)
            if proto is None or not proto.active:
                continue
            # Narrow vectors (one per refused network) while they are few: the
            # whole-scope one may be what the peer answered a moment ago.
            only = networks if len(networks) <= NARROW_VECTORS else None
            for peer, link in proto.links.items():
                if link.live:
                    self.send_vector(peer, proto, only)
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
        gaps: set[str] = set()  # networks with an event missing before one received
        pending_ids = self._pending
        doc_heads: dict[str, int] = {}
        if link is not None:
            doc_heads = link.heads.setdefault(doc, doc_heads)
        # Documents this message deletes: their purged header (and edits) may go in with it.
        deleted_here = {ev.network for _, ev in wanted if deletes_document(ev)}
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
            pending = Pending(ev, doc, peer, hops)
            waits = ev.purged and net not in deleted_here and not self._deletion_known(net)
            if ev.seq > expected or waits:
                # A gap, or a purged event whose deletion we do not hold yet (it
                # comes later in its chain, maybe in a later frame): wait, blame nobody.
                if not waits:
                    gaps.add(net)
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
        if gaps:
            # "Send me what I lack" of those chains only: in a burst after a tree
            # repair gaps are common, and a whole-scope vector of a forum with a
            # thousand replies is some 50 KB each time (bench/gossip.py churn).
            self.send_vector(peer, proto, only=gaps)

    def _expected(self, author: str, network: str) -> int:
        seq = self._pending_heads.get((author, network))
        if seq is None:
            seq = self._heads_of(network).get(author, 0)
        return seq + 1

    def _take_orphans(self, author: str, network: str, seq: int) -> list[Event]:
        """The buffered run of a chain from `seq` on, up to (not including) a purged
        event whose deletion is neither held, on its way, nor further on in the run."""
        run: list[Pending] = []
        while (pending := self._orphans.get((author, network, seq + len(run)))) is not None:
            if pending.event.id in self._pending:
                break
            run.append(pending)
        if not self._deletion_known(network) and not any(deletes_document(p.event) for p in run):
            run = run[:next((i for i, p in enumerate(run) if p.event.purged), len(run))]
        out = []
        for pending in run:
            self._orphans.pop((author, network, seq))
            self._hold_pending(pending)
            self._pending_heads[(author, network)] = seq
            out.append(pending.event)
            seq += 1
        return out

    def _hold_pending(self, pending: Pending) -> None:
        """`pending` goes to the log now (the caller emits it in a `StoreEvents`)."""
        self._pending[pending.event.id] = pending
        self._pending_from[pending.peer] += 1
        if deletes_document(pending.event):
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
            self._add_parent(child, net)
            if proto is not None and proto.active and proto.subscribed:
                self._update_carried(child, now, held=None if held is None else child in held)
                if child not in self._carried and peer is not None and child not in self._pending:
                    proto.want_from(peer, child, now)
        elif ev.kind is Kind.DOCUMENT and net in self._parents:
            self._update_carried(net, now, held=True)
