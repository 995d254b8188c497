"""Gossip wire messages and their one byte encoding.

A *frame* is what the transport carries as one unit (it adds its own length
prefix and encryption)::

    frame   = MAGIC (4 bytes, b"CQG1") message+
    message = type (1 byte) | length (4 bytes, big endian) | payload

At most `MAX_FRAME` bytes (1 MiB) per frame; `encode_frames` packs as many
messages as fit into each frame. Ids (documents, events, nodes) travel as 32
raw bytes and are hex strings in memory.

An `Events` message lists its items after the document id and a count::

    events = doc (32) | count (2) | item*
    item   = hops (2) | C flag (top bit) + length (31 bits) (4) | event

An event (at most 64 KiB) is never re-encoded: it travels either as its exact
wire bytes (C = 0) or, if it carries its body and has a canonical header, in
the compact form of eventlog/compact.py (C = 1): the header without its
"body" hash and "size", which the receiver recomputes from the body. Decoding
expands a compact item back to the exact wire bytes the author signed before
anything else sees it; one that does not expand (wrong shape, or past 64 KiB
expanded) makes the frame malformed. A purged event, the header alone, always
goes in full. Expansion adds under 90 bytes to an item of at least 200, so a
frame's decoded events stay within a small multiple of the frame limit.

`decode_frame` is total: for any input it returns messages or raises
`MalformedMessage` / `MessageTooLarge` (both `RemoteProtocolError`), never
anything else. It checks structure only; meaning (is this distance absurd, is
this event forged) is the machine's business.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from ..eventlog.compact import NotCompact, compact, expand
from .errors import MalformedMessage, MessageTooLarge

MAGIC = b"CQG1"
#: Largest frame the protocol sends or accepts.
MAX_FRAME = 1024 * 1024
#: Room for a message's header inside a frame.
MESSAGE_OVERHEAD = 5
#: Largest number of items (ids, events, networks) one message may list.
MAX_ITEMS = 65535
DIGEST_SIZE = 8
#: Largest center sequence number (a u32 on the wire).
MAX_SEQNO = 2**32 - 1


class Type(IntEnum):
    HAVE = 1
    UPDATE = 2
    ACK = 3
    DELETE = 4
    SUGGEST = 5
    EVENTS = 6
    IHAVE = 7
    GRAFT = 8
    PRUNE = 9
    VECTOR = 10
    MORE = 11
    SHED = 12
    SEQNO = 13
    REACHABLE = 14


@dataclass(frozen=True, slots=True)
class Attrs:
    """What a node advertises about one document to each of its peers."""

    holds: bool  # has a copy (False only while joining)
    subscribed: bool  # locally subscribed or has subscribed downstream peers
    wants: bool
    center: str | None  # None while joining
    center_subscribed: bool
    distance: int
    upstream: str | None  # the peer it reaches the center through
    peers: int  # how many peers it has for this document
    doc_digest: bytes  # digest of the per-author heads of the document's own network
    scope_digest: bytes  # ... of the document plus the children it carries
    seqno: int = 0  # the center's sequence number this route carries (election.py)


@dataclass(frozen=True, slots=True)
class Have:
    """Node level: the documents the sender holds (sent on connect and on acquiring one)."""

    docs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Update:
    """Metadata sync: the sender's attributes under a serial; the first one may carry the document."""

    doc: str
    serial: int
    attrs: Attrs
    document: bytes | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """Acknowledges an `Update` or a `Delete` with that serial."""

    doc: str
    serial: int


@dataclass(frozen=True, slots=True)
class Delete:
    """Metadata deletion: the sender does not (or no longer) hold the document."""

    doc: str
    serial: int


@dataclass(frozen=True, slots=True)
class Suggest:
    """Peer suggestion: `peer` holds the document; `hint` is its transport address if known."""

    doc: str
    peer: str
    hint: str


@dataclass(frozen=True, slots=True)
class Events:
    """Event payload: (hops travelled so far, wire bytes) pairs, in append order."""

    doc: str
    items: tuple[tuple[int, bytes], ...]


@dataclass(frozen=True, slots=True)
class IHave:
    """Lazy push: ids of events the sender holds."""

    doc: str
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Graft:
    """Asks for these events and turns the link eager."""

    doc: str
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prune:
    """Asks the peer to stop pushing eagerly (it only announces from now on)."""

    doc: str


@dataclass(frozen=True, slots=True)
class Vector:
    """Reconciliation: the sender's per-(network, author) chain heads.

    Covers exactly the networks in [lo, hi] (hex order); a network in that range
    that is missing from `heads` is one the sender holds nothing of.
    """

    doc: str
    lo: str
    hi: str
    heads: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


@dataclass(frozen=True, slots=True)
class More:
    """The answer to the receiver's last `Vector` for `doc` was cut short (flow
    control, see reconcile.py): send another vector once it is stored."""

    doc: str


@dataclass(frozen=True, slots=True)
class Shed:
    """The sender has more links for `doc` than it keeps: drop the link to it
    if you can do without (peerlimits.py)."""

    doc: str


@dataclass(frozen=True, slots=True)
class SeqnoRequest:
    """Asks `center` (relayed towards it, at most `hops` more times) to raise its
    sequence number to at least `seqno`: the sender lost its route to that center
    and only unfeasible ones are left (election.py)."""

    doc: str
    center: str
    seqno: int
    hops: int


@dataclass(frozen=True, slots=True)
class Reachable:
    """Node level, sent on connect: the sender accepts TCP connections on `port`
    of the host it connects from. A caller's source port says nothing of where
    it listens, so without this nobody could suggest a peer that dialled in."""

    port: int


Message = (Have | Update | Ack | Delete | Suggest | Events | IHave | Graft | Prune | Vector | More | Shed
           | SeqnoRequest | Reachable)

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HDR = struct.Struct(">BI")
_ITEM = struct.Struct(">HI")
_COMPACT = 1 << 31  # in an item's length: the event is in compact form (an item is < 2**31 bytes)
_ZERO = bytes(32)
_FLAG_HOLDS, _FLAG_SUB, _FLAG_WANTS, _FLAG_CSUB, _FLAG_UP, _FLAG_DOC, _FLAG_CENTER = (
    1, 2, 4, 8, 16, 32, 64)
_KNOWN_FLAGS = 127


def _id(hex_id: str) -> bytes:
    return bytes.fromhex(hex_id)


def _ids(ids: tuple[str, ...]) -> bytes:
    return _U16.pack(len(ids)) + b"".join(bytes.fromhex(i) for i in ids)


# --- encoding -----------------------------------------------------------------------


def encode_payload(msg: Message) -> tuple[Type, bytes]:
    """The type and payload bytes of one message."""
    if isinstance(msg, Events):
        parts = [_id(msg.doc), _U16.pack(len(msg.items))]
        for hops, wire in msg.items:
            short = compact(wire)
            item, flag = (wire, 0) if short is None else (short, _COMPACT)
            parts.append(_ITEM.pack(min(hops, 65535), len(item) | flag))
            parts.append(item)
        return Type.EVENTS, b"".join(parts)
    if isinstance(msg, IHave | Graft):
        return (Type.IHAVE if isinstance(msg, IHave) else Type.GRAFT), _id(msg.doc) + _ids(msg.ids)
    if isinstance(msg, Ack | Delete):
        return (Type.ACK if isinstance(msg, Ack) else Type.DELETE), _id(msg.doc) + _U64.pack(msg.serial)
    if isinstance(msg, Update):
        return Type.UPDATE, _encode_update(msg)
    if isinstance(msg, Have):
        return Type.HAVE, _ids(msg.docs)
    if isinstance(msg, Prune):
        return Type.PRUNE, _id(msg.doc)
    if isinstance(msg, More):
        return Type.MORE, _id(msg.doc)
    if isinstance(msg, Shed):
        return Type.SHED, _id(msg.doc)
    if isinstance(msg, Reachable):
        return Type.REACHABLE, _U16.pack(msg.port)
    if isinstance(msg, SeqnoRequest):
        return Type.SEQNO, _id(msg.doc) + _id(msg.center) + _U32.pack(msg.seqno) + _U16.pack(msg.hops)
    if isinstance(msg, Suggest):
        hint = msg.hint.encode()
        return Type.SUGGEST, _id(msg.doc) + _id(msg.peer) + _U16.pack(len(hint)) + hint
    if isinstance(msg, Vector):
        parts = [_id(msg.doc), _id(msg.lo), _id(msg.hi), _U32.pack(len(msg.heads))]
        for network, authors in msg.heads:
            parts.append(_id(network) + _U16.pack(len(authors)))
            parts.extend(_id(a) + _U32.pack(s) for a, s in authors)
        return Type.VECTOR, b"".join(parts)
    raise TypeError(f"not a gossip message: {msg!r}")


def _encode_update(msg: Update) -> bytes:
    a = msg.attrs
    flags = ((_FLAG_HOLDS if a.holds else 0) | (_FLAG_SUB if a.subscribed else 0)
             | (_FLAG_WANTS if a.wants else 0) | (_FLAG_CSUB if a.center_subscribed else 0)
             | (_FLAG_UP if a.upstream else 0) | (_FLAG_DOC if msg.document else 0)
             | (_FLAG_CENTER if a.center else 0))
    parts = [_id(msg.doc), _U64.pack(msg.serial), bytes([flags]),
             _id(a.center) if a.center else _ZERO, _U16.pack(a.distance), _U32.pack(a.seqno),
             _U16.pack(a.peers), a.doc_digest, a.scope_digest]
    if a.upstream:
        parts.append(_id(a.upstream))
    if msg.document:
        parts.append(_U32.pack(len(msg.document)) + msg.document)
    return b"".join(parts)


def encoded_size(msg: Message) -> int:
    return MESSAGE_OVERHEAD + len(encode_payload(msg)[1])


def encode_frames(messages: Sequence[Message], limit: int = MAX_FRAME) -> list[bytes]:
    """Pack messages, in order, into as few frames of at most `limit` bytes as possible.

    Raises:
        ValueError: one message alone does not fit in a frame (callers split first).
    """
    return [frame for frame, _ in pack_frames(messages, limit)]


def pack_frames(messages: Sequence[Message], limit: int = MAX_FRAME) -> list[tuple[bytes, bool]]:
    """Like `encode_frames`, also telling for each frame whether it carries events."""
    if len(messages) == 1:  # the common case: one message, one frame
        kind, payload = encode_payload(messages[0])
        if MESSAGE_OVERHEAD + len(payload) + len(MAGIC) <= limit:
            return [(MAGIC + _HDR.pack(kind, len(payload)) + payload, kind == Type.EVENTS)]
    frames: list[tuple[bytes, bool]] = []
    parts: list[bytes] = [MAGIC]
    size = len(MAGIC)
    payload_frame = False
    for msg in messages:
        kind, payload = encode_payload(msg)
        need = MESSAGE_OVERHEAD + len(payload)
        if need + len(MAGIC) > limit:
            raise ValueError(f"{kind.name} message of {need} bytes exceeds the frame limit")
        if size + need > limit:
            frames.append((b"".join(parts), payload_frame))
            parts, size, payload_frame = [MAGIC], len(MAGIC), False
        parts.append(_HDR.pack(kind, len(payload)))
        parts.append(payload)
        size += need
        payload_frame = payload_frame or kind == Type.EVENTS
    if len(parts) > 1:
        frames.append((b"".join(parts), payload_frame))
    return frames


# --- decoding -----------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise MalformedMessage("truncated message")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return int(_U16.unpack(self.take(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack(self.take(8))[0])

    def hexid(self) -> str:
        return self.take(32).hex()

    def ids(self) -> tuple[str, ...]:
        n = self.u16()
        raw = self.take(32 * n)
        return tuple(raw[i : i + 32].hex() for i in range(0, 32 * n, 32))

    def done(self) -> None:
        if self.pos != self.end:
            raise MalformedMessage("trailing bytes in message")


def _decode_update(r: _Reader) -> Update:
    doc, serial = r.hexid(), r.u64()
    flags = r.take(1)[0]
    if flags & ~_KNOWN_FLAGS:
        raise MalformedMessage("unknown update flags")
    center_raw = r.take(32)
    distance, seqno, peers = r.u16(), r.u32(), r.u16()
    doc_digest, scope_digest = r.take(DIGEST_SIZE), r.take(DIGEST_SIZE)
    upstream = r.hexid() if flags & _FLAG_UP else None
    document = r.take(r.u32()) if flags & _FLAG_DOC else None
    if document is not None and not document:
        raise MalformedMessage("empty document")
    center = center_raw.hex() if flags & _FLAG_CENTER else None
    holds = bool(flags & _FLAG_HOLDS)
    attrs = Attrs(holds, bool(flags & _FLAG_SUB), bool(flags & _FLAG_WANTS), center,
                  bool(flags & _FLAG_CSUB), distance, upstream, peers, doc_digest, scope_digest, seqno)
    return Update(doc, serial, attrs, document)


def _decode_events(r: _Reader) -> Events:
    # The hot path (one per delivered payload): plain slicing, one bounds check per item.
    data, pos, end = r.data, r.pos, r.end
    if pos + 34 > end:
        raise MalformedMessage("truncated message")
    doc = data[pos : pos + 32].hex()
    (n,) = _U16.unpack_from(data, pos + 32)
    pos += 34
    items = []
    unpack = _ITEM.unpack_from
    for _ in range(n):
        if pos + 6 > end:
            raise MalformedMessage("truncated message")
        hops, length = unpack(data, pos)
        pos += 6
        short = length & _COMPACT
        length &= ~_COMPACT
        if pos + length > end:
            raise MalformedMessage("truncated message")
        wire = data[pos : pos + length]
        if short:
            try:
                wire = expand(wire)
            except NotCompact as e:
                raise MalformedMessage(str(e)) from None
        items.append((hops, wire))
        pos += length
    r.pos = pos
    return Events(doc, tuple(items))


def _decode_vector(r: _Reader) -> Vector:
    doc, lo, hi, n = r.hexid(), r.hexid(), r.hexid(), r.u32()
    if n > MAX_ITEMS * 16:
        raise MalformedMessage("vector too long")
    heads = []
    for _ in range(n):
        network, m = r.hexid(), r.u16()
        heads.append((network, tuple((r.hexid(), r.u32()) for _ in range(m))))
    return Vector(doc, lo, hi, tuple(heads))


def _decode_one(kind: int, r: _Reader) -> Message:
    if kind == Type.EVENTS:
        return _decode_events(r)
    if kind == Type.IHAVE:
        return IHave(r.hexid(), r.ids())
    if kind == Type.GRAFT:
        return Graft(r.hexid(), r.ids())
    if kind == Type.ACK:
        return Ack(r.hexid(), r.u64())
    if kind == Type.DELETE:
        return Delete(r.hexid(), r.u64())
    if kind == Type.UPDATE:
        return _decode_update(r)
    if kind == Type.HAVE:
        return Have(r.ids())
    if kind == Type.PRUNE:
        return Prune(r.hexid())
    if kind == Type.MORE:
        return More(r.hexid())
    if kind == Type.SHED:
        return Shed(r.hexid())
    if kind == Type.REACHABLE:
        return Reachable(r.u16())
    if kind == Type.SEQNO:
        return SeqnoRequest(r.hexid(), r.hexid(), r.u32(), r.u16())
    if kind == Type.SUGGEST:
        doc, peer = r.hexid(), r.hexid()
        try:
            hint = r.take(r.u16()).decode()
        except UnicodeDecodeError:
            raise MalformedMessage("suggestion hint is not UTF-8") from None
        return Suggest(doc, peer, hint)
    if kind == Type.VECTOR:
        return _decode_vector(r)
    raise MalformedMessage(f"unknown message type {kind}")


def decode_frame(data: bytes, limit: int = MAX_FRAME) -> list[Message]:
    """Decode one frame into its messages.

    Raises:
        MessageTooLarge: the frame exceeds `limit`.
        MalformedMessage: anything else wrong with the bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessage("frame must be bytes")
    data = bytes(data)
    if len(data) > limit:
        raise MessageTooLarge(f"{len(data)} bytes > {limit}")
    if data[:4] != MAGIC:
        raise MalformedMessage("bad magic")
    out: list[Message] = []
    pos, size = 4, len(data)
    if pos == size:
        raise MalformedMessage("empty frame")
    while pos < size:
        if pos + 5 > size:
            raise MalformedMessage("truncated message header")
        kind, length = _HDR.unpack_from(data, pos)
        reader = _Reader(data, pos + 5, pos + 5 + length)
        if reader.end > size:
            raise MalformedMessage("message runs past the frame")
        out.append(_decode_one(kind, reader))
        reader.done()
        pos = reader.end
    return out
