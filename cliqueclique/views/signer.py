"""Sign many events of one author before appending any of them.

`Author` asks the store for each chain's head, so it can only sign the next
event once the previous one is appended. Bulk work (directory imports,
benchmarks, property tests) signs whole batches first and appends them with
one `append_many` (one transaction, one group commit); `BatchSigner` keeps
the chain heads itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from nacl.signing import SigningKey

from ..eventlog.base import EventStore
from ..eventlog.codec import canonical_json, sign_event
from ..eventlog.events import Action, Direction, Event, Kind
from ..eventlog.keys import node_id
from ..eventlog.writer import DEFAULT_CONTENT_TYPE, now_ms


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

    def _next(self, network: str) -> tuple[int, str | None]:
        head = self._heads.get(network)
        if head is None and self.store is not None:
            head = self.store.head(self.id, network)
        return (1, None) if head is None else (head[0] + 1, head[1])

    def sign(self, kind: Kind, network: str | None, body: bytes) -> Event:
        """Sign the next event of this author's chain in `network`."""
        seq, prev = (1, None) if kind is Kind.DOCUMENT else self._next(network or "")
        event = sign_event(self.key, kind, network=network, seq=seq, prev=prev,
                           timestamp=self.clock(), body=body)
        self._heads[event.network] = (event.seq, event.id)
        return event

    def document(self, subject: str, text: str, *, content_type: str = DEFAULT_CONTENT_TYPE,
                 editors: Sequence[str] = (), properties: Mapping[str, str] | None = None) -> Event:
        body: dict[str, object] = {"subject": subject, "text": text, "content_type": content_type}
        if editors:
            body["editors"] = sorted(set(editors))
        if properties:
            body["properties"] = dict(properties)
        return self.sign(Kind.DOCUMENT, None, canonical_json(body))

    def link(self, parent: str, child: str, direction: Direction = Direction.NATURAL) -> Event:
        body = {"parent": parent, "child": child, "direction": direction.value}
        return self.sign(Kind.LINK, parent, canonical_json(body))

    def edit(self, document: str, update: bytes) -> Event:
        return self.sign(Kind.EDIT, document, update)

    def delete(self, target: str, network: str) -> Event:
        return self.sign(Kind.DELETION, network, canonical_json({"target": target}))

    def subscription(self, document: str, action: Action, note: str | None = None) -> Event:
        body: dict[str, str] = {"document": document, "action": action.value}
        if note is not None:
            body["note"] = note
        return self.sign(Kind.SUBSCRIPTION, self.id, canonical_json(body))
