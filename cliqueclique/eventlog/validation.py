"""The log's rules for accepting an event: chain position and authorisation.

Pure functions over a `Lookup` (what the log plus the not-yet-committed part
of the current batch already hold), so the SQLite store and the in-memory
store enforce exactly the same rules.

Authorisation is monotone: once an event is acceptable, no later event makes
it unacceptable, so delivery order never changes what a log ends up holding.
Rules that do depend on what came later (which edits of a removed editor still
count) are the views' business.
"""

from __future__ import annotations

from typing import Protocol

from ..errors import BadPrev, ChainGap, Equivocation, MissingDependency, PurgedContent, Unauthorized
from .events import OWNER_ACTIONS, Event, Kind, ModAction

#: Kinds whose bodies a document deletion purges: the content itself and its edits.
#: Reactions go too: a reaction still travelling when a node already holds the
#: deletion reaches it header-only later, as edits do, so every log converges.
PURGEABLE = frozenset({Kind.DOCUMENT, Kind.EDIT, Kind.REACTION})


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

    def editor_grants(self, document_id: str, author: str) -> list[Event]:
        """The `editors` events `author` wrote in the document's network, held or
        accepted earlier in the batch, in chain order."""

    def moderation_by(self, forum: str, author: str) -> list[Event]:
        """The `moderation` events `author` wrote in the forum's network, held or
        accepted earlier in the batch, in chain order."""


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
    """Raise unless the author may append this event (edits, deletions, reactions,
    editors lists, purges).

    Raises:
        MissingDependency: the document or target is not held, was deleted, or
            an edit's author is named by no editors event held (yet), or a
            moderation event's author by no appointment (yet).
        Unauthorized: a deletion or editors event by someone other than the
            author; an appointment or dismissal by anyone but the forum's owner.
        PurgedContent: a header-only event without a deletion explaining it.
    """
    if event.purged:
        # A deleted document travels as its header alone, and so do its edits.
        document = event if event.kind is Kind.DOCUMENT else log.event(event.network)
        if event.kind not in PURGEABLE or document is None or not log.deleted(document.id, document.author):
            raise PurgedContent(event.id)
        return
    if event.kind is Kind.EDIT:
        document = _document(event, log, "edit of")
        if not _may_edit(event.author, document, log):
            # A grant naming the author may still be on its way (another chain,
            # in no order with this one): not provably wrong, so blame no one.
            raise MissingDependency(event.id, f"{event.author[:16]} is not an editor of "
                                              f"{document.id[:16]} (yet)")
        if document.purged or log.is_deleted(document.id):
            raise MissingDependency(event.id, f"document {document.id[:16]} was deleted")
    elif event.kind is Kind.REACTION:
        document = _document(event, log, "reaction to")
        _refuse_if_deleted(event, document, log)
    elif event.kind is Kind.EDITORS:
        document = _document(event, log, "editors of")
        if event.author != document.author:
            raise Unauthorized(event.id, f"only the author of {document.id[:16]} names its editors")
        _refuse_if_deleted(event, document, log)
    elif event.kind is Kind.MODERATION:
        _check_moderation(event, log)
    elif event.kind is Kind.DELETION:
        target_id = event.content()["target"]
        target = log.event(target_id)
        if target is None:
            raise MissingDependency(event.id, f"deletion of unknown event {target_id}")
        if target.kind not in (Kind.DOCUMENT, Kind.LINK) or target.network != event.network:
            raise Unauthorized(event.id, "only a document or a link in this network can be deleted")
        if target.author != event.author:
            raise Unauthorized(event.id, f"{event.author[:16]} may not delete {target_id[:16]}")


def _check_moderation(event: Event, log: Lookup) -> None:
    """The forum's owner may take any moderation action, a moderator all but
    appointing and dismissing. Whether a moderator's action counts (it may
    have been dismissed since) is the moderation view's business: here anyone
    the owner ever appointed passes, so delivery order never matters."""
    forum = _document(event, log, "moderation of")
    action = ModAction(event.content()["action"])
    if event.author == forum.author:
        return
    if action in OWNER_ACTIONS:
        raise Unauthorized(event.id, f"only the owner of forum {forum.id[:16]} appoints and dismisses "
                                     f"moderators, not {event.author[:16]}")
    if not any(body["action"] == ModAction.APPOINT and body["target"] == event.author
               for grant in log.moderation_by(forum.id, forum.author) if (body := grant.content())):
        # the appointment may still be on its way (the owner's chain, in no
        # order with this one): not provably wrong, so blame no one
        raise MissingDependency(event.id, f"{event.author[:16]} is not a moderator of forum "
                                          f"{forum.id[:16]} (yet)")


def _document(event: Event, log: Lookup, what: str) -> Event:
    """The document an edit, reaction or editors event is about (its network).

    Raises:
        MissingDependency: it is not held.
        Unauthorized: the network is some other event's id (never a document).
    """
    document = log.event(event.network)
    if document is None:
        raise MissingDependency(event.id, f"{what} unknown document {event.network}")
    if document.kind is not Kind.DOCUMENT:
        raise Unauthorized(event.id, f"{event.network[:16]} is a {document.kind.value}, not a document")
    return document


def _refuse_if_deleted(event: Event, document: Event, log: Lookup) -> None:
    # Only a held deletion counts: a document may be held header-only because
    # its deletion comes later in this batch, and the events written before
    # that deletion (which come first in its chain) must still get in.
    if log.is_deleted(document.id):
        raise MissingDependency(event.id, f"document {document.id[:16]} was deleted")


def _may_edit(author: str, document: Event, log: Lookup) -> bool:
    """The author, an editor the document names, or anyone any grant ever named."""
    if author == document.author or author in _editors(document):
        return True
    return any(author in body["editors"] or author in body["retired"]
               for grant in log.editor_grants(document.id, document.author)
               if (body := grant.content()) is not None)


def _editors(document: Event) -> list[str]:
    content = document.content()
    return list(content.get("editors", [])) if content else []
