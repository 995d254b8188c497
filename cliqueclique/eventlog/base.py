"""What every event store does the same way: validate and append batches.

`EventStore.append_many` is the one door into a log. For a batch it:

1. decodes the items chunk by chunk, sets aside duplicates and hands each
   chunk's new events to the signature checks (helper processes for big
   batches, see `signatures.py`), which run while the next chunk decodes;
2. inside one transaction, checks each event's signature verdict, chain
   position and authorisation against the log *plus the accepted part of
   this batch*, writes the accepted ones (group commit), and lets the store
   purge content that an accepted deletion retracts.

Each item gets an `AppendResult`: accepted (with its new position), duplicate
(an idempotent no-op) or rejected (with the specific `InvalidEvent`). A
rejected event changes nothing; with `atomic=True` one rejection rolls back
the whole batch (imports use this). Concrete stores supply the primitives.

The unit of acceptance is the event: each is accepted or refused on its own,
except that a link whose child document was refused in the same batch is
refused with it (`DependencyRejected`), wherever the two stand in the batch.
Otherwise a forged reply would leave a valid link to a document that can
never arrive from there, a dangling placeholder on every node.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ..errors import BadPrev, BatchRolledBack, DependencyRejected, Equivocation, InvalidEvent, PurgedContent
from .codec import decode_wire, verify_signature
from .events import Event, Kind, StoredEvent
from .signatures import VERIFY_CHUNK, BatchSignatures, SignatureCache
from .validation import check_authorisation, check_chain

#: Accepted events are written in chunks of this size, so SQLite works while
#: the helpers still verify later parts of the batch.
WRITE_CHUNK = 512
#: fork evidence kept (outside the log): a fork costs its author one signed event
MAX_EVIDENCE = 10_000


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class AppendResult:
    event_id: str | None
    status: Status
    position: int | None = None
    error: InvalidEvent | None = None

    @property
    def reason(self) -> str | None:
        return None if self.error is None else str(self.error)


class BatchWriter(Protocol):
    def write(self, events: list[Event]) -> list[int]:
        """Store accepted events (purging what their deletions retract); positions."""

    def rollback(self) -> None:
        """Discard everything written in this transaction."""


@dataclass
class _Batch:
    """The accepted-so-far part of a batch, layered over the store's lookups."""

    store: EventStore
    events: dict[str, Event] = field(default_factory=dict)
    heads: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    deletions: set[str] = field(default_factory=set)
    #: document -> author of a (signature-checked) deletion of it later in this batch
    announced: dict[str, str] = field(default_factory=dict)
    #: document -> its `editors` events accepted so far in this batch
    grants: dict[str, list[Event]] = field(default_factory=dict)
    #: forum -> its `moderation` events accepted so far in this batch
    moderation: dict[str, list[Event]] = field(default_factory=dict)

    def event(self, event_id: str) -> Event | None:
        return self.events.get(event_id) or self.store.get(event_id)

    def head(self, author: str, network: str) -> tuple[int, str] | None:
        return self.heads.get((author, network)) or self.store.head(author, network)

    def at(self, author: str, network: str, seq: int) -> str | None:
        for e in self.events.values():
            if (e.author, e.network, e.seq) == (author, network, seq):
                return e.id
        return self.store.at(author, network, seq)

    def is_deleted(self, document_id: str) -> bool:
        return document_id in self.deletions or self.store.is_deleted(document_id)

    def deleted(self, document_id: str, author: str) -> bool:
        if document_id in self.deletions or self.store.is_deleted(document_id):
            return True
        # Lookahead: a deleted document travels header-only *before* its deletion
        # (the chain puts the document first), so trust a deletion further on in
        # the batch by the document's own author; `append_many` re-checks it.
        return self.announced.get(document_id) == author

    def editor_grants(self, document_id: str, author: str) -> list[Event]:
        batch = [e for e in self.grants.get(document_id, ()) if e.author == author]
        return self.store.editor_grants(document_id, author) + batch

    def moderation_by(self, forum: str, author: str) -> list[Event]:
        batch = [e for e in self.moderation.get(forum, ()) if e.author == author]
        return self.store.moderation_by(forum, author) + batch

    def add(self, event: Event) -> None:
        self.events[event.id] = event
        self.heads[(event.author, event.network)] = (event.seq, event.id)
        if _deletes_document(event):
            self.deletions.add(event.network)
        elif event.kind is Kind.EDITORS:
            self.grants.setdefault(event.network, []).append(event)
        elif event.kind is Kind.MODERATION:
            self.moderation.setdefault(event.network, []).append(event)


@dataclass(frozen=True, slots=True)
class ForgetRecord:
    """What garbage collection removed from the log (gc.py): a whole network."""

    network: str
    document: bool  # the network's document event was held (else stray events only)
    events: int
    unwanted_since: int  # ms, wall clock: when a sweep first found it unwanted
    forgotten_at: int  # ms


#: forget records kept (the oldest go first)
MAX_FORGET_RECORDS = 100_000


def _deletes_document(event: Event) -> bool:
    return event.kind is Kind.DELETION and event.ref == event.network


def _decode(item: Event | bytes) -> Event:
    return item if isinstance(item, Event) else decode_wire(item)


class EventStore(ABC):
    """The interface shared by the SQLite log and the in-memory log."""

    signature_cache: SignatureCache | None = None

    # --- primitives a concrete store provides -------------------------------------

    @abstractmethod
    def get(self, event_id: str) -> Event | None:
        """The event with this id, or None."""

    @abstractmethod
    def head(self, author: str, network: str) -> tuple[int, str] | None:
        """(seq, id) of the author's latest event in the network, or None."""

    @abstractmethod
    def heads_many(self, networks: Iterable[str]) -> dict[str, dict[str, int]]:
        """network -> author -> seq of each author's latest event in it
        (networks holding no event are left out)."""

    def link_children(self, networks: Iterable[str]) -> dict[str, set[str]]:
        """network -> the children its (unpurged) links name (networks without
        links are left out)."""
        found: dict[str, set[str]] = {}
        for network in networks:
            for stored in self.events(network=network, kind=Kind.LINK):
                if stored.event.ref is not None and not stored.event.purged:
                    found.setdefault(network, set()).add(stored.event.ref)
        return found

    def link_networks(self, children: Iterable[str]) -> dict[str, set[str]]:
        """child -> the networks whose (unpurged) links name it: the inverse of
        `link_children` (children no link names are left out)."""
        wanted = set(children)
        found: dict[str, set[str]] = {}
        for stored in self.events(kind=Kind.LINK):
            event = stored.event
            if event.ref in wanted and not event.purged:
                found.setdefault(event.ref, set()).add(event.network)
        return found

    def events_in(self, networks: Iterable[str]) -> list[Event]:
        """Every event of these networks, each network in log order."""
        return [stored.event for network in networks for stored in self.events(network=network)]

    @abstractmethod
    def chain_after(self, author: str, network: str, seq: int) -> list[Event]:
        """The author's events in the network after `seq`, in chain order."""

    @abstractmethod
    def at(self, author: str, network: str, seq: int) -> str | None:
        """Id of the author's event at `seq` in the network, or None."""

    @abstractmethod
    def is_deleted(self, document_id: str) -> bool:
        """True if the log holds an accepted deletion of this document."""

    @abstractmethod
    def present(self, event_ids: Iterable[str]) -> set[str]:
        """The subset of these ids the log holds."""

    @abstractmethod
    def editor_grants(self, document_id: str, author: str) -> list[Event]:
        """The `editors` events `author` (the document's author) wrote in the
        document's network, in chain order."""

    def moderation_by(self, forum: str, author: str) -> list[Event]:
        """The `moderation` events `author` wrote in the forum's network, in chain order."""
        return [s.event for s in self.events(network=forum, author=author, kind=Kind.MODERATION)]

    @abstractmethod
    def _writing(self) -> AbstractContextManager[BatchWriter]:
        """One write transaction: commits when the block ends, unless the
        writer was rolled back (or the block raised)."""

    @abstractmethod
    def _record_equivocation(self, event: Event, existing: str | None) -> None:
        """Keep a verified equivocating event as evidence, outside the log."""

    @abstractmethod
    def events(
        self,
        *,
        network: str | None = None,
        author: str | None = None,
        kind: Kind | str | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> Iterator[StoredEvent]:
        """Stored events in log order, filtered."""

    @abstractmethod
    def equivocations(self) -> list[tuple[str, bytes, str | None]]:
        """Evidence: (event id, wire bytes, id it conflicts with)."""

    def forks(self) -> dict[tuple[str, str], int]:
        """(author, network) -> the first seq where the evidence shows two events
        signed by the author (`seq` for a second event at a held position,
        `seq - 1` for one whose `prev` names an event we do not hold)."""
        out: dict[tuple[str, str], int] = {}
        for event_id, wire, _ in self.equivocations():
            event = decode_wire(wire)
            held = self.at(event.author, event.network, event.seq)
            seq = event.seq if held is not None and held != event_id else event.seq - 1
            key = (event.author, event.network)
            out[key] = min(seq, out.get(key, seq))
        return out

    # --- garbage collection (gc.py): forgetting whole networks ------------------------

    def networks(self) -> set[str]:
        """Every network the log holds an event of."""
        return {stored.event.network for stored in self.events()}

    def networks_by(self, author: str) -> set[str]:
        """The networks holding an event signed by `author`."""
        return {stored.event.network for stored in self.events(author=author)}

    def thread_parents(self, docs: Iterable[str]) -> dict[str, set[str]]:
        """doc -> the documents right above it in threads: the parents of its
        natural (unpurged, undeleted) links, and the children of reversed links
        in its own network (views/threads.py)."""
        wanted = set(docs)
        found: dict[str, set[str]] = {}
        deleted = {s.event.ref for s in self.events(kind=Kind.DELETION)}
        for stored in self.events(kind=Kind.LINK):
            event = stored.event
            body = event.content()
            if not isinstance(body, dict) or event.id in deleted:
                continue
            natural = body["direction"] == "natural"
            above, below = (body["parent"], body["child"]) if natural else (body["child"], body["parent"])
            if below in wanted:
                found.setdefault(below, set()).add(above)
        return found

    @abstractmethod
    def gc_transaction(self, *, write: bool = True) -> AbstractContextManager[None]:
        """One transaction for a garbage collection sweep: what it reads and
        forgets commits (or, with `write=False`, is rolled back) as a whole."""

    @abstractmethod
    def gc_marks(self) -> dict[str, int]:
        """network -> when (ms) a sweep first found it unwanted."""

    @abstractmethod
    def set_gc_marks(self, add: Mapping[str, int], remove: Iterable[str]) -> None:
        """Record newly unwanted networks and clear the marks of wanted ones."""

    @abstractmethod
    def forget(self, networks: Mapping[str, int], at: int) -> dict[str, int]:
        """Remove every event of these networks (network -> unwanted since, ms),
        with the views' rows and fork evidence derived from them, clear their
        marks and record each in `forgotten` (at `at`, ms). Call inside
        `gc_transaction`. A network's chains go whole, so `verify` still holds.

        Returns:
            network -> events removed.
        """

    @abstractmethod
    def forgotten(self, limit: int | None = None) -> list[ForgetRecord]:
        """What garbage collection forgot, newest first."""

    # --- shared behaviour -------------------------------------------------------------

    def has(self, event_id: str) -> bool:
        return bool(self.present([event_id]))

    def append(self, item: Event | bytes) -> AppendResult:
        """Append one event.

        Raises:
            InvalidEvent: (the specific subclass) if it is rejected.
        """
        (result,) = self.append_many([item])
        if result.error is not None:
            raise result.error
        return result

    def append_many(self, items: Iterable[Event | bytes], *, atomic: bool = False) -> list[AppendResult]:
        """Validate and append a batch in one transaction; one result per item."""
        items = list(items)
        signatures = BatchSignatures(len(items), self.signature_cache)
        results, fresh = self._decode(items, signatures)
        undecodable = any(r is not None and r.status is Status.REJECTED for r in results)
        refused_early = {r.event_id for r in results
                         if r is not None and r.status is Status.REJECTED and r.event_id is not None}
        excluded: set[str] = set()
        orphans: set[str] = set()
        while True:
            with self._writing() as writer:
                accepted, evidence, rejected = self._check_and_write(
                    fresh, signatures, excluded, writer, orphans, refused_early)
                # A header-only event let in on the strength of a deletion later in
                # the batch fails if that deletion failed (and so does what follows it).
                deleted = {e.network for _, e, _ in accepted if _deletes_document(e)}
                unjustified = {e.id for _, e, _ in accepted
                               if e.purged and e.network not in deleted and not self.is_deleted(e.network)}
                # A link written before its child came up refused in this batch.
                refused = {error.event_id for error in rejected.values()}
                orphaned = {e.id for _, e, _ in accepted if e.kind is Kind.LINK and e.ref in refused}
                retry = unjustified or orphaned
                ok = not retry and not (atomic and (rejected or undecodable))
                if not ok:
                    writer.rollback()
            if not retry:
                break
            excluded |= unjustified
            orphans |= orphaned
        for event, existing in evidence:
            self._record_equivocation(event, existing)
        for index, error in rejected.items():
            results[index] = AppendResult(error.event_id, Status.REJECTED, error=error)
        for index, event, position in accepted:
            results[index] = (AppendResult(event.id, Status.ACCEPTED, position=position) if ok else
                              AppendResult(event.id, Status.REJECTED, error=BatchRolledBack(event.id)))
        return [r for r in results if r is not None]

    def _decode(
        self, items: list[Event | bytes], signatures: BatchSignatures
    ) -> tuple[list[AppendResult | None], list[tuple[int, Event]]]:
        """Decode chunk by chunk, set duplicates aside and start checking the
        signatures of each chunk's new events before decoding the next.
        Returns (results so far, fresh events by batch index)."""
        results: list[AppendResult | None] = [None] * len(items)
        fresh: list[tuple[int, Event]] = []
        seen: set[str] = set()
        for start in range(0, len(items), VERIFY_CHUNK):
            decoded = []
            for index in range(start, min(start + VERIFY_CHUNK, len(items))):
                try:
                    decoded.append((index, _decode(items[index])))
                except InvalidEvent as e:
                    results[index] = AppendResult(e.event_id, Status.REJECTED, error=e)
            held = self.present(e.id for _, e in decoded)
            new = []
            for index, event in decoded:
                if event.id in held or event.id in seen:
                    results[index] = AppendResult(event.id, Status.DUPLICATE)
                else:
                    new.append((index, event))
                seen.add(event.id)
            signatures.check(new)
            fresh.extend(new)
        return results, fresh

    def _check_and_write(
        self,
        fresh: list[tuple[int, Event]],
        signatures: BatchSignatures,
        excluded: set[str],
        writer: BatchWriter,
        orphans: AbstractSet[str] = frozenset(),
        refused_early: AbstractSet[str] = frozenset(),
    ) -> tuple[list[tuple[int, Event, int]], list[tuple[Event, str | None]], dict[int, InvalidEvent]]:
        """One validation pass in batch order, writing accepted events chunk by
        chunk (so SQLite works while helpers still verify later chunks).
        `orphans` are links found (on an earlier pass) to precede their refused
        child; `refused_early` the ids refused before this pass (undecodable).
        Returns (accepted with positions, equivocation evidence, rejections)."""
        refused = set(refused_early)
        # Signatures of announced deletions are checked when the pass reaches them.
        batch = _Batch(self, announced={
            e.network: e.author for _, e in fresh if _deletes_document(e) and e.id not in excluded})
        accepted: list[tuple[int, Event, int]] = []
        pending: list[tuple[int, Event]] = []
        evidence: list[tuple[Event, str | None]] = []
        rejected: dict[int, InvalidEvent] = {}

        def write() -> None:
            positions = writer.write([e for _, e in pending])
            accepted.extend((i, e, p) for (i, e), p in zip(pending, positions))
            pending.clear()

        for index, event in fresh:
            try:
                sig_error = signatures.error(index, event)
                if sig_error is not None:
                    raise sig_error
                if event.id in excluded:
                    raise PurgedContent(event.id, "its deletion was rejected")
                if event.id in orphans or (event.kind is Kind.LINK and event.ref in refused):
                    raise DependencyRejected(event.id, f"child {event.ref and event.ref[:16]}")
                check_chain(event, batch)
                check_authorisation(event, batch)
            except Equivocation as e:
                evidence.append((event, batch.at(event.author, event.network, event.seq)))
                rejected[index] = e
                continue
            except BadPrev as e:
                # Signed on top of an event we do not hold at seq - 1: the author
                # forked there (a relay cannot forge `prev`), evidence like the above.
                evidence.append((event, batch.at(event.author, event.network, event.seq - 1)))
                rejected[index] = e
                refused.add(event.id)
                continue
            except InvalidEvent as e:
                rejected[index] = e
                refused.add(event.id)
                continue
            batch.add(event)
            pending.append((index, event))
            if len(pending) >= WRITE_CHUNK:
                write()
        if pending:
            write()
        return accepted, evidence, rejected

    # --- audit --------------------------------------------------------------------------

    def verify(self) -> list[tuple[str, str]]:
        """Re-check every stored event: bytes, id, signature, chain, purges.

        Returns:
            (event id, reason) for each bad event; empty if the log is sound.
        """
        problems: list[tuple[str, str]] = []
        heads: dict[tuple[str, str], tuple[int, str]] = {}
        for stored in self.events():
            event = stored.event
            try:
                again = decode_wire(event.wire)
                if again.id != event.id:
                    raise _Mismatch(event.id, "stored id is not the hash of the stored header")
                if _indexed(again) != _indexed(event):
                    raise _Mismatch(event.id, "stored columns disagree with the signed header")
                verify_signature(again)
                head = heads.get((event.author, event.network))
                expected = (head[0] + 1, head[1]) if head else (1, None)
                if (event.seq, event.prev) != expected:
                    raise _Mismatch(event.id, f"chain broken at seq {event.seq}")
                if event.purged and not self.is_deleted(event.network):
                    raise _Mismatch(event.id, "content purged without a deletion")
            except InvalidEvent as e:
                problems.append((event.id, str(e)))
            heads[(event.author, event.network)] = (event.seq, event.id)
        return problems


def _indexed(e: Event) -> tuple[object, ...]:
    return (e.kind, e.author, e.network, e.seq, e.prev, e.timestamp)


class _Mismatch(InvalidEvent):
    reason = "stored event does not verify"
