"""The canonical encoding: round trips, and every kind of damage is refused."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cliqueclique.errors import (
    BodyHashMismatch,
    EventTooLarge,
    InvalidEvent,
    InvalidSignature,
    MalformedEvent,
    TimestampOutOfRange,
    UnknownKind,
    UnsupportedVersion,
)
from cliqueclique.eventlog import MAX_EVENT_SIZE, Kind, canonical_json, decode_wire, sign_event, verify_signature
from cliqueclique.eventlog import codec
from cliqueclique.eventlog.codec import digest, encode_wire

from ..conftest import make_key

KEY = make_key(7)
subjects = st.text(min_size=1, max_size=40)
texts = st.text(max_size=200)


def document(subject: str = "s", text: str = "t", ts: int = 1) -> bytes:
    body = canonical_json({"subject": subject, "text": text, "content_type": "text/plain"})
    return sign_event(KEY, Kind.DOCUMENT, network=None, seq=1, prev=None, timestamp=ts, body=body).wire


def resign(header: dict[str, object], body: bytes) -> bytes:
    """Sign an arbitrary header (to reach checks behind the signature)."""
    raw = canonical_json(header)
    return encode_wire(KEY.sign(raw).signature, raw, body)


def header_of(wire: bytes) -> dict[str, object]:
    return json.loads(decode_wire(wire).header)


@given(subject=subjects, text=texts, ts=st.integers(0, codec.MAX_TIMESTAMP))
def test_round_trip_keeps_bytes_and_fields(subject: str, text: str, ts: int) -> None:
    wire = document(subject, text, ts)
    event = decode_wire(wire)
    assert event.wire == wire
    assert event.id == digest(event.header)
    assert event.content()["subject"] == subject and event.content()["text"] == text
    assert event.timestamp == ts and event.network == event.id
    verify_signature(event)


@settings(max_examples=300)
@given(data=st.data())
def test_flipping_any_byte_invalidates(data: st.DataObject) -> None:
    wire = document("hello", "world")
    index = data.draw(st.integers(0, len(wire) - 1))
    bit = data.draw(st.integers(0, 7))
    damaged = bytearray(wire)
    damaged[index] ^= 1 << bit
    with pytest.raises(InvalidEvent):
        verify_signature(decode_wire(bytes(damaged)))


def test_signature_of_another_key_is_refused() -> None:
    event = decode_wire(document())
    forged = encode_wire(make_key(8).sign(event.header).signature, event.header, event.body)
    with pytest.raises(InvalidSignature, match="bad signature"):
        verify_signature(decode_wire(forged))


def test_non_canonical_header_is_refused() -> None:
    event = decode_wire(document())
    spaced = json.dumps(json.loads(event.header), sort_keys=True).encode()  # ", " separators
    with pytest.raises(MalformedEvent, match="canonical"):
        decode_wire(encode_wire(KEY.sign(spaced).signature, spaced, event.body))


def test_unknown_kind_and_version() -> None:
    wire = document()
    header, body = header_of(wire), decode_wire(wire).body or b""
    with pytest.raises(UnknownKind):
        decode_wire(resign({**header, "kind": "poll"}, body))
    for version in (2, 1.0, True):  # 1.0 and true equal 1 in Python, but are not version 1
        with pytest.raises(UnsupportedVersion):
            decode_wire(resign({**header, "v": version}, body))


def test_body_must_match_header_digest() -> None:
    wire = document()
    event = decode_wire(wire)
    other = canonical_json({"subject": "x", "text": "evil", "content_type": "text/plain"})
    with pytest.raises(BodyHashMismatch):
        decode_wire(encode_wire(event.signature, event.header, other))


def test_oversized_event_is_refused() -> None:
    with pytest.raises(EventTooLarge, match="too large"):
        decode_wire(document(text="x" * MAX_EVENT_SIZE))


@pytest.mark.parametrize(
    "wire",
    [b"", b"x" * 65, b"\0" * 64 + b"\xff\xff" + b"{}", b"\0" * 64 + b"\x00\x02{}"],
)
def test_garbage_is_malformed(wire: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode_wire(wire)


@pytest.mark.parametrize(
    ("field", "value"),
    [("seq", 0), ("seq", "1"), ("ts", -1), ("author", "AB"), ("prev", "00" * 32), ("network", "ab" * 32)],
)
def test_header_field_checks(field: str, value: object) -> None:
    wire = document()
    body = decode_wire(wire).body or b""
    with pytest.raises(MalformedEvent):
        decode_wire(resign({**header_of(wire), field: value}, body))


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("document", {"subject": "", "text": "t", "content_type": "c"}),
        ("document", {"subject": "s", "text": "t"}),
        ("document", {"subject": "s", "text": "t", "content_type": "c", "editors": ["nope"]}),
        ("link", {"parent": "aa" * 32, "child": "bb" * 32, "direction": "sideways"}),
        ("link", {"parent": "cc" * 32, "child": "bb" * 32, "direction": "natural"}),  # wrong network
        ("subscription", {"document": "aa" * 32, "action": "dance"}),
        ("deletion", {"target": 5}),
    ],
)
def test_body_schema_checks(kind: str, body: dict[str, object]) -> None:
    raw = canonical_json(body)
    network = None if kind == "document" else ("aa" * 32 if kind != "subscription" else KEY.verify_key.encode().hex())
    header = {"author": KEY.verify_key.encode().hex(), "body": digest(raw), "kind": kind, "network": network,
              "prev": None, "seq": 1, "size": len(raw), "ts": 0, "v": 1}
    with pytest.raises(MalformedEvent):
        decode_wire(resign(header, raw))


def test_lone_surrogate_escape_is_malformed() -> None:
    """Valid JSON, but the string has no UTF-8 form, so no canonical bytes."""
    raw = b'{"content_type":"c","subject":"s","text":"\\ud800"}'
    header = {"author": KEY.verify_key.encode().hex(), "body": digest(raw), "kind": "document", "network": None,
              "prev": None, "seq": 1, "size": len(raw), "ts": 0, "v": 1}
    with pytest.raises(MalformedEvent, match="canonical"):
        decode_wire(resign(header, raw))


def test_header_only_event_decodes_as_purged() -> None:
    event = decode_wire(document())
    purged = decode_wire(encode_wire(event.signature, event.header, None))
    assert purged.purged and purged.id == event.id
    verify_signature(purged)  # the signature covers the header alone


# --- the canonical-form fast path agrees with the general parser -------------------

hex_ids = st.text("0123456789abcdef", min_size=64, max_size=64)
odd_ids = hex_ids | st.just("AB" * 32) | st.text(max_size=66) | st.integers()
counts = st.integers(-1, 3) | st.integers(2**59, 2**64) | st.just("1")


def _outcome(wire: bytes) -> tuple[object, ...]:
    try:
        event = decode_wire(wire)
    except InvalidEvent as e:
        return (type(e), str(e))
    return (event.kind, event.author, event.network, event.prev, event.seq, event.body_size,
            event.timestamp, event.body_hash, event.ref)


def _agree(wire: bytes) -> None:
    """The canonical-form shortcuts must accept and reject exactly what the
    general parse-check-re-encode path does, with the same result."""
    never = re.compile(r"(?!)")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("_CANONICAL_HEADER", "_CANONICAL_LINK", "_CANONICAL_DELETION", "_CANONICAL_DOCUMENT"):
            patch.setattr(codec, name, never)
        general = _outcome(wire)
    assert _outcome(wire) == general


def _spaced_or_escaped(value: dict[str, object], spaced: bool, escaped: bool) -> bytes:
    """Canonical JSON, or one of two non-canonical spellings of it."""
    raw = json.dumps(value, sort_keys=True, ensure_ascii=False,
                     separators=(", ", ":") if spaced else (",", ":")).encode()
    return raw.replace(b"a", b"\\u0061", 1) if escaped else raw


@settings(max_examples=300)
@given(
    kind=st.sampled_from(["link", "document", "poll"]), network=hex_ids, author=odd_ids,
    prev=st.none() | odd_ids, seq=counts, ts=counts, version=st.sampled_from([1, 2, 1.0, True]),
    spaced=st.booleans(), escaped=st.booleans(),
)
def test_fast_header_path_agrees_with_general_parser(
    kind: str, network: str, author: object, prev: object, seq: object, ts: object, version: object,
    spaced: bool, escaped: bool,
) -> None:
    raw = canonical_json({"parent": network, "child": "bb" * 32, "direction": "natural"})
    header = {"author": author, "body": digest(raw), "kind": kind, "network": None if kind == "document" else network,
              "prev": prev, "seq": seq, "size": len(raw), "ts": ts, "v": version}
    _agree(encode_wire(b"\0" * 64, _spaced_or_escaped(header, spaced, escaped), raw))


@settings(max_examples=400)
@given(
    kind=st.sampled_from(["link", "deletion", "document"]),
    parent=hex_ids, other=odd_ids, direction=st.sampled_from(["natural", "reversed", "sideways", 1]),
    subject=st.text(max_size=4) | st.just("x" * 1000) | st.just("x" * 1001) | st.integers(),
    text=st.text(max_size=12) | st.integers(),
    extra=st.just({}) | st.just({"editors": []}) | st.just({"properties": {"a": "b"}}),
    spaced=st.booleans(), escaped=st.booleans(),
)
@example(kind="document", parent="aa" * 32, other="", direction="", subject="x" * 1001, text="t", extra={},
         spaced=False, escaped=False)
@example(kind="document", parent="aa" * 32, other="", direction="", subject="", text="t", extra={},
         spaced=False, escaped=False)
def test_fast_body_path_agrees_with_general_parser(
    kind: str, parent: str, other: object, direction: object, subject: object, text: object,
    extra: dict[str, object], spaced: bool, escaped: bool,
) -> None:
    body = {"link": {"parent": parent, "child": other, "direction": direction},
            "deletion": {"target": other},
            "document": {"subject": subject, "text": text, "content_type": "text/plain", **extra}}[kind]
    try:
        raw = _spaced_or_escaped(body, spaced, escaped)
    except UnicodeEncodeError:  # a lone surrogate drawn by hypothesis: no UTF-8 form at all
        return
    header = {"author": KEY.verify_key.encode().hex(), "body": digest(raw), "kind": kind,
              "network": None if kind == "document" else parent, "prev": None, "seq": 1, "size": len(raw),
              "ts": 0, "v": 1}
    _agree(resign(header, raw))


# --- timestamps: informational, but within the calendar (issue 16) ----------------


@pytest.mark.parametrize("ts", [10**17, codec.MAX_TIMESTAMP + 1, 2**63 - 1])
def test_timestamp_beyond_year_9999_is_refused(ts: int) -> None:
    """A signed event dated in the year 3 million used to be accepted and relayed,
    then crashed every page that showed it."""
    with pytest.raises(TimestampOutOfRange, match="ts must be an integer from 0 to 253402300799999") as caught:
        decode_wire(document(ts=ts))
    assert isinstance(caught.value, MalformedEvent)


def test_last_millisecond_of_year_9999_is_accepted() -> None:
    assert decode_wire(document(ts=codec.MAX_TIMESTAMP)).timestamp == 253402300799999


@settings(max_examples=200)
@given(ts=st.integers(0, 2**64) | st.integers(codec.MAX_TIMESTAMP - 2, codec.MAX_TIMESTAMP + 2)
       | st.sampled_from([10**17, 10**18 - 1, 10**18]))
def test_fast_and_general_paths_agree_on_the_timestamp_range(ts: int) -> None:
    header = json.loads(decode_wire(document()).header)
    body = decode_wire(document()).body or b""
    _agree(resign({**header, "ts": ts}, body))
