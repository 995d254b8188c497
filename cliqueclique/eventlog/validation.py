"""The log's rules beyond encoding: chain position and authorisation.

Pure functions over a `Lookup` (what the log plus the not-yet-committed part
of the current batch already hold), so the SQLite store and the in-memory
store enforce exactly the same rules.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import BadPrev, ChainGap, Equivocation, MissingDependency, PurgedContent, Unauthorized
from .events import Event, Kind


#: Kinds whose bodies a document deletion purges: the content itself and its edits.
PURGEABLE = frozenset({Kind.DOCUMENT, Kind.EDIT})


class Lookup(Protocol):
    def event(self, event_id: str) -> Event | None:
        """The held event with this id (possibly purged), or None."""

    def head(self, author: str, network: str) -> tuple[int, str] | None:
        """(seq, id) of the author's last event in the network, or None."""

    def at(self, author: str, network: str, seq: int) -> str | None:
        """Id of the author's event at that seq in the network, or None."""

    def is_deleted(self, document_id: str) -> bool:
        """True if a deletion of this document is held or accepted earlier in the batch."""

    def deleted(self, document_id: str, author: str) -> bool:
        """True if a deletion of this document by `author` (its author) is held or
        comes later in the batch."""


def check_chain(event: Event, log: Lookup) -> None:
    """Raise unless `event` is the next link of its (author, network) chain.

    Raises:
        Equivocation: a different event already holds this position.
        ChainGap: earlier events of this chain are missing.
        BadPrev: right seq, but prev is not the previous event's id.
    """
    head = log.head(event.author, event.network)
    expected = 1 if head is None else head[0] + 1
    if event.seq < expected:
        other = log.at(event.author, event.network, event.seq)
        raise Equivocation(event.id, f"seq {event.seq} is already held by {other}")
    if event.seq > expected:
        raise ChainGap(event.id, f"seq {event.seq}, expected {expected}")
    if event.prev != (head[1] if head else None):
        raise BadPrev(event.id, f"seq {event.seq}")


def check_authorisation(event: Event, log: Lookup) -> None:
    """Raise unless the author may append this event (edits, deletions, purges).

    Raises:
        MissingDependency: the document or target is not held.
        Unauthorized: someone other than the author (or a named editor).
        PurgedContent: a header-only event without a deletion explaining it.
    """
    if event.purged:
        # A deleted document travels as its header alone, and so do its edits.
        document = event if event.kind is Kind.DOCUMENT else log.event(event.network)
        if event.kind not in PURGEABLE or document is None or not log.deleted(document.id, document.author):
            raise PurgedContent(event.id)
        return
    if event.kind is Kind.EDIT:
        document = log.event(event.network)
        if document is None:
            raise MissingDependency(event.id, f"edit of unknown document {event.network}")
        if event.author != document.author and event.author not in _editors(document):
            raise Unauthorized(event.id, f"{event.author[:16]} may not edit {document.id[:16]}")
        if document.purged or log.is_deleted(document.id):
            raise MissingDependency(event.id, f"document {document.id[:16]} was deleted")
    elif event.kind is Kind.DELETION:
        target_id = event.content()["target"]
        target = log.event(target_id)
        if target is None:
            raise MissingDependency(event.id, f"deletion of unknown event {target_id}")
        if target.kind not in (Kind.DOCUMENT, Kind.LINK) or target.network != event.network:
            raise Unauthorized(event.id, "only a document or a link in this network can be deleted")
        if target.author != event.author:
            raise Unauthorized(event.id, f"{event.author[:16]} may not delete {target_id[:16]}")


def _editors(document: Event) -> list[str]:
    content = document.content()
    return list(content.get("editors", [])) if content else []
