"""The one canonical encoding of events, their ids and their signatures.

Wire form of a signed event (what is stored, exported and sent to peers)::

    signature (64 bytes) | header length (2 bytes, big endian) | header | body

The *header* is canonical JSON (sorted keys, no spaces, UTF-8, integers only)::

    {"author": hex, "body": sha256(body) hex, "kind": str, "network": hex|null,
     "prev": hex|null, "seq": int, "size": len(body), "ts": ms, "v": 1}

The event id is sha256(header) and the ed25519 signature covers the header.
Because the header commits to the body by hash, a deletion can purge a body
while the header, id, signature and chain stay verifiable; a purged event
travels as its header alone. Bodies are canonical JSON too, except `edit`
bodies, which are opaque pycrdt update bytes.

Decoding re-encodes the parsed JSON and requires byte equality, so every
event has exactly one valid byte form: no malleable whitespace, key order,
escapes or duplicate keys. Headers, links, deletions and plain documents have
fixed shapes, so a regular expression of their canonical form checks and
splits them at once; only what it does not match goes through the general
parser, which names the fault (decoding is on every ingest's critical path,
and the general parse-check-re-encode costs several times more).
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import pairwise
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ..errors import (
    BodyHashMismatch,
    EventTooLarge,
    MalformedEvent,
    TimestampOutOfRange,
    UnknownKind,
    UnsupportedVersion,
)
from ..errors import InvalidSignature as InvalidSignatureError
from .events import FORMAT_VERSION, MAX_EVENT_SIZE, Action, Direction, Event, Kind, ModAction

SIGNATURE_SIZE = 64
_HEADER_KEYS = frozenset({"author", "body", "kind", "network", "prev", "seq", "size", "ts", "v"})
_HEX_DIGITS = "0123456789abcdef"
MAX_SUBJECT = 1000
#: Longest reaction label, in characters (an emoji sequence or a short word).
MAX_REACTION = 32
#: longest moderation reason, in characters
MAX_REASON = 1000
#: the most proof-of-work bits a `pow:BITS` policy may ask for
MAX_POW_BITS = 32
_POW_POLICY = re.compile(r"pow:([1-9][0-9]?)")
#: Integers beyond SQLite's 64-bit range could not be stored: refuse them at the door.
MAX_INTEGER = 2**63 - 1
#: Latest timestamp (ms) an event may carry: the last millisecond of 9999-12-31
#: UTC, the end of the calendar Python's datetime (and so every page and CLI
#: listing) can show. Timestamps are informational, but one signed far beyond
#: it would be relayed to every node and shown by each; a header beyond it is
#: refused as malformed, so the author alone is blamed.
MAX_TIMESTAMP = 253_402_300_799_999
_KINDS = {k.value: k for k in Kind}

_HEX = "[0-9a-f]{64}"
_COUNT = "[1-9][0-9]{0,17}"  # longer numbers take the general path
_CANONICAL_HEADER = re.compile(
    f'\\{{"author":"({_HEX})","body":"({_HEX})","kind":"({"|".join(_KINDS)})",'
    f'"network":(?:null|"({_HEX})"),"prev":(?:null|"({_HEX})"),"seq":({_COUNT}),'
    f'"size":({_COUNT}),"ts":(0|{_COUNT}),"v":{FORMAT_VERSION}\\}}')
_CANONICAL_LINK = re.compile(
    f'\\{{"child":"({_HEX})","direction":"({"|".join(Direction)})","parent":"({_HEX})"\\}}')
_CANONICAL_DELETION = re.compile(f'\\{{"target":"({_HEX})"\\}}')
# A JSON string body as the encoder writes it: raw characters except the
# quote, the backslash and control characters, which take their one escape.
_PLAIN = r'[^"\\\x00-\x1f]'
_STRING = _PLAIN + r'*(?:\\(?:["\\bfnrt]|u00(?:0[0-7bef]|1[0-9a-f]))' + _PLAIN + '*)*'
_CANONICAL_DOCUMENT = re.compile(  # the plain form: no editors, no properties, no escapes in the subject
    f'\\{{"content_type":"{_STRING}","subject":"{_PLAIN}{{1,{MAX_SUBJECT}}}","text":"{_STRING}"\\}}')


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of a JSON value (sorted keys, compact, UTF-8)."""
    return _ENCODER.encode(value).encode()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_hex_id(value: Any) -> bool:
    """64 lowercase hex digits (a key or an id)."""
    return isinstance(value, str) and len(value) == 64 and not value.strip(_HEX_DIGITS)


def encode_wire(signature: bytes, header: bytes, body: bytes | None) -> bytes:
    return signature + len(header).to_bytes(2, "big") + header + (body or b"")


# --- decoding -----------------------------------------------------------------------


def _parse_canonical(data: bytes, event_id: str | None, what: str) -> Any:
    try:
        value = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise MalformedEvent(event_id, f"{what} is not JSON: {e}") from None
    try:
        canonical: bytes | None = canonical_json(value)
    except ValueError:  # an escaped lone surrogate: a string with no UTF-8 form
        canonical = None
    if canonical != data:
        raise MalformedEvent(event_id, f"{what} is not in canonical form")
    return value


def _check_int(value: Any, event_id: str, field: str, minimum: int) -> int:
    if type(value) is not int or not minimum <= value <= MAX_INTEGER:
        raise MalformedEvent(event_id, f"{field} must be an integer from {minimum} to {MAX_INTEGER}")
    return value


def decode_wire(wire: bytes) -> Event:
    """Decode and check the structure of one signed event (not its signature).

    Raises:
        EventTooLarge, MalformedEvent, UnsupportedVersion, UnknownKind,
        BodyHashMismatch: the bytes are not a well-formed event.
    """
    if not isinstance(wire, bytes | bytearray | memoryview):
        raise MalformedEvent(None, "event must be bytes")
    wire = bytes(wire)
    if len(wire) > MAX_EVENT_SIZE:
        raise EventTooLarge(None, f"{len(wire)} bytes > {MAX_EVENT_SIZE}")
    if len(wire) < SIGNATURE_SIZE + 2:
        raise MalformedEvent(None, "truncated")
    header_len = int.from_bytes(wire[64:66], "big")
    header = wire[66 : 66 + header_len]
    if len(header) != header_len:
        raise MalformedEvent(None, "truncated header")
    event_id = digest(header)
    kind, author, network, prev, seq, size, timestamp, body_hash = _header_fields(header, event_id)
    if (prev is None) != (seq == 1):
        raise MalformedEvent(event_id, "prev must be null exactly when seq is 1")
    if kind is Kind.DOCUMENT:
        if network is not None or seq != 1:
            raise MalformedEvent(event_id, "a document's network is itself: null, seq 1")
        network = event_id
    elif network is None:
        raise MalformedEvent(event_id, "network must be a 64-character hex id")
    body: bytes | None = wire[66 + header_len :]
    ref = None
    if not body:
        body = None  # purged: the header alone, still verifiable
    else:
        if len(body) != size or digest(body) != body_hash:
            raise BodyHashMismatch(event_id)
        ref = _check_body(kind, body, event_id, author, network)
    return Event(
        id=event_id,
        version=FORMAT_VERSION,
        kind=kind,
        author=author,
        network=network,
        seq=seq,
        prev=prev,
        timestamp=timestamp,
        body_hash=body_hash,
        body_size=size,
        header=header,
        body=body,
        signature=wire[:64],
        ref=ref,
    )


_HeaderFields = tuple[Kind, str, str | None, str | None, int, int, int, str]


def _header_fields(header: bytes, event_id: str) -> _HeaderFields:
    """(kind, author, network, prev, seq, size, ts, body digest) of a header."""
    try:
        match = _CANONICAL_HEADER.fullmatch(header.decode())
    except UnicodeDecodeError:
        match = None
    if match is None:
        return _parse_header(header, event_id)
    author, body_hash, kind, network, prev, seq, size, timestamp = match.groups()
    # The pattern lets up to 18 digits through; the range check is the general path's.
    return _KINDS[kind], author, network, prev, int(seq), int(size), _check_timestamp(int(timestamp), event_id), \
        body_hash


def _check_timestamp(value: Any, event_id: str) -> int:
    if type(value) is not int:
        raise MalformedEvent(event_id, f"ts must be an integer from 0 to {MAX_TIMESTAMP}")
    if not 0 <= value <= MAX_TIMESTAMP:
        raise TimestampOutOfRange(event_id, f"ts must be an integer from 0 to {MAX_TIMESTAMP} "
                                            "(end of year 9999 UTC)")
    return value


def _parse_header(header: bytes, event_id: str) -> _HeaderFields:
    """The general path: parse, require canonical bytes, check each field."""
    fields = _parse_canonical(header, event_id, "header")
    if type(fields) is not dict or fields.keys() != _HEADER_KEYS:
        raise MalformedEvent(event_id, "header must have exactly the fields " + ",".join(sorted(_HEADER_KEYS)))
    if type(fields["v"]) is not int or fields["v"] != FORMAT_VERSION:
        raise UnsupportedVersion(event_id, f"version {fields['v']!r}")
    kind = _KINDS.get(fields["kind"]) if isinstance(fields["kind"], str) else None
    if kind is None:
        raise UnknownKind(event_id, repr(fields["kind"]))
    author = fields["author"]
    if not is_hex_id(author):
        raise MalformedEvent(event_id, "author must be a 64-character hex key")
    seq = _check_int(fields["seq"], event_id, "seq", 1)
    timestamp = _check_timestamp(fields["ts"], event_id)
    size = _check_int(fields["size"], event_id, "size", 1)
    prev = fields["prev"]
    if not (prev is None or is_hex_id(prev)):
        raise MalformedEvent(event_id, "prev must be null exactly when seq is 1")
    network = fields["network"]
    if not (network is None or is_hex_id(network)):
        raise MalformedEvent(event_id, "network must be a 64-character hex id")
    body_hash = fields["body"]
    if not is_hex_id(body_hash):
        raise MalformedEvent(event_id, "body digest must be 64 hex characters")
    return kind, author, network, prev, seq, size, timestamp, body_hash


def _require(condition: bool, event_id: str, detail: str) -> None:
    if not condition:
        raise MalformedEvent(event_id, detail)


def _check_fields(body: Any, event_id: str, required: set[str], optional: set[str]) -> None:
    _require(isinstance(body, dict), event_id, "body must be a JSON object")
    keys = set(body)
    _require(required <= keys <= required | optional, event_id,
             f"body fields must be {sorted(required)} plus optionally {sorted(optional)}")


def _check_body(kind: Kind, raw: bytes, event_id: str, author: str, network: str) -> str | None:
    """Check the kind-specific structure of a body (authorisation is the store's
    job) and return what it refers to (see `Event.ref`)."""
    if kind is Kind.EDIT:
        return None  # opaque pycrdt update bytes; the document-state view interprets them
    if kind is not Kind.SUBSCRIPTION:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = ""
        if kind is Kind.DOCUMENT and _CANONICAL_DOCUMENT.fullmatch(text):
            return None
        if kind is Kind.LINK and (match := _CANONICAL_LINK.fullmatch(text)):
            child, _, parent = match.groups()
            _require(parent == network, event_id, "a link lives in its parent's network")
            _require(parent != child, event_id, "a document cannot link to itself")
            return child
        if kind is Kind.DELETION and (match := _CANONICAL_DELETION.fullmatch(text)):
            return match.group(1)
    body = _parse_canonical(raw, event_id, "body")
    if kind is Kind.DOCUMENT:
        _check_fields(body, event_id, {"subject", "text", "content_type"}, {"editors", "properties", "nonce"})
        nonce = body.get("nonce", 0)
        _require(type(nonce) is int and 0 <= nonce <= MAX_INTEGER, event_id,
                 "nonce (proof of work) must be a non-negative integer")
        _require(isinstance(body["subject"], str) and 0 < len(body["subject"]) <= MAX_SUBJECT,
                 event_id, f"subject must be 1-{MAX_SUBJECT} characters")
        _require(isinstance(body["text"], str), event_id, "text must be a string")
        _require(isinstance(body["content_type"], str), event_id, "content_type must be a string")
        editors = body.get("editors", [])
        _require(isinstance(editors, list) and all(is_hex_id(e) for e in editors),
                 event_id, "editors must be a list of node ids")
        props = body.get("properties", {})
        _require(isinstance(props, dict) and all(isinstance(v, str) for v in props.values()),
                 event_id, "properties must map names to strings")
    elif kind is Kind.LINK:
        _check_fields(body, event_id, {"parent", "child", "direction"}, set())
        _require(is_hex_id(body["parent"]) and is_hex_id(body["child"]), event_id,
                 "parent and child must be document ids")
        _require(body["parent"] == network, event_id, "a link lives in its parent's network")
        _require(body["parent"] != body["child"], event_id, "a document cannot link to itself")
        _require(body["direction"] in Direction.__members__.values(), event_id,
                 "direction must be natural or reversed")
    elif kind is Kind.SUBSCRIPTION:
        _check_fields(body, event_id, {"document", "action"}, {"note", "moderator"})
        _require(is_hex_id(body["document"]), event_id, "document must be a document id")
        _require(body["action"] in Action.__members__.values(), event_id, "unknown action")
        _require(("moderator" in body) == (body["action"] in (Action.IGNORE, Action.HEED)), event_id,
                 "ignore and heed (and only they) name a moderator")
        _require(is_hex_id(body.get("moderator", "0" * 64)), event_id, "moderator must be a node id")
        _require(("note" in body) == (body["action"] == Action.NOTE), event_id,
                 "a note action (and only it) carries a note")
        _require(isinstance(body.get("note", ""), str), event_id, "note must be a string")
        _require(network == author, event_id, "subscriptions live in the author's own network")
    elif kind is Kind.DELETION:
        _check_fields(body, event_id, {"target"}, set())
        _require(is_hex_id(body["target"]), event_id, "target must be an event id")
    elif kind is Kind.REACTION:
        _check_reaction(body, event_id)
        return network
    elif kind is Kind.EDITORS:
        _check_editors(body, event_id)
        return network
    elif kind is Kind.MODERATION:
        return _check_moderation(body, event_id)
    return body.get("child") or body.get("target") or body.get("document")


def _check_moderation(body: Any, event_id: str) -> str | None:
    """A moderation body: {"action", "target"} plus an optional "reason"; an
    appointment may carry "since" and a dismissal carries "until" (the
    moderator's seqs in the forum's network between which its actions count,
    see views.moderation). Returns the target if it is an id."""
    _check_fields(body, event_id, {"action", "target"}, {"reason", "since", "until"})
    action = body["action"]
    _require(action in ModAction.__members__.values(), event_id, "unknown moderation action")
    target = body["target"]
    if action == ModAction.POLICY:
        _require(isinstance(target, str) and parse_policy(target) is not None, event_id,
                 "a policy is open, members or pow:BITS (BITS 1-32)")
    else:
        _require(is_hex_id(target), event_id, "the target must be a node or document id")
    reason = body.get("reason", "")
    _require(isinstance(reason, str) and len(reason) <= MAX_REASON, event_id,
             f"a reason is a string of at most {MAX_REASON} characters")
    _require(("until" in body) == (action == ModAction.DISMISS), event_id,
             "a dismissal (and only it) carries until")
    _require("since" not in body or action == ModAction.APPOINT, event_id,
             "only an appointment carries since")
    for name in ("since", "until"):
        value = body.get(name, 0)
        _require(type(value) is int and 0 <= value <= MAX_INTEGER, event_id, f"{name} must be a seq")
    return target if is_hex_id(target) else None


def parse_policy(text: str) -> tuple[str, int] | None:
    """("open"|"members"|"pow", bits) for a posting policy, None if it is not one."""
    if text in ("open", "members"):
        return text, 0
    match = _POW_POLICY.fullmatch(text)
    if match and 1 <= int(match.group(1)) <= MAX_POW_BITS:
        return "pow", int(match.group(1))
    return None


def _check_reaction(body: Any, event_id: str) -> None:
    _check_fields(body, event_id, {"on", "reaction"}, set())
    _require(type(body["on"]) is bool, event_id, "on must be true or false")
    reaction = body["reaction"]
    _require(isinstance(reaction, str) and 0 < len(reaction) <= MAX_REACTION and not reaction.isspace(),
             event_id, f"reaction must be 1-{MAX_REACTION} characters, not only whitespace")


def _check_editors(body: Any, event_id: str) -> None:
    _check_fields(body, event_id, {"editors", "retired"}, set())
    editors = body["editors"]
    # sorted and unique, so one list of editors has exactly one body
    _require(isinstance(editors, list) and all(is_hex_id(e) for e in editors)
             and all(a < b for a, b in pairwise(editors)),
             event_id, "editors must be a sorted list of distinct node ids")
    retired = body["retired"]
    _require(isinstance(retired, dict) and all(is_hex_id(node) for node in retired),
             event_id, "retired must map node ids to seqs")
    for node, seq in retired.items():
        _check_int(seq, event_id, f"retired seq of {node[:16]}", 1)


# --- signatures ---------------------------------------------------------------------

_verify_keys: dict[str, VerifyKey] = {}


def signature_holds(author: str, header: bytes, signature: bytes) -> bool:
    """True if `signature` is the author's ed25519 signature of `header`."""
    key = _verify_keys.get(author)
    if key is None:
        if len(_verify_keys) > 100_000:  # bound the cache; authors are few in practice
            _verify_keys.clear()
        try:
            key = _verify_keys[author] = VerifyKey(bytes.fromhex(author))
        except (ValueError, TypeError):
            return False
    try:
        key.verify(header, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def verify_signature(event: Event) -> None:
    """Check the ed25519 signature over the header.

    Raises:
        InvalidSignature: the signature does not verify for the author's key.
    """
    if not signature_holds(event.author, event.header, event.signature):
        raise InvalidSignatureError(event.id)


def sign_event(
    key: SigningKey,
    kind: Kind,
    *,
    network: str | None,
    seq: int,
    prev: str | None,
    timestamp: int,
    body: bytes,
) -> Event:
    """Build, sign and decode a new event (decoding checks it like any other)."""
    header = canonical_json(
        {
            "author": bytes(key.verify_key).hex(),
            "body": digest(body),
            "kind": kind.value,
            "network": None if kind is Kind.DOCUMENT else network,
            "prev": prev,
            "seq": seq,
            "size": len(body),
            "ts": timestamp,
            "v": FORMAT_VERSION,
        }
    )
    signature = key.sign(header).signature
    return decode_wire(encode_wire(signature, header, body))
