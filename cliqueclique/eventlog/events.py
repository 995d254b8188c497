"""The event model: immutable records, the unit of storage, replication and audit.

An `Event` is what the codec decodes from (or signs into) wire bytes. It keeps
those bytes (`header`, `body`, `signature`) so they are stored and forwarded
exactly as received; the other fields are the decoded header, for indexing.

Kinds and where each event lives (its *network*, which is always a document id
or, for private decisions, the author's own node id):

- `document`  creates a document; its network is itself (header says null).
- `link`      parent -> child, lives in the parent's network.
- `subscription` a local decision about a document; lives in the author's own
  private network (node id), so it never disturbs the public chains.
- `edit`      an opaque pycrdt update to the network's document.
- `deletion`  retracts the network's document or a link in that network.
- `reaction`  one node's reaction (say "+1") to the network's document, on or off;
  anyone may react, and a node's latest event per reaction is what counts.
- `editors`   the document author's current list of editors, plus the last seq
  up to which each removed editor's edits keep counting.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

FORMAT_VERSION = 1
#: Hard limit on one signed event on the wire (signature + header + body).
MAX_EVENT_SIZE = 64 * 1024


class Kind(StrEnum):
    DOCUMENT = "document"
    LINK = "link"
    SUBSCRIPTION = "subscription"
    EDIT = "edit"
    DELETION = "deletion"
    REACTION = "reaction"
    EDITORS = "editors"
    MODERATION = "moderation"


class Direction(StrEnum):
    NATURAL = "natural"  # child is a reply to parent
    REVERSED = "reversed"  # parent answers/annotates the child (a back-reference)


class ModAction(StrEnum):
    """What a `moderation` event does in a forum (the root's network).

    The owner (the root's author) appoints and dismisses moderators; the owner
    or a moderator does the rest. `target` is a node id, a document id or,
    for `policy`, the policy (`open`, `members`, `pow:BITS`).
    """

    APPOINT = "appoint"
    DISMISS = "dismiss"
    HIDE = "hide"
    UNHIDE = "unhide"
    BAN = "ban"
    UNBAN = "unban"
    POLICY = "policy"
    APPROVE = "approve"
    REVOKE = "revoke"


#: the moderation actions only the forum's owner may take
OWNER_ACTIONS = frozenset({ModAction.APPOINT, ModAction.DISMISS})


class Action(StrEnum):
    """What a `subscription` event records about a document (or, for block and
    unblock, an author), for its author only."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    BOOKMARK = "bookmark"
    UNBOOKMARK = "unbookmark"
    READ = "read"
    UNREAD = "unread"
    BLOCK = "block"
    UNBLOCK = "unblock"
    NOTE = "note"
    IGNORE = "ignore"  # stop honouring one moderator of a forum (body: "moderator")
    HEED = "heed"  # honour it again


@dataclass(frozen=True, slots=True)
class Event:
    """One signed event. `body` is None once its content has been purged."""

    id: str
    version: int
    kind: Kind
    author: str
    network: str
    seq: int
    prev: str | None
    timestamp: int  # milliseconds since the epoch; informational only
    body_hash: str
    body_size: int
    header: bytes
    body: bytes | None
    signature: bytes
    #: What the body points at (derived, not on the wire): a link's child, a
    #: deletion's target, a subscription's document, the document a reaction or
    #: an editors event is about (its network), a moderation event's target;
    #: None otherwise or if purged.
    ref: str | None = None

    @property
    def purged(self) -> bool:
        return self.body is None

    @property
    def wire(self) -> bytes:
        """The bytes as sent between nodes (see `codec.encode_wire`)."""
        from .codec import encode_wire

        return encode_wire(self.signature, self.header, self.body)

    def content(self) -> Any:
        """The decoded body: a dict for JSON kinds, bytes for `edit`, None if purged."""
        if self.body is None:
            return None
        if self.kind is Kind.EDIT:
            return self.body
        return json.loads(self.body)

    def to_json(self, position: int | None = None) -> dict[str, Any]:
        """A JSON-ready dict: the header fields plus the decoded body."""
        content = self.content()
        if isinstance(content, bytes):
            content = {"update_b64": base64.b64encode(content).decode()}
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "author": self.author,
            "network": self.network,
            "seq": self.seq,
            "prev": self.prev,
            "timestamp": self.timestamp,
            "body": content,
            "purged": self.purged,
        }
        if position is not None:
            out["position"] = position
        return out


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event together with its local log position."""

    position: int
    event: Event
