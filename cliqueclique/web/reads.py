"""The web UI's own read connection, used from one worker thread at a time.

Rendering a thread of a thousand replies takes tens of milliseconds of SQLite
and Python; doing it on the event loop would stall gossip for that long. So
every page reads through this connection in a worker thread (a capacity
limiter of one: the connection is never used by two threads at once), and the
event loop only awaits the finished HTML.

Document states are cached per document, because reading a thousand of them
dominates a big thread's page. The cache is invalidated by the node's own
feed of accepted events (`invalidate(event.network)`): every event that can
change a document's state (edit, reaction, deletion) lives in that document's
network. A per-document generation counter keeps a render that raced an
invalidation from storing what it read before it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import trio

from ..eventlog import SQLiteStore
from ..home import LocalNode
from ..views import DocumentState, document_state
from ..views.errors import NotADocument

T = TypeVar("T")
MAX_CACHED = 50_000


class Reader:
    """A read-only store plus a cache of document states (see the module docstring)."""

    def __init__(self, local: LocalNode) -> None:
        self.store = local.open_store()
        self.limiter = trio.CapacityLimiter(1)
        self._lock = threading.Lock()
        self._generation: dict[str, int] = {}
        self._states: dict[str, tuple[int, DocumentState | None]] = {}

    async def run(self, fn: Callable[[SQLiteStore], T]) -> T:
        """Run `fn(store)` in the reading thread and return its result."""
        return await trio.to_thread.run_sync(fn, self.store, limiter=self.limiter)

    def invalidate(self, doc: str) -> None:
        """Forget what is cached of `doc` (an event of its network was accepted)."""
        with self._lock:
            self._generation[doc] = self._generation.get(doc, 0) + 1
            self._states.pop(doc, None)

    def state(self, store: SQLiteStore, doc: str) -> DocumentState | None:
        """The document's current state (None if not held); call from the reading thread."""
        with self._lock:
            generation = self._generation.get(doc, 0)
            hit = self._states.get(doc)
        if hit is not None and hit[0] == generation:
            return hit[1]
        try:
            found: DocumentState | None = document_state(store, doc)
        except NotADocument:
            found = None
        with self._lock:
            if self._generation.get(doc, 0) == generation:
                if len(self._states) >= MAX_CACHED:
                    self._states.clear()
                self._states[doc] = (generation, found)
        return found

    def close(self) -> None:
        self.store.close()
