"""An event log kept in memory, with exactly the SQLite log's behaviour.

Used by the gossip simulator (a thousand nodes in one process) and by tests.
It passes the same conformance tests as `SQLiteStore`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

from .base import MAX_EVIDENCE, MAX_FORGET_RECORDS, EventStore, ForgetRecord
from .codec import decode_wire
from .events import Event, Kind, StoredEvent
from .signatures import SignatureCache
from .validation import PURGEABLE


class _MemoryWriter:
    def __init__(self, size: int) -> None:
        self.size = size
        self.staged: list[Event] = []
        self.rolled_back = False

    def write(self, events: list[Event]) -> list[int]:
        first = self.size + len(self.staged) + 1
        self.staged.extend(events)
        return list(range(first, first + len(events)))

    def rollback(self) -> None:
        self.rolled_back = True


class MemoryStore(EventStore):
    def __init__(self, *, signature_cache: SignatureCache | None = None) -> None:
        self.signature_cache = signature_cache
        # Forgotten events leave a None behind: the index stays position - 1.
        self._log: list[StoredEvent | None] = []
        self._by_id: dict[str, int] = {}  # id -> index in _log
        self._chains: dict[tuple[str, str], list[str]] = {}
        self._networks: dict[str, list[int]] = {}  # network -> indexes in _log
        self._deleted: set[str] = set()
        self._evidence: dict[str, tuple[bytes, str | None]] = {}
        self._marks: dict[str, int] = {}
        self._forgotten: list[ForgetRecord] = []
        self._size = 0  # events held

    def _at(self, index: int) -> StoredEvent:
        stored = self._log[index]
        assert stored is not None
        return stored

    def get(self, event_id: str) -> Event | None:
        index = self._by_id.get(event_id)
        return None if index is None else self._at(index).event

    def head(self, author: str, network: str) -> tuple[int, str] | None:
        chain = self._chains.get((author, network))
        return (len(chain), chain[-1]) if chain else None

    def heads_many(self, networks: Iterable[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for network in networks:
            for index in self._networks.get(network, ()):
                event = self._at(index).event
                heads = found.setdefault(network, {})
                heads[event.author] = max(heads.get(event.author, 0), event.seq)
        return found

    def chain_after(self, author: str, network: str, seq: int) -> list[Event]:
        return [self._at(self._by_id[i]).event for i in self._chains.get((author, network), [])[max(seq, 0):]]

    def at(self, author: str, network: str, seq: int) -> str | None:
        chain = self._chains.get((author, network), [])
        return chain[seq - 1] if 0 < seq <= len(chain) else None

    def is_deleted(self, document_id: str) -> bool:
        return document_id in self._deleted

    def editor_grants(self, document_id: str, author: str) -> list[Event]:
        chain = (self._at(self._by_id[i]).event for i in self._chains.get((author, document_id), ()))
        return [e for e in chain if e.kind is Kind.EDITORS]

    def present(self, event_ids: Iterable[str]) -> set[str]:
        return {i for i in event_ids if i in self._by_id}

    def events(
        self,
        *,
        network: str | None = None,
        author: str | None = None,
        kind: Kind | str | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> Iterator[StoredEvent]:
        count = 0
        if network is not None:
            candidates = (self._log[i] for i in self._networks.get(network, ()) if i >= after)
        else:
            candidates = iter(self._log[after:])
        for stored in candidates:
            if stored is None:
                continue
            e = stored.event
            if network is not None and e.network != network:
                continue
            if author is not None and e.author != author:
                continue
            if kind is not None and e.kind != kind:
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield stored

    def count(self) -> int:
        return self._size

    def last_position(self) -> int:
        return len(self._log)

    def equivocations(self) -> list[tuple[str, bytes, str | None]]:
        return [(i, wire, other) for i, (wire, other) in self._evidence.items()]

    @contextmanager
    def _writing(self) -> Iterator[_MemoryWriter]:
        writer = _MemoryWriter(len(self._log))
        yield writer  # lookups during the batch go through its overlay, not the log
        if not writer.rolled_back:
            for event in writer.staged:
                self._add(event)

    def _add(self, event: Event) -> None:
        self._size += 1
        self._log.append(StoredEvent(len(self._log) + 1, event))
        self._by_id[event.id] = len(self._log) - 1
        self._networks.setdefault(event.network, []).append(len(self._log) - 1)
        self._chains.setdefault((event.author, event.network), []).append(event.id)
        if event.kind is Kind.DELETION and event.ref == event.network:
            self._deleted.add(event.network)
            self._purge(event.network)

    def _purge(self, document: str) -> None:
        for index in self._networks.get(document, ()):
            stored = self._at(index)
            e = stored.event
            if e.network == document and e.kind in PURGEABLE and e.body is not None:
                self._log[index] = StoredEvent(stored.position, replace(e, body=None))

    def _record_equivocation(self, event: Event, existing: str | None) -> None:
        if len(self._evidence) < MAX_EVIDENCE:
            self._evidence.setdefault(event.id, (event.wire, existing))

    # --- garbage collection -----------------------------------------------------------------

    def networks(self) -> set[str]:
        return {net for net, indexes in self._networks.items() if indexes}

    @contextmanager
    def gc_transaction(self, *, write: bool = True) -> Iterator[None]:
        if write:
            yield  # one thread, no other writer: nothing to lock
            return
        saved = (dict(self._marks), list(self._forgotten))
        try:
            yield
        finally:
            self._marks, self._forgotten = dict(saved[0]), list(saved[1])

    def gc_marks(self) -> dict[str, int]:
        return dict(self._marks)

    def set_gc_marks(self, add: Mapping[str, int], remove: Iterable[str]) -> None:
        for network in remove:
            self._marks.pop(network, None)
        self._marks.update(add)

    def forget(self, networks: Mapping[str, int], at: int) -> dict[str, int]:
        removed: dict[str, int] = {}
        for network, since in networks.items():
            indexes = self._networks.pop(network, [])
            document = False
            for index in indexes:
                event = self._at(index).event
                document = document or event.id == network
                del self._by_id[event.id]
                self._chains.pop((event.author, event.network), None)
                self._log[index] = None
            self._size -= len(indexes)
            self._deleted.discard(network)
            self._marks.pop(network, None)
            self._evidence = {i: (wire, other) for i, (wire, other) in self._evidence.items()
                              if decode_wire(wire).network != network}
            removed[network] = len(indexes)
            self._forgotten.append(ForgetRecord(network, document, len(indexes), since, at))
        del self._forgotten[:-MAX_FORGET_RECORDS]
        return removed

    def forgotten(self, limit: int | None = None) -> list[ForgetRecord]:
        newest = self._forgotten[::-1]
        return newest if limit is None else newest[:limit]
