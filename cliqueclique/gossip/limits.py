"""Byte budgets for what peers can make the gossip machine remember (sans-IO).

Counting items is not enough: 4,096 orphans of 64 KiB each pin 256 MiB. Every
buffer filled by peer input is bounded here in bytes, per peer and across all
peers together:

- a peer that exceeds its own share gets the item refused (`add` returns
  False) and the caller blames that peer;
- when the total is exceeded, the peer holding the most is evicted first, so
  one offender's bulk never pushes out an honest peer's few entries.

`ReplyPacing` keeps the per (peer, document) state that bounds what one
`Vector` can make us read and send: one bounded chunk per request, and an
identical request repeated while its answer is on the way is ignored.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from ..eventlog import Event

if TYPE_CHECKING:
    from .node import GossipNode

#: What Python spends on one buffered event beyond its bytes (objects, dict slots).
ITEM_OVERHEAD = 400

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def event_bytes(event: Event) -> int:
    """Approximate memory one event held in a buffer costs."""
    return ITEM_OVERHEAD + len(event.header) + len(event.body or b"") + len(event.signature)


@dataclass(slots=True)
class _Entry(Generic[V]):
    value: V
    peer: str
    size: int


class PeerBoundedBuffer(Generic[K, V]):
    """A dict of peer-supplied items bounded in count and bytes, per peer and in total.

    Args:
        per_peer_bytes: what one peer may make us hold; beyond it `add` refuses.
        total_bytes: what all peers together may; beyond it the largest holder
            loses its oldest items first.
        max_items: a count bound on top (cheap items still cost dict slots).
    """

    def __init__(self, per_peer_bytes: int, total_bytes: int, max_items: int) -> None:
        self.per_peer_bytes = per_peer_bytes
        self.total_bytes = total_bytes
        self.max_items = max_items
        self._items: dict[K, _Entry[V]] = {}
        self._by_peer: dict[str, dict[K, None]] = {}  # insertion-ordered keys per peer
        self._peer_bytes: dict[str, int] = {}
        self.bytes = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._items))

    def __bool__(self) -> bool:
        return bool(self._items)

    def peer_bytes(self, peer: str) -> int:
        return self._peer_bytes.get(peer, 0)

    def add(self, key: K, value: V, peer: str, size: int) -> bool:
        """Hold `value` under `key` (replacing an older entry). False if `peer`
        would exceed its share: nothing is stored and the caller blames it."""
        self.pop(key)
        if self.peer_bytes(peer) + size > self.per_peer_bytes:
            return False
        self._items[key] = _Entry(value, peer, size)
        self._by_peer.setdefault(peer, {})[key] = None
        self._peer_bytes[peer] = self.peer_bytes(peer) + size
        self.bytes += size
        while (self.bytes > self.total_bytes or len(self._items) > self.max_items) and self._items:
            self._evict_largest()
        return True

    def pop(self, key: K) -> V | None:
        entry = self._items.pop(key, None)
        if entry is None:
            return None
        self._release(key, entry)
        return entry.value

    def get(self, key: K) -> V | None:
        entry = self._items.get(key)
        return None if entry is None else entry.value

    def drop_peer(self, peer: str) -> int:
        """Forget everything `peer` made us hold (it left or was banned); returns the count."""
        keys = list(self._by_peer.get(peer, ()))
        for key in keys:
            self.pop(key)
        return len(keys)

    def _release(self, key: K, entry: _Entry[V]) -> None:
        keys = self._by_peer[entry.peer]
        del keys[key]
        self.bytes -= entry.size
        left = self._peer_bytes[entry.peer] - entry.size
        if keys:
            self._peer_bytes[entry.peer] = left
        else:
            del self._by_peer[entry.peer]
            del self._peer_bytes[entry.peer]

    def _evict_largest(self) -> None:
        peer = max(self._peer_bytes, key=self._peer_bytes.__getitem__)
        oldest = next(iter(self._by_peer[peer]))
        self.pop(oldest)
        self.evicted += 1


@dataclass(slots=True)
class _Reply:
    request: bytes  # fingerprint of the vector being answered
    since: float


class ReplyPacing:
    """At most one reconciliation answer in flight per (peer, document).

    An answer is in flight from the moment we send its (bounded) chunk until
    the requester asks again with a *different* vector (it stored the chunk,
    so its heads moved) or `resend_after` seconds pass (the chunk was lost).
    The same vector again before that is a duplicate and costs us nothing.
    """

    def __init__(self, resend_after: float) -> None:
        self.resend_after = resend_after
        self._replies: dict[tuple[str, str], _Reply] = {}

    def should_answer(self, peer: str, doc: str, request: bytes, now: float) -> bool:
        last = self._replies.get((peer, doc))
        return last is None or last.request != request or now >= last.since + self.resend_after

    def answered(self, peer: str, doc: str, request: bytes, now: float) -> None:
        self._replies[(peer, doc)] = _Reply(request, now)

    def finished(self, peer: str, doc: str) -> None:
        self._replies.pop((peer, doc), None)

    def drop_peer(self, peer: str) -> None:
        for key in [k for k in self._replies if k[0] == peer]:
            del self._replies[key]

    def __len__(self) -> int:
        return len(self._replies)


@dataclass(slots=True)
class DebtBucket:
    """A token bucket that may go into debt: work whose cost is known only once
    done (an answer read from the log) is allowed while the balance is
    positive and charged afterwards. `rate` tokens per second, at most `burst`."""

    rate: float
    burst: float
    tokens: float = 0.0
    updated: float | None = None

    def _refill(self, now: float) -> None:
        if self.updated is None:
            self.tokens = self.burst
        else:
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        self.updated = now

    def ready(self, now: float) -> bool:
        self._refill(now)
        return self.tokens > 0

    def charge(self, amount: float, now: float) -> None:
        self._refill(now)
        self.tokens -= amount

    def ready_at(self, now: float) -> float:
        """When the balance is positive again."""
        self._refill(now)
        return now if self.tokens > 0 else now + (1.0 - self.tokens) / self.rate


#: Approximate bytes of one small table entry (an id with a counter, a head, a flag).
ENTRY_BYTES = 150


def memory_report(node: GossipNode) -> dict[str, int]:
    """Approximate bytes of what peers made `node` hold, by kind (`GossipNode.memory_report`)."""
    docs = list(node._docs.values())
    return {
        "orphans": node._orphans.bytes,
        "pending": sum(event_bytes(p.event) for p in node._pending.values()),
        "codec": node.codec.bytes,
        "deferred_vectors": node._reconciler.deferred.bytes,
        "missing": ENTRY_BYTES * sum(len(p.missing) + len(p.graft_heap) + len(p.claims) for p in docs),
        "recent": ENTRY_BYTES * sum(len(p.recent) + len(p.first_source) for p in docs),
        "link_heads": ENTRY_BYTES * sum(len(h) + 1 for p in docs for link in p.links.values()
                                        for h in link.heads.values()),
        "heads_cache": ENTRY_BYTES * sum(len(h) + 1 for h in node._heads.values()),
        "admission": node._gate.state_bytes(),
        "per_peer": ENTRY_BYTES * (len(node._unsolicited) + len(node._misbehaviour) + len(node._pending_from)
                                   + node._reconciler.entries()),
    }
