"""Proof of work for posts (NIP-13 style): a document whose id has at least
BITS leading zero bits.

A forum with the posting policy `pow:BITS` asks it of everyone but its
owner, moderators and approved members. The id is sha256 of the header,
which holds the body's hash, so the author varies the body's `nonce` until
the id has enough zero bits; checking costs one look at the id. Mining
hashes the header alone per try (the body with each nonce is hashed too,
both with hashlib), and signs once at the end.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence

from .codec import FORMAT_VERSION, MAX_INTEGER, canonical_json
from .events import Event, Kind

#: report progress every this many tries
PROGRESS_EVERY = 20_000


def leading_zero_bits(event_id: str) -> int:
    """Leading zero bits of a hex id."""
    value = int(event_id, 16)
    return len(event_id) * 4 - value.bit_length()


def has_work(event_id: str, bits: int) -> bool:
    return leading_zero_bits(event_id) >= bits


def mine_nonce(author: str, body: Mapping[str, object], timestamp: int, bits: int,
               progress: Callable[[int, float], None] | None = None) -> int:
    """The first nonce (0, 1, ...) giving a document with `body` (plus the nonce)
    an id with `bits` leading zero bits. `progress(tries, seconds)` is called now and then."""
    start = time.monotonic()
    fields = {"author": author, "kind": Kind.DOCUMENT.value, "network": None, "prev": None, "seq": 1,
              "ts": timestamp, "v": FORMAT_VERSION}
    nonce = 0
    while nonce <= MAX_INTEGER:
        raw = canonical_json({**body, "nonce": nonce})
        header = canonical_json({**fields, "body": hashlib.sha256(raw).hexdigest(), "size": len(raw)})
        if has_work(hashlib.sha256(header).hexdigest(), bits):
            return nonce
        nonce += 1
        if progress is not None and nonce % PROGRESS_EVERY == 0:
            progress(nonce, time.monotonic() - start)
    raise AssertionError("unreachable: 2**63 nonces")


def document_body(subject: str, text: str, content_type: str, editors: Sequence[str] = (),
                  properties: Mapping[str, str] | None = None) -> dict[str, object]:
    """A document's body fields, as `BatchSigner.document` writes them (nonce aside)."""
    body: dict[str, object] = {"subject": subject, "text": text, "content_type": content_type}
    if editors:
        body["editors"] = sorted(set(editors))
    if properties:
        body["properties"] = dict(properties)
    return body


def proven(event: Event, bits: int) -> bool:
    """True if `event` is a document whose id carries `bits` bits of work."""
    return event.kind is Kind.DOCUMENT and has_work(event.id, bits)
