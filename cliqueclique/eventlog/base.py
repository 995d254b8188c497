"""What every event store does the same way: validate and append batches.

`EventStore.append_many` is the one door into a log. For a batch it:

1. decodes every item (wire bytes or `Event`) and sets aside duplicates;
2. verifies the remaining signatures, in parallel threads for big batches
   (pynacl releases the GIL, so both cores verify while nothing else runs);
3. inside one transaction, checks each event's chain position and
   authorisation against the log *plus the accepted part of this batch*,
   writes the accepted ones (group commit), and lets the store purge content
   that an accepted deletion retracts.

Each item gets an `AppendResult`: accepted (with its new position), duplicate
(an idempotent no-op) or rejected (with the specific `InvalidEvent`). A
rejected event changes nothing; with `atomic=True` one rejection rolls back
the whole batch (imports use this). Concrete stores supply the primitives.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..errors import BatchRolledBack, Equivocation, InvalidEvent, PurgedContent
from .codec import decode_wire, verify_signature
from .events import Event, Kind, StoredEvent
from .validation import check_authorisation, check_chain

PARALLEL_VERIFY_MIN = 256  # below this, thread hand-off costs more than it saves
_pool: ThreadPoolExecutor | None = None


def _verify_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="verify")
    return _pool


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


class SignatureCache:
    """Remembers (id, signature) pairs that verified: a pure function of bytes.

    Many simulated nodes in one process can share one cache so each signature
    is checked once, not once per node.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self._ok: set[tuple[str, bytes]] = set()
        self._limit = limit

    def verify(self, event: Event) -> None:
        key = (event.id, event.signature)
        if key in self._ok:
            return
        verify_signature(event)
        if len(self._ok) >= self._limit:
            self._ok.clear()
        self._ok.add(key)


def _verify_all(events: Sequence[Event], cache: SignatureCache | None) -> list[InvalidEvent | None]:
    check = cache.verify if cache else verify_signature

    def run(chunk: Sequence[Event]) -> list[InvalidEvent | None]:
        out: list[InvalidEvent | None] = []
        for event in chunk:
            try:
                check(event)
                out.append(None)
            except InvalidEvent as e:
                out.append(e)
        return out

    if len(events) < PARALLEL_VERIFY_MIN or cache is not None:
        return run(events)
    workers = os.cpu_count() or 2
    size = -(-len(events) // workers)
    chunks = [events[i : i + size] for i in range(0, len(events), size)]
    return [r for part in _verify_pool().map(run, chunks) for r in part]


@dataclass
class _Batch:
    """The accepted-so-far part of a batch, layered over the store's lookups."""

    store: EventStore
    events: dict[str, Event] = field(default_factory=dict)
    heads: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    deletions: set[str] = field(default_factory=set)
    #: document -> author of a (signature-checked) deletion of it later in this batch
    announced: dict[str, str] = field(default_factory=dict)

    def event(self, event_id: str) -> Event | None:
        return self.events.get(event_id) or self.store.get(event_id)

    def head(self, author: str, network: str) -> tuple[int, str] | None:
        return self.heads.get((author, network)) or self.store.head(author, network)

    def at(self, author: str, network: str, seq: int) -> str | None:
        for e in self.events.values():
            if (e.author, e.network, e.seq) == (author, network, seq):
                return e.id
        return self.store.at(author, network, seq)

    def deleted(self, document_id: str, author: str) -> bool:
        if document_id in self.deletions or self.store.is_deleted(document_id):
            return True
        # Lookahead: a deleted document travels header-only *before* its deletion
        # (the chain puts the document first), so trust a deletion further on in
        # the batch by the document's own author; `append_many` re-checks it.
        return self.announced.get(document_id) == author

    def add(self, event: Event) -> None:
        self.events[event.id] = event
        self.heads[(event.author, event.network)] = (event.seq, event.id)
        if _deletes_document(event):
            self.deletions.add(event.network)


def _deletes_document(event: Event) -> bool:
    return event.kind is Kind.DELETION and event.content()["target"] == event.network


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
    def at(self, author: str, network: str, seq: int) -> str | None:
        """Id of the author's event at `seq` in the network, or None."""

    @abstractmethod
    def is_deleted(self, document_id: str) -> bool:
        """True if the log holds an accepted deletion of this document."""

    @abstractmethod
    def present(self, event_ids: Iterable[str]) -> set[str]:
        """The subset of these ids the log holds."""

    @abstractmethod
    def _commit(self, events: list[Event], atomic_ok: bool) -> list[int]:
        """Write accepted events in one transaction (purging what deletions retract)
        and return their positions; roll back and write nothing if not atomic_ok."""

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
        results: list[AppendResult | None] = []
        decoded: list[tuple[int, Event]] = []
        for index, item in enumerate(items):
            try:
                decoded.append((index, _decode(item)))
                results.append(None)
            except InvalidEvent as e:
                results.append(AppendResult(e.event_id, Status.REJECTED, error=e))
        held = self.present(e.id for _, e in decoded)
        fresh: list[tuple[int, Event]] = []
        seen: set[str] = set()
        for index, event in decoded:
            if event.id in held or event.id in seen:
                results[index] = AppendResult(event.id, Status.DUPLICATE)
            else:
                seen.add(event.id)
                fresh.append((index, event))
        bad_signatures = _verify_all([e for _, e in fresh], self.signature_cache)
        excluded: set[str] = set()
        while True:
            accepted, evidence, rejected = self._check_batch(fresh, bad_signatures, excluded)
            # A header-only event was let in on the strength of a deletion later in
            # the batch; if that deletion failed, so does the event (and what follows it).
            unjustified = {e.id for _, e in accepted
                           if e.purged and not self.is_deleted(e.network)
                           and e.network not in {d.network for _, d in accepted if _deletes_document(d)}}
            if not unjustified:
                break
            excluded |= unjustified
        for index, error in rejected.items():
            results[index] = AppendResult(error.event_id, Status.REJECTED, error=error)
        ok = not atomic or all(r is None or r.status is not Status.REJECTED for r in results)
        positions = self._commit([e for _, e in accepted], ok) if accepted else []
        for event, existing in evidence:
            self._record_equivocation(event, existing)
        if ok:
            for (index, event), position in zip(accepted, positions):
                results[index] = AppendResult(event.id, Status.ACCEPTED, position=position)
        else:
            for index, event in accepted:
                results[index] = AppendResult(event.id, Status.REJECTED, error=BatchRolledBack(event.id))
        return [r for r in results if r is not None]

    def _check_batch(
        self, fresh: list[tuple[int, Event]], bad_signatures: list[InvalidEvent | None], excluded: set[str]
    ) -> tuple[list[tuple[int, Event]], list[tuple[Event, str | None]], dict[int, InvalidEvent]]:
        """One validation pass in batch order: (accepted, equivocation evidence, rejections)."""
        batch = _Batch(self, announced={
            e.network: e.author for (_, e), bad in zip(fresh, bad_signatures)
            if _deletes_document(e) and bad is None and e.id not in excluded})
        accepted: list[tuple[int, Event]] = []
        evidence: list[tuple[Event, str | None]] = []
        rejected: dict[int, InvalidEvent] = {}
        for (index, event), sig_error in zip(fresh, bad_signatures):
            try:
                if sig_error is not None:
                    raise sig_error
                if event.id in excluded:
                    raise PurgedContent(event.id, "its deletion was rejected")
                check_chain(event, batch)
                check_authorisation(event, batch)
            except Equivocation as e:
                evidence.append((event, batch.at(event.author, event.network, event.seq)))
                rejected[index] = e
                continue
            except InvalidEvent as e:
                rejected[index] = e
                continue
            batch.add(event)
            accepted.append((index, event))
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


def results_summary(results: Sequence[AppendResult]) -> dict[str, Any]:
    counts = {s.value: 0 for s in Status}
    for r in results:
        counts[r.status.value] += 1
    return counts
