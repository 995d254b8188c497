"""Every error cliqueclique raises on purpose derives from `CliqueError`.

Each failure has its own class with a one-line docstring, so callers (the CLI,
the gossip machine, the web UI) can react to exactly the case they care about,
and users see one clear line naming the event and the reason.
Subpackages (gossip, net, web) keep their own subclasses next to their code.
"""

from __future__ import annotations


class CliqueError(Exception):
    """Base class of every expected cliqueclique failure."""


# --- events -----------------------------------------------------------------


class InvalidEvent(CliqueError):
    """An event failed validation; nothing was written."""

    reason = "invalid event"

    def __init__(self, event_id: str | None, detail: str = "") -> None:
        self.event_id = event_id
        self.detail = detail
        super().__init__(str(self))

    def __str__(self) -> str:
        name = f"event {self.event_id[:16]}" if self.event_id else "event"
        return f"{name} rejected: {self.reason}" + (f" ({self.detail})" if self.detail else "")


class MalformedEvent(InvalidEvent):
    """The bytes are not a well-formed canonical event."""

    reason = "malformed encoding"


class TimestampOutOfRange(MalformedEvent):
    """The header's timestamp is beyond the end of year 9999 UTC (codec.MAX_TIMESTAMP)."""

    reason = "timestamp out of range"


class UnsupportedVersion(InvalidEvent):
    """The event's format version is not one this program understands."""

    reason = "unsupported format version"


class UnknownKind(InvalidEvent):
    """The event's kind is not one of the known kinds."""

    reason = "unknown kind"


class EventTooLarge(InvalidEvent):
    """The event is larger than MAX_EVENT_SIZE."""

    reason = "event too large"


class IdMismatch(InvalidEvent):
    """The id given alongside the event is not the hash of its bytes."""

    reason = "id does not match the event bytes"


class BodyHashMismatch(InvalidEvent):
    """The body bytes do not hash to the digest the signed header commits to."""

    reason = "body does not match the signed header"


class InvalidSignature(InvalidEvent):
    """The ed25519 signature does not verify (wraps nacl's BadSignatureError)."""

    reason = "bad signature"


class ChainError(InvalidEvent):
    """The event does not extend its author's hash chain in that network."""

    reason = "broken chain"


class ChainGap(ChainError):
    """The event's seq is beyond the next expected seq: earlier events are missing."""

    reason = "chain gap"


class BadPrev(ChainError):
    """The event's prev is not the id of the author's previous event in the network."""

    reason = "prev does not match the chain"


class Equivocation(ChainError):
    """A different event already holds this (author, network, seq): kept as evidence."""

    reason = "equivocation"


class Unauthorized(InvalidEvent):
    """The author may not do this (edit or delete someone else's document)."""

    reason = "not authorised"


class MissingDependency(InvalidEvent):
    """The event refers to a document or event this log does not hold."""

    reason = "missing dependency"


class DependencyRejected(MissingDependency):
    """A link whose child document came in the same batch and was refused: the
    child can never arrive from there, so the link is refused with it (a missing
    dependency, never blamed on the relay; the link may be offered again)."""

    reason = "its child document was refused in the same batch"


class PurgedContent(InvalidEvent):
    """A purged (header-only) event arrived without a deletion that explains it."""

    reason = "content purged without a deletion"


class BatchRolledBack(InvalidEvent):
    """Valid, but another event of its all-or-nothing batch was rejected."""

    reason = "batch rolled back because another event in it was rejected"


# --- storage, homes, files --------------------------------------------------------


class StoreError(CliqueError):
    """The SQLite log could not be read or written."""


class UnknownEvent(CliqueError):
    """No event (or document) with this id or prefix is in the log."""


class AmbiguousId(CliqueError):
    """An id prefix matches more than one event or node."""


class NodeError(CliqueError):
    """A local node could not be found, chosen or created."""


class ExportFileError(CliqueError):
    """An export file is truncated, tampered with or not an export file."""
