"""Build and sign a node's own events; `Author` also appends them.

Both classes sign the next event of the right chain (seq = head + 1, prev =
head id) and build bodies the same way:

- `BatchSigner` keeps the chain heads itself, so bulk work (imports,
  directories, benchmarks, tests) can sign whole batches first and append
  them with one `append_many` (one transaction);
- `Author` asks the log for each head and appends every event as it signs
  it, so what it writes always follows what is already there. Its events go
  through the same validation as events from peers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from nacl.signing import SigningKey

from ..errors import MissingDependency
from .base import EventStore
from .codec import canonical_json, sign_event
from .events import Action, Direction, Event, Kind, ModAction
from .keys import node_id
from .work import document_body, mine_nonce

DEFAULT_CONTENT_TYPE = "text/markdown"


def now_ms() -> int:
    return int(time.time() * 1000)


class BatchSigner:
    """Signs one author's events in chain order, tracking heads locally.

    Args:
        key: the author's signing key.
        store: where heads not yet seen are looked up (None: start empty).
        clock: milliseconds for timestamps.
    """

    def __init__(self, key: SigningKey, store: EventStore | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        self.key = key
        self.id = node_id(key)
        self.store = store
        self.clock = clock
        self._heads: dict[str, tuple[int, str]] = {}

    def _head(self, network: str) -> tuple[int, str] | None:
        head = self._heads.get(network)
        if head is None and self.store is not None:
            head = self.store.head(self.id, network)
        return head

    def sign(self, kind: Kind, network: str | None, body: bytes, timestamp: int | None = None) -> Event:
        """Sign the next event of this author's chain in `network` (not appended)."""
        head = None if kind is Kind.DOCUMENT else self._head(network or "")
        event = sign_event(
            self.key, kind, network=network,
            seq=1 if head is None else head[0] + 1,
            prev=None if head is None else head[1],
            timestamp=self.clock() if timestamp is None else timestamp, body=body,
        )
        self._heads[event.network] = (event.seq, event.id)
        return event

    def _emit(self, kind: Kind, network: str | None, body: bytes, timestamp: int | None = None) -> Event:
        return self.sign(kind, network, body, timestamp)

    def document(
        self,
        subject: str,
        text: str,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        editors: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
        work: int = 0,
        progress: Callable[[int, float], None] | None = None,
    ) -> Event:
        """A new document; `work` > 0 mines a nonce so its id has that many
        leading zero bits (proof of work, see `work.py`)."""
        body = document_body(subject, text, content_type, editors, properties)
        if work:
            timestamp = self.clock()
            body["nonce"] = mine_nonce(self.id, body, timestamp, work, progress)
            return self._emit(Kind.DOCUMENT, None, canonical_json(body), timestamp)
        return self._emit(Kind.DOCUMENT, None, canonical_json(body))

    def link(self, parent: str, child: str, direction: Direction = Direction.NATURAL) -> Event:
        body = {"parent": parent, "child": child, "direction": direction.value}
        return self._emit(Kind.LINK, parent, canonical_json(body))

    def edit(self, document: str, update: bytes) -> Event:
        return self._emit(Kind.EDIT, document, update)

    def delete(self, target: str, network: str) -> Event:
        """Retract a document (target == network) or a link living in `network`."""
        return self._emit(Kind.DELETION, network, canonical_json({"target": target}))

    def react(self, document: str, reaction: str, on: bool = True) -> Event:
        """Turn one of this node's reactions to a document on (or, `on=False`, off)."""
        body = {"on": on, "reaction": reaction}
        return self._emit(Kind.REACTION, document, canonical_json(body))

    def set_editors(self, document: str, editors: Iterable[str],
                    retired: Mapping[str, int] | None = None) -> Event:
        """Replace the editors of one's own document.

        Args:
            editors: who may edit from now on (besides the author).
            retired: removed editor -> the last seq (theirs, in the document's
                network) up to which their edits keep counting.
        """
        body = {"editors": sorted(set(editors)), "retired": dict(retired or {})}
        return self._emit(Kind.EDITORS, document, canonical_json(body))

    def moderate(self, forum: str, action: ModAction, target: str, *, reason: str | None = None,
                 since: int = 0, until: int = 0) -> Event:
        """A moderation event in the forum's network (see `ModAction`).

        Args:
            target: a node id, a document id, or the policy for `policy`.
            reason: why, shown to everyone (optional).
            since: for an appointment, the moderator's last seq in the forum's
                network before it (its actions after it count).
            until: for a dismissal, the dismissed moderator's last seq in the
                forum's network whose actions keep counting.
        """
        body: dict[str, object] = {"action": action.value, "target": target}
        if reason:
            body["reason"] = reason
        if action is ModAction.APPOINT and since:
            body["since"] = since
        if action is ModAction.DISMISS:
            body["until"] = until
        return self._emit(Kind.MODERATION, forum, canonical_json(body))

    def subscription(self, document: str, action: Action, note: str | None = None,
                     moderator: str | None = None) -> Event:
        body: dict[str, str] = {"document": document, "action": action.value}
        if note is not None:
            body["note"] = note
        if moderator is not None:
            body["moderator"] = moderator
        return self._emit(Kind.SUBSCRIPTION, self.id, canonical_json(body))


class Author(BatchSigner):
    """Signs and appends a node's events, one at a time, against its log."""

    store: EventStore

    def __init__(self, key: SigningKey, store: EventStore, clock: Callable[[], int] = now_ms) -> None:
        super().__init__(key, store, clock)
        #: every event this Author appended, in order (so a caller can publish them)
        self.appended: list[Event] = []

    def _head(self, network: str) -> tuple[int, str] | None:
        return self.store.head(self.id, network)  # the log, always: others may have appended

    def _emit(self, kind: Kind, network: str | None, body: bytes, timestamp: int | None = None) -> Event:
        event = self.sign(kind, network, body, timestamp)
        self.store.append(event)
        self.appended.append(event)
        return event

    def post(self, subject: str, text: str, *, parent: str | None = None,
             **options: object) -> tuple[Event, Event | None]:
        """A new document and, when `parent` is given, the link making it a reply.

        Posting subscribes the author: to the parent for a reply (so the
        conversation reaches them), to the document itself for a new forum.

        Raises:
            MissingDependency: the parent is not in this log.
        """
        if parent is not None and self.store.get(parent) is None:
            raise MissingDependency(None, f"unknown parent document {parent}")
        document = self.document(subject, text, **options)  # type: ignore[arg-type]
        link = self.link(parent, document.id) if parent is not None else None
        self.subscription(parent or document.id, Action.SUBSCRIBE)
        return document, link
