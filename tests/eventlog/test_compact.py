"""The compact wire form of gossip: exactly the stored bytes back, and damage refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cliqueclique.errors import InvalidEvent
from cliqueclique.eventlog import MAX_EVENT_SIZE, Kind, canonical_json, decode_wire, sign_event, verify_signature
from cliqueclique.eventlog.codec import encode_wire
from cliqueclique.eventlog.compact import NotCompact, compact, expand
from cliqueclique.gossip.errors import MalformedMessage
from cliqueclique.gossip.messages import Events, decode_frame, encode_frames

from ..conftest import make_key

KEYS = [make_key(n) for n in (3, 4)]
hex_ids = st.binary(min_size=32, max_size=32).map(bytes.hex)
stamps = st.integers(0, 2**45)
seqs = st.integers(1, 10**12)


@st.composite
def signed_events(draw: st.DrawFn) -> bytes:
    """The wire bytes of a real signed event of some kind, purged or not."""
    key = draw(st.sampled_from(KEYS))
    kind = draw(st.sampled_from([Kind.DOCUMENT, Kind.LINK, Kind.EDIT, Kind.DELETION, Kind.REACTION]))
    network = draw(hex_ids)
    seq = 1 if kind is Kind.DOCUMENT else draw(seqs)
    prev = None if seq == 1 else draw(hex_ids)
    if kind is Kind.DOCUMENT:
        fields = {"subject": draw(st.text(min_size=1, max_size=30)), "text": draw(st.text(max_size=300)),
                  "content_type": "text/plain"}
        if draw(st.booleans()):
            fields["properties"] = {"k": draw(st.text(max_size=10))}
        body = canonical_json(fields)
    elif kind is Kind.LINK:
        body = canonical_json({"child": draw(hex_ids.filter(lambda c: c != network)),
                               "direction": draw(st.sampled_from(["natural", "reversed"])), "parent": network})
    elif kind is Kind.EDIT:
        body = draw(st.binary(min_size=1, max_size=400))
    elif kind is Kind.DELETION:
        body = canonical_json({"target": draw(hex_ids)})
    else:
        body = canonical_json({"on": draw(st.booleans()), "reaction": draw(st.sampled_from(["+1", "ok", "🎉"]))})
    event = sign_event(key, kind, network=network, seq=seq, prev=prev, timestamp=draw(stamps), body=body)
    if draw(st.integers(0, 4)) == 0:  # purged: the header alone
        return encode_wire(event.signature, event.header, None)
    return event.wire


@settings(max_examples=300)
@given(wire=signed_events())
def test_expand_of_compact_is_the_exact_wire(wire: bytes) -> None:
    event = decode_wire(wire)
    short = compact(wire)
    if event.purged:
        assert short is None  # nothing to recompute the hash from: full form
        return
    assert short is not None
    assert len(short) < len(wire) - 80
    assert b'"body"' not in short[:66 + int.from_bytes(short[64:66], "big")]
    assert expand(short) == wire
    assert compact(expand(short)) == short  # one compact form per event


@settings(max_examples=150)
@given(wires=st.lists(st.tuples(st.integers(0, 65535), signed_events()), min_size=1, max_size=6))
def test_events_message_keeps_the_stored_bytes(wires: list[tuple[int, bytes]]) -> None:
    msg = Events("ab" * 32, tuple(wires))
    (frame,) = encode_frames([msg])
    assert len(frame) < 4 + 5 + 34 + sum(6 + len(w) for _, w in wires) - 80 * sum(
        1 for _, w in wires if not decode_wire(w).purged) + 1
    (back,) = decode_frame(frame)
    assert back == msg
    for (_, sent), (_, got) in zip(wires, back.items, strict=True):
        assert got == sent
        assert decode_wire(got).wire == sent
        verify_signature(decode_wire(got))


def test_non_canonical_or_inconsistent_events_go_in_full() -> None:
    wire = sign_event(KEYS[0], Kind.EDIT, network="cd" * 32, seq=2, prev="ef" * 32, timestamp=5, body=b"xyz").wire
    header_len = int.from_bytes(wire[64:66], "big")
    header, body = wire[66 : 66 + header_len], wire[66 + header_len :]
    assert compact(encode_wire(wire[:64], header, b"xyw")) is None  # the hash is not the body's
    assert compact(encode_wire(wire[:64], header, b"xyzz")) is None  # nor the size
    spaced = header.replace(b'","', b'", "', 1)
    assert compact(encode_wire(wire[:64], spaced, body)) is None
    assert compact(wire[:60]) is None
    assert compact(wire) is not None


def _frame_of(item: bytes, compact_flag: bool = True) -> bytes:
    msg = bytes(32) + (1).to_bytes(2, "big") + (7).to_bytes(2, "big") \
        + (len(item) | (1 << 31 if compact_flag else 0)).to_bytes(4, "big") + item
    return b"CQG1" + bytes([6]) + len(msg).to_bytes(4, "big") + msg


def _refused_or_invalid(frame: bytes) -> None:
    """A damaged compact item is a malformed frame, or expands to an event that
    fails decoding or its signature: never a different valid event."""
    try:
        (msg,) = decode_frame(frame)
    except MalformedMessage:
        return
    ((_, wire),) = msg.items
    with pytest.raises(InvalidEvent):
        verify_signature(decode_wire(wire))


@settings(max_examples=300)
@given(wire=signed_events(), data=st.data())
def test_damaged_compact_items_are_refused(wire: bytes, data: st.DataObject) -> None:
    short = compact(wire)
    if short is None:
        return
    damage = data.draw(st.sampled_from(["flip", "truncate", "body"]))
    if damage == "flip":
        index = data.draw(st.integers(0, len(short) - 1))
        damaged = bytearray(short)
        damaged[index] ^= 1 << data.draw(st.integers(0, 7))
        damaged = bytes(damaged)
    elif damage == "truncate":
        damaged = short[: data.draw(st.integers(0, len(short) - 1))]
    else:
        header_end = 66 + int.from_bytes(short[64:66], "big")
        damaged = short[:header_end] + data.draw(st.binary(min_size=1, max_size=50).filter(
            lambda b: b != short[header_end:]))
    _refused_or_invalid(_frame_of(damaged))


def test_compact_items_that_do_not_expand_make_the_frame_malformed() -> None:
    wire = sign_event(KEYS[0], Kind.EDIT, network="cd" * 32, seq=2, prev="ef" * 32, timestamp=5, body=b"xyz").wire
    short = compact(wire)
    assert short is not None
    header_end = 66 + int.from_bytes(short[64:66], "big")
    cases = [
        short[:header_end],  # no body (a purged event has no compact form)
        short[:40],  # shorter than a signature
        wire,  # a full event flagged compact: its header still has "body" and "size"
        short[:70] + b"X" + short[71:],  # not the canonical shape
    ]
    for item in cases:
        with pytest.raises(MalformedMessage):
            decode_frame(_frame_of(item))
        with pytest.raises(NotCompact):
            expand(item)
    assert decode_frame(_frame_of(wire, compact_flag=False))[0].items == ((7, wire),)


def test_expansion_is_bounded_by_the_event_size_limit() -> None:
    # An edit body that fits as a compact item but not once the two fields are back.
    probe = sign_event(KEYS[0], Kind.EDIT, network="cd" * 32, seq=2, prev="ef" * 32, timestamp=5, body=b"x")
    room = MAX_EVENT_SIZE - len(probe.wire) + 1 - 4  # the body that makes the event exactly the limit
    event = sign_event(KEYS[0], Kind.EDIT, network="cd" * 32, seq=2, prev="ef" * 32, timestamp=5,
                       body=b"x" * room)
    assert len(event.wire) == MAX_EVENT_SIZE
    short = compact(event.wire)
    assert short is not None and expand(short) == event.wire
    header_end = 66 + int.from_bytes(short[64:66], "big")
    bigger = short + b"y" * (MAX_EVENT_SIZE - len(short))  # compact item itself within the limit
    assert len(bigger) - header_end > room
    with pytest.raises(NotCompact, match="expands to"):
        expand(bigger)
    with pytest.raises(MalformedMessage, match="expands to"):
        decode_frame(_frame_of(bigger))
