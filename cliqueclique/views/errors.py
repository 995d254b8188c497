"""Errors raised by the views and their queries (all `CliqueError`s)."""

from __future__ import annotations

from ..errors import CliqueError


class ViewError(CliqueError):
    """Base class of the failures of views and their queries."""


class ViewsNotAttached(ViewError):
    """The store was opened without the views projector, so there is nothing to query."""


class NotADocument(ViewError):
    """The id names no document held in the views (unknown, or not a document)."""


class DocumentDeleted(ViewError):
    """The document was deleted by its author; its content is gone."""


class NotADirectory(ViewError):
    """The document is not a directory (it was not created with `dir create`)."""


class NothingToEdit(ViewError):
    """The requested edit would not change the document's state."""


class BadQuery(ViewError):
    """A search or filter is malformed (empty text, bad property filter, ...)."""


class BadChange(ViewError):
    """A requested edit is malformed (an empty or reserved property name, a value that is not text)."""


class NotTheAuthor(ViewError):
    """Only the document's author may do this (name or remove its editors)."""


class BadReaction(ViewError):
    """A reaction label is empty, only whitespace or too long."""


class NotAModerator(ViewError):
    """Only the forum's owner (for some actions) or one of its moderators may do this."""


class BadModeration(ViewError):
    """A moderation request is malformed (a bad policy, a target of the wrong sort, nothing to change)."""


class NotAMember(ViewError):
    """The forum's policy does not let this author post (members only, or banned)."""
