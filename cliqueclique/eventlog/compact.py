"""The compact form of an event on a gossip link: the same bytes, less to send.

An event that travels with its body carries two header fields the receiver
can work out from that body: ``"body":"<sha256 hex of the body>",`` and
``"size":<len(body)>,``, some 85 bytes of which about 40 survive the link's
compression (a hash does not compress). `compact` cuts them out and `expand`
puts them back; what is stored, signed, hashed and checked is always the
expanded form, the exact bytes the author signed::

    compact = signature (64) | compact header length (2) | compact header | body

Why expansion re-encodes exactly. A canonical header has sorted keys and
no spaces, so both fields sit at fixed places: ``"body"`` straight after the
author (byte 77 of the header, the author being 64 hex digits), ``"size"``
between ``"seq"`` and ``"ts"``. Their values are functions of the body written
in the one way the canonical encoder writes them (lowercase hex; decimal
without leading zeros). `compact` cuts only from a header of exactly that
shape whose two values are the ones the body gives, and `expand` accepts only
that shape minus the two fields and inserts the values it computes. Hence
``expand(compact(w)) == w`` byte for byte, and ``compact(expand(c)) == c``:
an event has one compact form, and a compact item expands to nothing a full
item could not have carried. `expand` does not judge the event; the result
goes through `decode_wire` and the signature check like any other (a body
swapped in transit changes the recomputed hash, so the signature fails).

A purged event (no body) has nothing to recompute its hash from, and a header
outside the canonical shape is left as it is: both travel in full form.
"""

from __future__ import annotations

import hashlib
import re

from .events import FORMAT_VERSION, MAX_EVENT_SIZE, Kind

_HEX = rb"[0-9a-f]{64}"
_AUTHOR = rb'\{"author":"' + _HEX + rb'",'
_BODY_AT = len('{"author":"') + 64 + len('",')  # 77: where "body" starts
_MIDDLE = (rb'"kind":"(?:' + "|".join(Kind).encode() + rb')","network":(?:null|"' + _HEX
           + rb'"),"prev":(?:null|"' + _HEX + rb'"),"seq":[1-9][0-9]*,')
_TAIL = rb'"ts":(?:0|[1-9][0-9]*),"v":' + str(FORMAT_VERSION).encode() + rb"\}"
_FULL = re.compile(  # groups: the body hash, the fields from "kind" to "seq", the size
    _AUTHOR + rb'"body":"(' + _HEX + rb')",(' + _MIDDLE + rb')"size":([1-9][0-9]*),' + _TAIL)
_SHORT = re.compile(_AUTHOR + b"(" + _MIDDLE + b")" + _TAIL)


class NotCompact(ValueError):
    """The bytes are not an event in compact form."""


def compact(wire: bytes) -> bytes | None:
    """The compact form of an event's wire bytes, None if it has none.

    None for a purged event, a header not in the canonical shape, or recorded
    values that are not the body's (the last two never pass `decode_wire`).
    """
    if len(wire) < 66:
        return None
    end = 66 + int.from_bytes(wire[64:66], "big")
    body = wire[end:]
    if not body:
        return None
    match = _FULL.fullmatch(wire, 66, end)
    if match is None or int(match[3]) != len(body):
        return None
    if match[1] != hashlib.sha256(body).hexdigest().encode():
        return None
    header = wire[66 : 66 + _BODY_AT] + match[2] + wire[match.end(3) + 1 : end]
    return wire[:64] + len(header).to_bytes(2, "big") + header + body


def expand(item: bytes) -> bytes:
    """The wire bytes of an event in compact form (the inverse of `compact`).

    Raises:
        NotCompact: `item` is not in compact form, or expands past MAX_EVENT_SIZE.
    """
    if len(item) < 66:
        raise NotCompact("truncated compact event")
    end = 66 + int.from_bytes(item[64:66], "big")
    body = item[end:]
    if not body:
        raise NotCompact("a compact event carries its body")
    match = _SHORT.fullmatch(item, 66, end)
    if match is None:
        raise NotCompact("not a compact event header")
    header = b"".join((
        item[66 : 66 + _BODY_AT], b'"body":"', hashlib.sha256(body).hexdigest().encode(), b'",',
        match[1], b'"size":%d,' % len(body), item[match.end(1) : end]))
    size = 66 + len(header) + len(body)
    if size > MAX_EVENT_SIZE:  # checked first: so the header length also fits its two bytes
        raise NotCompact(f"compact event expands to {size} bytes > {MAX_EVENT_SIZE}")
    return item[:64] + len(header).to_bytes(2, "big") + header + body
