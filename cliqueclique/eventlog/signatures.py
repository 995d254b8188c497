"""Signature checks for one append batch, in helper processes for big ones.

Checking signatures dominates ingest, so it starts as early as it can: each
chunk of the batch goes to the helpers as soon as it is decoded, the next
chunk is decoded while they verify, and the append pass takes each verdict as
it arrives. Small batches (and simulations sharing a `SignatureCache`) are
checked here, when each verdict is asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from ..errors import InvalidEvent
from ..errors import InvalidSignature as InvalidSignatureError
from .codec import verify_signature
from .events import Event
from .verifier import Ticket, shared_pool

#: Batches of at least this many events use the helper processes (a hand-off
#: costs more than a few verifications).
PARALLEL_VERIFY_MIN = 256
#: Signatures per request to a helper: small enough that both helpers finish a
#: batch at about the same time, big enough that the pipes stay cheap.
VERIFY_CHUNK = 256


class SignatureCache:
    """Remembers (id, signature) pairs that verified: a pure function of bytes.

    Many simulated nodes in one process can share one cache so each signature
    is checked once, not once per node.
    """

    def __init__(self, limit: int = 1_000_000) -> None:
        self._ok: set[tuple[str, bytes]] = set()
        self._limit = limit

    def verify(self, event: Event) -> None:
        key = (event.id, event.signature)
        if key in self._ok:
            return
        verify_signature(event)
        if len(self._ok) >= self._limit:
            self._ok.clear()
        self._ok.add(key)


class BatchSignatures:
    """Signature verdicts for the events of one batch, by batch index."""

    def __init__(self, batch_size: int, cache: SignatureCache | None) -> None:
        self._cache = cache
        self._parallel = cache is None and batch_size >= PARALLEL_VERIFY_MIN
        self._verdicts: dict[int, bool] = {}
        self._jobs: deque[tuple[list[int], Ticket]] = deque()

    def check(self, chunk: Sequence[tuple[int, Event]]) -> None:
        """Start checking these (batch index, event) if the helpers are used."""
        if self._parallel and chunk:
            ticket = shared_pool().submit([(e.author, e.header, e.signature) for _, e in chunk])
            self._jobs.append(([index for index, _ in chunk], ticket))

    def error(self, index: int, event: Event) -> InvalidEvent | None:
        """The signature error of the event at batch `index`, or None."""
        verdict = self._verdicts.get(index)
        if verdict is None:
            verdict = self._helper_verdict(index)
        if verdict is None:
            verdict = self._check_here(event)
        self._verdicts[index] = verdict
        return None if verdict else InvalidSignatureError(event.id)

    def _helper_verdict(self, index: int) -> bool | None:
        """Wait for the helpers' chunks, in order, until `index` is answered."""
        while index not in self._verdicts and self._jobs:
            indices, ticket = self._jobs.popleft()
            self._verdicts.update(zip(indices, shared_pool().result(ticket)))
        return self._verdicts.get(index)

    def _check_here(self, event: Event) -> bool:
        try:
            (self._cache.verify if self._cache else verify_signature)(event)
        except InvalidEvent:
            return False
        return True
