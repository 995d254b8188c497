"""Length-prefixed frames and their sealing: limits, order, tampering (no event loop needed)."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cliqueclique.net.errors import (
    FrameAuthenticationFailed,
    FrameOutOfSequence,
    FrameTooLarge,
    MalformedFrame,
)
from cliqueclique.net.framing import (
    LENGTH,
    MAX_PAYLOAD,
    SEAL_OVERHEAD,
    FrameDecoder,
    FrameOpener,
    FrameSealer,
    encode_frame,
    max_body,
)

KEY = os.urandom(32)


def bodies(decoder: FrameDecoder) -> list[bytes]:
    out = []
    while (body := decoder.next_frame()) is not None:
        out.append(body)
    return out


def test_decoder_byte_at_a_time() -> None:
    wire = encode_frame(b"hello") + encode_frame(b"") + encode_frame(b"world!")
    decoder = FrameDecoder(max_body=100)
    got: list[bytes] = []
    for byte in wire:
        decoder.feed(bytes([byte]))
        got += bodies(decoder)
    assert got == [b"hello", b"", b"world!"]
    assert decoder.buffered == 0


@given(st.lists(st.binary(max_size=300), max_size=8), st.data())
def test_decoder_any_chunking(payloads: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    decoder = FrameDecoder(max_body=300)
    got: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        decoder.feed(wire[a:b])
        got += bodies(decoder)
    assert got == payloads


def test_oversized_frame_refused_from_its_header_alone() -> None:
    decoder = FrameDecoder(max_body=1000)
    decoder.feed(LENGTH.pack(1001))  # no body bytes at all yet
    with pytest.raises(FrameTooLarge) as info:
        decoder.next_frame()
    assert (info.value.size, info.value.limit) == (1001, 1000)


def test_frame_at_the_limit_is_accepted() -> None:
    decoder = FrameDecoder(max_body=max_body())
    decoder.feed(encode_frame(bytes(max_body())))
    assert decoder.next_frame() == bytes(max_body())
    assert max_body() == MAX_PAYLOAD + SEAL_OVERHEAD == (1 << 20) + 24


def frames_of(sealer: FrameSealer, *payloads: bytes) -> list[bytes]:
    """Bodies of the sealed frames, without their length prefix."""
    out = []
    for payload in payloads:
        frame = sealer.seal(payload)
        (size,) = LENGTH.unpack_from(frame)
        assert len(frame) == LENGTH.size + size == LENGTH.size + len(payload) + SEAL_OVERHEAD
        out.append(frame[LENGTH.size:])
    return out


def test_seal_and_open_in_order() -> None:
    sealer, opener = FrameSealer(KEY), FrameOpener(KEY)
    payloads = [b"one", b"", b"three" * 1000]
    assert [opener.open(b) for b in frames_of(sealer, *payloads)] == payloads
    assert sealer.next_seq == opener.next_seq == 3


def test_same_payload_seals_differently_each_time() -> None:
    first, second = frames_of(FrameSealer(KEY), b"same", b"same")
    assert first[8:] != second[8:]  # a fresh nonce per frame


def test_replayed_frame_is_out_of_sequence() -> None:
    opener = FrameOpener(KEY)
    first, _ = frames_of(FrameSealer(KEY), b"a", b"b")
    opener.open(first)
    with pytest.raises(FrameOutOfSequence) as info:
        opener.open(first)
    assert (info.value.expected, info.value.got) == (1, 0)


def test_reordered_frames_are_out_of_sequence() -> None:
    first, second = frames_of(FrameSealer(KEY), b"a", b"b")
    opener = FrameOpener(KEY)
    with pytest.raises(FrameOutOfSequence, match="expected #0, got #1"):
        opener.open(second)
    assert opener.next_seq == 0  # nothing consumed: the first frame would still open
    assert opener.open(first) == b"a"


@pytest.mark.parametrize("index", [8, 9, 20, -1])  # ciphertext bytes and the tag
def test_tampered_frame_fails_authentication(index: int) -> None:
    (body,) = frames_of(FrameSealer(KEY), b"payload bytes")
    tampered = bytearray(body)
    tampered[index] ^= 0x01
    with pytest.raises(FrameAuthenticationFailed, match="frame #0"):
        FrameOpener(KEY).open(bytes(tampered))


def test_frame_under_another_key_fails_authentication() -> None:
    (body,) = frames_of(FrameSealer(os.urandom(32)), b"x")
    with pytest.raises(FrameAuthenticationFailed):
        FrameOpener(KEY).open(body)


@pytest.mark.parametrize("size", [0, 1, SEAL_OVERHEAD - 1])
def test_short_body_is_malformed(size: int) -> None:
    with pytest.raises(MalformedFrame, match="shorter than its 24-byte overhead"):
        FrameOpener(KEY).open(bytes(size))


def test_sealing_too_large_a_payload_is_refused_and_uses_no_sequence_number() -> None:
    sealer = FrameSealer(KEY, max_payload=10)
    with pytest.raises(FrameTooLarge):
        sealer.seal(bytes(11))
    assert sealer.next_seq == 0
    assert FrameOpener(KEY).open(frames_of(sealer, bytes(10))[0]) == bytes(10)
