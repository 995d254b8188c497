"""Build, sign and append a local node's own events.

`Author` knows a node's key and its log; each method signs the next event of
the right chain (seq = head + 1, prev = head id) and appends it. Every event it
makes goes through the same validation as events from peers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from nacl.signing import SigningKey

from ..errors import MissingDependency
from .base import EventStore
from .codec import canonical_json, sign_event
from .events import Action, Direction, Event, Kind
from .keys import node_id

DEFAULT_CONTENT_TYPE = "text/markdown"


def now_ms() -> int:
    return int(time.time() * 1000)


class Author:
    def __init__(self, key: SigningKey, store: EventStore, clock: Callable[[], int] = now_ms) -> None:
        self.key = key
        self.id = node_id(key)
        self.store = store
        self.clock = clock
        #: every event this Author appended, in order (so a caller can publish them)
        self.appended: list[Event] = []

    def sign(self, kind: Kind, network: str | None, body: bytes) -> Event:
        """Sign the next event of this author's chain in `network` (not appended)."""
        head = None if kind is Kind.DOCUMENT else self.store.head(self.id, network or "")
        return sign_event(
            self.key, kind, network=network,
            seq=1 if head is None else head[0] + 1,
            prev=None if head is None else head[1],
            timestamp=self.clock(), body=body,
        )

    def _append(self, kind: Kind, network: str | None, body: bytes) -> Event:
        event = self.sign(kind, network, body)
        self.store.append(event)
        self.appended.append(event)
        return event

    def document(
        self,
        subject: str,
        text: str,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        editors: Sequence[str] = (),
        properties: Mapping[str, str] | None = None,
    ) -> Event:
        body: dict[str, object] = {"subject": subject, "text": text, "content_type": content_type}
        if editors:
            body["editors"] = sorted(set(editors))
        if properties:
            body["properties"] = dict(properties)
        return self._append(Kind.DOCUMENT, None, canonical_json(body))

    def link(self, parent: str, child: str, direction: Direction = Direction.NATURAL) -> Event:
        body = {"parent": parent, "child": child, "direction": direction.value}
        return self._append(Kind.LINK, parent, canonical_json(body))

    def post(self, subject: str, text: str, *, parent: str | None = None, **options: object) -> tuple[Event, Event | None]:
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

    def edit(self, document: str, update: bytes) -> Event:
        return self._append(Kind.EDIT, document, update)

    def delete(self, target: str, network: str) -> Event:
        """Retract a document (target == network) or a link living in `network`."""
        return self._append(Kind.DELETION, network, canonical_json({"target": target}))

    def subscription(self, document: str, action: Action, note: str | None = None) -> Event:
        body: dict[str, str] = {"document": document, "action": action.value}
        if note is not None:
            body["note"] = note
        return self._append(Kind.SUBSCRIPTION, self.id, canonical_json(body))
