"""Signature checks for one append batch, started before the batch is decoded.

Checking signatures dominates ingest, so it starts first: the signed parts
of each wire event (header, signature and the author key at the header's
fixed start) are sliced out without parsing anything, and big batches go to
helper processes in chunks straight away. This thread then decodes while the
helpers verify, and the append pass takes each verdict as it arrives.

A verdict only counts for the event it was computed for: the key sliced from
the bytes must equal the decoded author. A canonical header always starts
with its author field, so that holds for every event that decodes; anything
else is checked here, in process, as small batches are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from ..errors import InvalidEvent
from ..errors import InvalidSignature as InvalidSignatureError
from .codec import SIGNATURE_SIZE, digest, is_hex_id, verify_signature
from .events import Event
from .verifier import Ticket, shared_pool

#: Batches of at least this many events use the helper processes (a hand-off
#: costs more than a few verifications).
PARALLEL_VERIFY_MIN = 256
#: Signatures per request to a helper: small enough that both helpers finish a
#: batch at about the same time, big enough that the pipes stay cheap.
VERIFY_CHUNK = 256

_AUTHOR_PREFIX = b'{"author":"'


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


#: (event id, author hex, header, signature)
SignedParts = tuple[str, str, bytes, bytes]


def signed_parts(item: Event | bytes) -> SignedParts | None:
    """The parts a signature check needs, sliced without parsing; None if the
    bytes are too broken to hold them (decoding will reject the item)."""
    if isinstance(item, Event):
        return item.id, item.author, item.header, item.signature
    if not isinstance(item, bytes | bytearray | memoryview):
        return None
    wire = bytes(item)
    header_end = SIGNATURE_SIZE + 2 + int.from_bytes(wire[SIGNATURE_SIZE : SIGNATURE_SIZE + 2], "big")
    header = wire[SIGNATURE_SIZE + 2 : header_end]
    start = len(_AUTHOR_PREFIX)
    if len(wire) < header_end or not header.startswith(_AUTHOR_PREFIX):
        return None
    try:
        author = header[start : start + 64].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not is_hex_id(author):
        return None
    return digest(header), author, header, wire[:SIGNATURE_SIZE]


class BatchSignatures:
    """Signature verdicts for the items of one batch, by batch index.

    `check` takes the signed parts of new events chunk by chunk, as the
    batch is sliced, so the helpers start on the first chunk at once.
    """

    def __init__(self, batch_size: int, cache: SignatureCache | None) -> None:
        self._cache = cache
        self._parallel = cache is None and batch_size >= PARALLEL_VERIFY_MIN
        self._authors: dict[int, str] = {}
        self._verdicts: dict[int, bool] = {}
        self._jobs: deque[tuple[list[int], Ticket]] = deque()

    def check(self, chunk: Sequence[tuple[int, SignedParts]]) -> None:
        """Start checking these (batch index, parts) if the helpers are used;
        otherwise each is checked here when its verdict is asked for."""
        self._authors.update((index, parts[1]) for index, parts in chunk)
        if self._parallel and chunk:
            ticket = shared_pool().submit([(author, header, sig) for _, (_, author, header, sig) in chunk])
            self._jobs.append(([index for index, _ in chunk], ticket))

    def error(self, index: int, event: Event) -> InvalidEvent | None:
        """The signature error of the decoded event at batch `index`, or None."""
        verdict = self._verdicts.get(index)
        if verdict is None:
            verdict = self._helper_verdict(index) if self._authors.get(index) == event.author else None
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
