from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cliqueclique.gossip.errors import MalformedMessage, MessageTooLarge, RemoteProtocolError
from cliqueclique.gossip.messages import (
    MAGIC,
    Ack,
    Attrs,
    Delete,
    Events,
    Graft,
    Have,
    IHave,
    Message,
    More,
    Prune,
    Reachable,
    SeqnoRequest,
    Shed,
    Suggest,
    Update,
    Vector,
    decode_frame,
    encode_frames,
    pack_frames,
)

ids = st.binary(min_size=32, max_size=32).map(bytes.hex)
digests = st.binary(min_size=8, max_size=8)
serials = st.integers(0, 2**64 - 1)
u16 = st.integers(0, 65535)
u32 = st.integers(0, 2**32 - 1)


@st.composite
def attrs(draw: st.DrawFn) -> Attrs:
    holds = draw(st.booleans())
    return Attrs(holds, draw(st.booleans()), draw(st.booleans()),
                 draw(ids) if holds else draw(st.none() | ids), draw(st.booleans()),
                 draw(u16), draw(st.none() | ids), draw(u16), draw(digests), draw(digests), draw(u32))


messages = st.one_of(
    st.builds(Have, st.lists(ids, max_size=5).map(tuple)),
    st.builds(Update, ids, serials, attrs(), st.none() | st.binary(min_size=1, max_size=300)),
    st.builds(Ack, ids, serials),
    st.builds(Delete, ids, serials),
    st.builds(Suggest, ids, ids, st.text(max_size=40)),
    st.builds(Events, ids, st.lists(st.tuples(u16, st.binary(max_size=200)), max_size=4).map(tuple)),
    st.builds(IHave, ids, st.lists(ids, max_size=5).map(tuple)),
    st.builds(Graft, ids, st.lists(ids, max_size=5).map(tuple)),
    st.builds(Prune, ids),
    st.builds(Shed, ids),
    st.builds(More, ids),
    st.builds(SeqnoRequest, ids, ids, u32, u16),
    st.builds(Reachable, u16),
    st.builds(Vector, ids, ids, ids, st.lists(st.tuples(
        ids, st.lists(st.tuples(ids, st.integers(0, 2**32 - 1)), max_size=3).map(tuple)),
        max_size=3).map(tuple)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, min_size=1, max_size=6))
def test_encode_decode_round_trip(msgs: list[Message]) -> None:
    frames = encode_frames(msgs)
    decoded = [m for f in frames for m in decode_frame(f)]
    assert decoded == msgs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_only_raises_remote_protocol_errors(data: bytes) -> None:
    for blob in (data, MAGIC + data):
        try:
            decode_frame(blob)
        except RemoteProtocolError:
            pass


@settings(max_examples=200, deadline=None)
@given(st.lists(messages, min_size=1, max_size=3), st.data())
def test_truncated_or_mutated_frames_never_crash(msgs: list[Message], data: st.DataObject) -> None:
    frame = encode_frames(msgs)[0]
    cut = data.draw(st.integers(0, len(frame)))
    pos = data.draw(st.integers(0, len(frame) - 1))
    flipped = frame[:pos] + bytes([frame[pos] ^ data.draw(st.integers(1, 255))]) + frame[pos + 1:]
    for blob in (frame[:cut], flipped):
        try:
            decode_frame(blob)
        except RemoteProtocolError:
            pass


def test_frames_respect_the_limit_and_split() -> None:
    big = Events("aa" * 32, tuple((1, bytes(60_000)) for _ in range(1)))
    frames = pack_frames([big] * 40 + [Prune("bb" * 32)])
    assert len(frames) > 1
    assert all(len(f) <= 1024 * 1024 for f, _ in frames)
    assert [p for _, p in frames] == [True] * (len(frames) - 1) + [True]
    with pytest.raises(MessageTooLarge):
        decode_frame(MAGIC + bytes(1024 * 1024))
    with pytest.raises(ValueError):
        encode_frames([Events("aa" * 32, ((1, bytes(2 * 1024 * 1024)),))])


def test_specific_malformations() -> None:
    with pytest.raises(MalformedMessage):
        decode_frame(b"XXXX")
    with pytest.raises(MalformedMessage):
        decode_frame(MAGIC)  # empty frame
    with pytest.raises(MalformedMessage):
        decode_frame(MAGIC + bytes([99, 0, 0, 0, 0]))  # unknown type
    ok = encode_frames([Prune("aa" * 32)])[0]
    with pytest.raises(MalformedMessage):
        decode_frame(ok + b"\x00")  # trailing garbage
    with pytest.raises(MalformedMessage):
        decode_frame("not bytes")  # type: ignore[arg-type]
