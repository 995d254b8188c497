"""Per-link compression: exact round trips, bounded decompression, isolation, and
events byte-identical to the log after a real encrypted, compressed link."""

from __future__ import annotations

import logging
import os
import zlib

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from cliqueclique.eventlog import Author, MemoryStore
from cliqueclique.eventlog.keys import node_id
from cliqueclique.gossip.messages import Events, decode_frame, encode_frames
from cliqueclique.net import SecureChannel, TcpTransport, secure_accept, secure_connect
from cliqueclique.net.compress import (
    WINDOW_BITS,
    FrameCompressor,
    FrameDecompressor,
    max_compressed,
)
from cliqueclique.net.errors import DecompressedTooLarge, MalformedCompression
from cliqueclique.net.framing import MAX_PAYLOAD, FrameDecoder, FrameSealer, encode_frame
from cliqueclique.net.handshake import MAX_MESSAGE, Initiator
from cliqueclique.net.secure import _handshake_message

ALICE, BOB, MALLORY = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()

# Payloads that repeat one another (as gossip does) as well as arbitrary bytes.
_payloads = st.one_of(st.binary(max_size=3000),
                      st.sampled_from([b"", b"a" * 5000, os.urandom(2000), b'{"author":"ab"}' * 40]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_payloads, st.booleans()), max_size=30))
def test_any_sequence_of_payloads_round_trips_exactly(frames: list[tuple[bytes, bool]]) -> None:
    compressor, decompressor = FrameCompressor(), FrameDecompressor(MAX_PAYLOAD)
    for payload, isolated in frames:
        data = compressor.compress(payload, isolated=isolated)
        assert len(data) <= max_compressed(len(payload))
        assert decompressor.decompress(data) == payload


def test_incompressible_and_largest_payloads_fit_their_frames() -> None:
    compressor, decompressor = FrameCompressor(), FrameDecompressor(MAX_PAYLOAD)
    for payload in (os.urandom(MAX_PAYLOAD), bytes(MAX_PAYLOAD), os.urandom(MAX_PAYLOAD)):
        data = compressor.compress(payload)
        assert len(data) <= max_compressed(MAX_PAYLOAD)
        assert decompressor.decompress(data) == payload


def test_what_the_link_already_carried_costs_little_again() -> None:
    compressor = FrameCompressor()
    event = os.urandom(64) + b'{"author":"' + os.urandom(32).hex().encode() + b'","kind":"link"}'
    first = len(compressor.compress(event))
    assert len(compressor.compress(event)) < first // 5
    assert len(compressor.compress(event, isolated=True)) >= first - 8  # no help from the window


def test_a_frame_decompressing_past_the_limit_is_refused() -> None:
    compressor, decompressor = FrameCompressor(), FrameDecompressor(1000)
    assert decompressor.decompress(compressor.compress(bytes(1000))) == bytes(1000)
    bomb = compressor.compress(bytes(1001))
    assert len(bomb) < 50
    with pytest.raises(DecompressedTooLarge, match="limit of 1000 bytes"):
        decompressor.decompress(bomb)
    with pytest.raises(MalformedCompression):  # the stream cannot be resumed
        decompressor.decompress(compressor.compress(b"x"))


def test_a_huge_bomb_is_refused_without_inflating_it() -> None:
    bomb = FrameCompressor().compress(bytes(256 * MAX_PAYLOAD))  # 256 MiB in about 256 KiB
    assert len(bomb) < max_compressed(MAX_PAYLOAD)
    with pytest.raises(DecompressedTooLarge):
        FrameDecompressor(MAX_PAYLOAD).decompress(bomb)


def _deflate(data: bytes, flush: int) -> bytes:
    z = zlib.compressobj(6, zlib.DEFLATED, -WINDOW_BITS)
    return z.compress(data) + z.flush(flush)


@pytest.mark.parametrize("data", [
    b"",  # an empty frame carries no flush marker
    b"not deflate at all\x00\x00\xff\xff",
    _deflate(b"no flush at the end" * 20, zlib.Z_NO_FLUSH) + b"\x01",
    _deflate(b"the sender ends its stream", zlib.Z_FINISH),  # a final block: nothing may follow
    _deflate(b"x", zlib.Z_SYNC_FLUSH) + _deflate(b"y", zlib.Z_FINISH),
])
def test_malformed_compressed_frames_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedCompression):
        FrameDecompressor(MAX_PAYLOAD).decompress(data)


def test_an_isolated_payload_is_compressed_as_if_the_link_were_new() -> None:
    secret, probe, later = b"secret: 4242", b"guess: secret: 4242", b"secret: 4242 again"
    fresh = FrameCompressor()
    alone = fresh.compress(probe, isolated=True)
    after_alone = fresh.compress(later)
    used = FrameCompressor()
    used.compress(secret)
    used.compress(b"other traffic " * 30)
    # only an empty stored block (the flush that forgets the past) precedes it
    assert used.compress(probe, isolated=True).endswith(alone)
    assert used.compress(later) == after_alone  # nor does the next frame refer back to it


# --- over real channels ---------------------------------------------------------------------


async def _tcp_pair(nursery: trio.Nursery) -> tuple[SecureChannel, SecureChannel]:
    accepted, incoming = trio.open_memory_channel[SecureChannel](1)

    async def handler(stream: trio.abc.Stream) -> None:
        await accepted.send(await secure_accept(stream, BOB))
        await trio.sleep_forever()

    address = await nursery.start(TcpTransport().serve, handler)
    alice = await secure_connect(await TcpTransport().connect(address), ALICE, node_id(BOB))
    return alice, await incoming.receive()


async def test_events_arrive_byte_identical_to_the_senders_log(nursery: trio.Nursery) -> None:
    store = MemoryStore()
    author = Author(ALICE, store)
    root, _ = author.post("forum", "the root")
    for k in range(30):
        author.post(f"reply {k}", f"reply {k} " * (k + 1), parent=root.id)
    author.react(root.id, "+1")
    stored = [s.event for s in store.events()]
    alice, bob = await _tcp_pair(nursery)
    frames = [frame for ev in stored
              for frame in encode_frames([Events(root.id, ((0, ev.wire),))])]
    for frame in frames:
        await alice.send(frame)
    received = [wire for _ in frames for msg in decode_frame(await bob.receive())
                for _, wire in msg.items]  # type: ignore[union-attr]
    assert received == [store.get(ev.id).wire for ev in stored]  # type: ignore[union-attr]
    assert len(received) == len(stored)
    await alice.aclose()
    await bob.aclose()


async def test_a_bomb_over_tcp_closes_the_link(nursery: trio.Nursery,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cliqueclique.net.secure")
    accepted, incoming = trio.open_memory_channel[SecureChannel](1)

    async def handler(stream: trio.abc.Stream) -> None:
        await accepted.send(await secure_accept(stream, BOB))
        await trio.sleep_forever()

    address = await nursery.start(TcpTransport().serve, handler)
    raw = await TcpTransport().connect(address)
    initiator = Initiator(MALLORY, node_id(BOB))
    await raw.send_all(encode_frame(initiator.hello()))
    reply = await _handshake_message(raw, FrameDecoder(MAX_MESSAGE))
    await raw.send_all(encode_frame(initiator.receive_reply(reply)))
    assert initiator.result is not None
    bob = await incoming.receive()
    sealer, compressor = FrameSealer(initiator.result.send_key, max_compressed(MAX_PAYLOAD)), FrameCompressor()
    await raw.send_all(sealer.seal(compressor.compress(b"hello")))
    assert await bob.receive() == b"hello"
    await raw.send_all(sealer.seal(compressor.compress(bytes(64 * MAX_PAYLOAD))))
    with pytest.raises(DecompressedTooLarge):
        await bob.receive()
    assert isinstance(bob.failure, DecompressedTooLarge)
    assert f"closing link to {node_id(MALLORY)[:16]}: DecompressedTooLarge" in caplog.text
    with pytest.raises(trio.ClosedResourceError):
        await bob.receive()
    with trio.fail_after(5):
        while await raw.receive_some(65536):  # Mallory sees the connection closed
            pass
    await raw.aclose()
