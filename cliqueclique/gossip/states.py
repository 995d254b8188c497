"""The state machines of a document and of each of its links, as explicit
transition tables (an input a state does not allow is a `LocalProtocolError`),
and what the machine knows of one peer for one document (`PeerLink`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TypeVar

from .errors import LocalProtocolError
from .messages import Attrs


class DocState(Enum):
    JOINING = "joining"
    ACTIVE = "active"
    DROPPING = "dropping"
    DROPPED = "dropped"


class DocInput(Enum):
    STORED = "document stored"
    WANTED = "wanted"
    UNWANTED = "unwanted"
    REFUSED = "join refused"
    ALL_DELETED = "every link acknowledged the delete"


DOC_TRANSITIONS: dict[tuple[DocState, DocInput], DocState] = {
    (DocState.JOINING, DocInput.STORED): DocState.ACTIVE,
    (DocState.JOINING, DocInput.WANTED): DocState.JOINING,
    (DocState.JOINING, DocInput.REFUSED): DocState.DROPPED,
    (DocState.JOINING, DocInput.UNWANTED): DocState.DROPPING,
    (DocState.ACTIVE, DocInput.STORED): DocState.ACTIVE,
    (DocState.ACTIVE, DocInput.WANTED): DocState.ACTIVE,
    (DocState.ACTIVE, DocInput.UNWANTED): DocState.DROPPING,
    (DocState.DROPPING, DocInput.WANTED): DocState.ACTIVE,
    (DocState.DROPPING, DocInput.UNWANTED): DocState.DROPPING,
    (DocState.DROPPING, DocInput.STORED): DocState.DROPPING,
    (DocState.DROPPING, DocInput.ALL_DELETED): DocState.DROPPED,
}


class LinkState(Enum):
    SYNCING = "syncing"
    SYNCED = "synced"
    DELETING = "deleting"
    CLOSED = "closed"


class LinkInput(Enum):
    CHANGE = "attributes changed"
    RETRY = "retry timer"
    ACK_CURRENT = "ack of the latest serial"
    ACK_STALE = "ack of an older serial"
    DROP = "we drop the document"
    PEER_DELETED = "peer deleted the document"
    LOST = "peer disconnected"
    SHED = "we shed the link (too many)"


_L = LinkState
_I = LinkInput
LINK_TRANSITIONS: dict[tuple[LinkState, LinkInput], LinkState] = {
    (_L.SYNCING, _I.CHANGE): _L.SYNCING,
    (_L.SYNCED, _I.CHANGE): _L.SYNCING,
    (_L.SYNCING, _I.RETRY): _L.SYNCING,
    (_L.SYNCING, _I.ACK_CURRENT): _L.SYNCED,
    (_L.SYNCED, _I.ACK_CURRENT): _L.SYNCED,
    (_L.SYNCING, _I.ACK_STALE): _L.SYNCING,
    (_L.SYNCED, _I.ACK_STALE): _L.SYNCED,
    (_L.SYNCING, _I.DROP): _L.DELETING,
    (_L.SYNCED, _I.DROP): _L.DELETING,
    (_L.DELETING, _I.RETRY): _L.DELETING,
    (_L.DELETING, _I.ACK_STALE): _L.DELETING,
    (_L.DELETING, _I.ACK_CURRENT): _L.CLOSED,
    (_L.SYNCING, _I.PEER_DELETED): _L.CLOSED,
    (_L.SYNCED, _I.PEER_DELETED): _L.CLOSED,
    (_L.DELETING, _I.PEER_DELETED): _L.CLOSED,
    (_L.SYNCING, _I.LOST): _L.CLOSED,
    (_L.SYNCED, _I.LOST): _L.CLOSED,
    (_L.DELETING, _I.LOST): _L.CLOSED,
    (_L.SYNCING, _I.SHED): _L.CLOSED,
    (_L.SYNCED, _I.SHED): _L.CLOSED,
}

S = TypeVar("S", DocState, LinkState)
In = TypeVar("In", DocInput, LinkInput)


def advance(table: dict[tuple[S, In], S], state: S, event: In) -> S:
    """The next state, or `LocalProtocolError` for a pair the table does not allow."""
    try:
        return table[(state, event)]
    except KeyError:
        raise LocalProtocolError(f"{event.value!r} is not allowed in state {state.value!r}") from None


NO_DIGEST = bytes(8)


@dataclass(slots=True)
class PeerLink:
    """What we know of one peer for one document, and what we owe it."""

    peer: str
    state: LinkState = LinkState.SYNCING
    attrs: Attrs | None = None
    peer_serial: int = -1  # highest serial received from the peer
    sent_serial: int = -1  # serial of our last Update/Delete to it
    attempt: int = 0
    retry_at: float | None = None
    needs_document: bool = False
    grafted: bool = False  # eager because recovery grafted it
    pruned: bool = False  # the peer asked us to stop pushing eagerly
    prune_sent: bool = False
    reconciled: bool = False
    reconcile_at: float | None = None
    reconcile_attempt: int = 0
    lazy: list[str] = field(default_factory=list)
    heads: dict[str, dict[str, int]] = field(default_factory=dict)  # what it holds, as far as we know
    live: bool = True  # SYNCING or SYNCED (kept in step by `move`: read on every push)

    def move(self, event: LinkInput) -> None:
        self.state = advance(LINK_TRANSITIONS, self.state, event)
        self.live = self.state is LinkState.SYNCING or self.state is LinkState.SYNCED

    @property
    def holder(self) -> bool:
        return self.live and self.attrs is not None and self.attrs.holds
