"""secure_connect / secure_accept over real streams: success, refusals, and a hostile peer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing
from nacl.signing import SigningKey

from cliqueclique.eventlog.keys import node_id
from cliqueclique.net import SecureChannel, TcpTransport, secure_accept, secure_connect
from cliqueclique.net.errors import (
    DecompressedTooLarge,
    FrameAuthenticationFailed,
    FrameOutOfSequence,
    FrameTooLarge,
    HandshakeClosed,
    HandshakeDecryptionFailed,
    HandshakeTimeout,
    MalformedCompression,
    MalformedFrame,
    MalformedHandshake,
    TruncatedFrame,
    WrongPeer,
)
from cliqueclique.net.compress import FrameCompressor, max_compressed
from cliqueclique.net.framing import (
    LENGTH,
    MAX_PAYLOAD,
    FrameDecoder,
    FrameSealer,
    encode_frame,
    max_body,
)
from cliqueclique.net.handshake import MAX_MESSAGE, Initiator
from cliqueclique.net.secure import _handshake_message

ALICE, BOB, MALLORY = SigningKey.generate(), SigningKey.generate(), SigningKey.generate()


async def connected(
    a_stream: trio.abc.Stream, b_stream: trio.abc.Stream,
) -> tuple[SecureChannel, SecureChannel]:
    """Alice dials Bob over the given stream pair; returns (alice's, bob's) channels."""
    out: dict[str, SecureChannel] = {}

    async def accept() -> None:
        out["bob"] = await secure_accept(b_stream, BOB)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept)
        out["alice"] = await secure_connect(a_stream, ALICE, node_id(BOB))
    return out["alice"], out["bob"]


async def test_channel_carries_messages_both_ways() -> None:
    alice, bob = await connected(*trio.testing.memory_stream_pair())
    assert alice.peer_id == node_id(BOB) and bob.peer_id == node_id(ALICE)
    assert alice.transcript == bob.transcript
    await alice.send(b"hello bob")
    await alice.send(b"")
    await bob.send(b"hello alice")
    assert await bob.receive() == b"hello bob"
    assert await bob.receive() == b""
    assert await alice.receive() == b"hello alice"
    await alice.aclose()
    with pytest.raises(trio.EndOfChannel):
        await bob.receive()
    with pytest.raises(trio.ClosedResourceError):
        await alice.send(b"late")
    await bob.aclose()


async def test_async_iteration_and_concurrent_senders() -> None:
    alice, bob = await connected(*trio.testing.memory_stream_pair())
    messages = {f"task {t} message {i}".encode() * 50 for t in range(4) for i in range(25)}

    async def sender(task: int) -> None:
        for i in range(25):
            await alice.send(f"task {task} message {i}".encode() * 50)

    async with trio.open_nursery() as nursery:
        for task in range(4):
            nursery.start_soon(sender, task)
    await alice.aclose()
    received = [payload async for payload in bob]
    assert set(received) == messages and len(received) == len(messages)


async def test_largest_payload_passes_and_larger_is_refused_locally() -> None:
    alice, bob = await connected(*trio.testing.memory_stream_pair())
    big = bytes(range(256)) * (alice.max_payload // 256)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(alice.send, big)
        assert await bob.receive() == big
    with pytest.raises(FrameTooLarge):
        await alice.send(big + b"!")
    await alice.send(b"still usable")  # nothing was sent for the refused payload
    assert await bob.receive() == b"still usable"


async def test_over_tcp(nursery: trio.Nursery) -> None:
    accepted, incoming = trio.open_memory_channel[SecureChannel](1)

    async def handler(stream: trio.abc.Stream) -> None:
        channel = await secure_accept(stream, BOB)
        await channel.send(b"welcome " + channel.peer_id.encode())
        await accepted.send(channel)
        await trio.sleep_forever()

    address = await nursery.start(TcpTransport().serve, handler)
    transport = TcpTransport()
    channel = await secure_connect(await transport.connect(address), ALICE, node_id(BOB))
    assert await channel.receive() == b"welcome " + node_id(ALICE).encode()
    server_side = await incoming.receive()
    assert server_side.peer_id == node_id(ALICE)
    await channel.aclose()


async def test_wrong_expected_id_closes_both_ends(caplog: pytest.LogCaptureFixture) -> None:
    a, b = trio.testing.memory_stream_pair()

    async def bob_side() -> None:
        with pytest.raises(HandshakeClosed):
            await secure_accept(b, BOB)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(bob_side)
        with pytest.raises(WrongPeer):
            await secure_connect(a, ALICE, node_id(MALLORY))
    assert f"handshake with {node_id(MALLORY)[:16]} failed: WrongPeer" in caplog.text
    assert "handshake with incoming peer failed: HandshakeClosed" in caplog.text
    with pytest.raises(trio.ClosedResourceError):
        await a.send_all(b"x")  # the dialler closed its stream


async def test_silent_peer_times_out(autojump_clock: trio.testing.MockClock) -> None:
    _, b = trio.testing.memory_stream_pair()
    start = trio.current_time()
    with pytest.raises(HandshakeTimeout, match="within 30s"):
        await secure_accept(b, BOB)  # Alice never says hello
    assert trio.current_time() - start == 30
    with pytest.raises(trio.ClosedResourceError):
        await b.receive_some()


async def test_slow_dialler_times_out_with_custom_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    a, _ = trio.testing.memory_stream_pair()
    with pytest.raises(HandshakeTimeout, match="within 5s"):
        await secure_connect(a, ALICE, node_id(BOB), timeout=5)  # Bob never replies
    assert trio.current_time() == 5


async def test_peer_hanging_up_mid_handshake() -> None:
    a, b = trio.testing.memory_stream_pair()
    await a.send_all(encode_frame(Initiator(ALICE, node_id(BOB)).hello())[:10])
    await a.aclose()
    with pytest.raises(HandshakeClosed):
        await secure_accept(b, BOB)


@pytest.mark.parametrize(("raw", "error"), [
    (encode_frame(b"GET / HTTP/1.1\r\n\r\n"), MalformedHandshake),
    (LENGTH.pack(MAX_MESSAGE + 1), MalformedHandshake),
    (LENGTH.pack(0xFFFFFFFF) + b"garbage", MalformedHandshake),
])
async def test_garbage_instead_of_hello(raw: bytes, error: type[Exception]) -> None:
    a, b = trio.testing.memory_stream_pair()
    await a.send_all(raw)
    with pytest.raises(error):
        await secure_accept(b, BOB)


class Tap(trio.abc.Stream):
    """Passes everything through and records what is sent (a wiretap)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.sent: list[bytes] = []

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_replayed_handshake_over_the_wire() -> None:
    # Record Alice's side of a genuine handshake, then replay it to Bob on a new connection.
    a, b = trio.testing.memory_stream_pair()
    tap = Tap(a)
    alice, bob = await connected(tap, b)
    await alice.aclose()
    await bob.aclose()
    hello, finish = tap.sent  # one frame per handshake message

    c, d = trio.testing.memory_stream_pair()

    async def replay() -> None:
        await c.send_all(hello)
        await _handshake_message(c, FrameDecoder(MAX_MESSAGE))  # Bob's fresh reply
        await c.send_all(finish)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(replay)
        with pytest.raises(HandshakeDecryptionFailed):
            await secure_accept(d, BOB)


# --- a hostile peer after a valid handshake -------------------------------------------------


class Sealer:
    """Mallory's side of the data phase: compresses like a genuine node, then seals."""

    def __init__(self, key: bytes) -> None:
        self.raw = FrameSealer(key, max_compressed(MAX_PAYLOAD))
        self.compressor = FrameCompressor()

    def seal(self, payload: bytes) -> bytes:
        return self.raw.seal(self.compressor.compress(payload))


Attack = Callable[[trio.abc.Stream, Sealer], Awaitable[None]]


async def hostile(attack: Attack) -> tuple[SecureChannel, trio.abc.Stream]:
    """Mallory completes a genuine handshake with Bob, then writes raw bytes via `attack`."""
    a, b = trio.testing.memory_stream_pair()
    initiator = Initiator(MALLORY, node_id(BOB))
    out: dict[str, SecureChannel] = {}

    async def bob_side() -> None:
        out["bob"] = await secure_accept(b, BOB)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(bob_side)
        await a.send_all(encode_frame(initiator.hello()))
        reply = await _handshake_message(a, FrameDecoder(MAX_MESSAGE))
        await a.send_all(encode_frame(initiator.receive_reply(reply)))
    assert initiator.result is not None
    await attack(a, Sealer(initiator.result.send_key))
    return out["bob"], a


async def oversized(raw: trio.abc.Stream, sealer: Sealer) -> None:
    await raw.send_all(LENGTH.pack(max_body(max_compressed(MAX_PAYLOAD)) + 1))


async def garbage(raw: trio.abc.Stream, sealer: Sealer) -> None:
    await raw.send_all(encode_frame(b"not a sealed frame"))


async def replayed(raw: trio.abc.Stream, sealer: Sealer) -> None:
    frame = sealer.seal(b"transfer 10 coins")
    await raw.send_all(frame + frame)


async def reordered(raw: trio.abc.Stream, sealer: Sealer) -> None:
    first, second = sealer.seal(b"first"), sealer.seal(b"second")
    await raw.send_all(second + first)


async def tampered(raw: trio.abc.Stream, sealer: Sealer) -> None:
    frame = bytearray(sealer.seal(b"genuine"))
    frame[-3] ^= 0x40
    await raw.send_all(bytes(frame))


async def bomb(raw: trio.abc.Stream, sealer: Sealer) -> None:
    # 1 MiB + 1 of zeros compresses to about a kilobyte: fine on the wire, refused once inflated
    await raw.send_all(sealer.seal(b"ok") + sealer.seal(bytes(MAX_PAYLOAD + 1)))


async def uncompressed(raw: trio.abc.Stream, sealer: Sealer) -> None:
    await raw.send_all(sealer.raw.seal(b"a version-1 payload, sent as it is"))


async def truncated(raw: trio.abc.Stream, sealer: Sealer) -> None:
    await raw.send_all(sealer.seal(b"complete")[:-5])
    await raw.aclose()


@pytest.mark.parametrize(("attack", "error", "good_frames"), [
    (oversized, FrameTooLarge, 0),
    (garbage, MalformedFrame, 0),
    (replayed, FrameOutOfSequence, 1),
    (reordered, FrameOutOfSequence, 0),
    (tampered, FrameAuthenticationFailed, 0),
    (truncated, TruncatedFrame, 0),
    (bomb, DecompressedTooLarge, 1),
    (uncompressed, MalformedCompression, 0),
])
async def test_hostile_frames_close_the_link_with_a_logged_reason(
    attack: Attack, error: type[Exception], good_frames: int, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="cliqueclique.net.secure")
    bob, raw = await hostile(attack)
    for _ in range(good_frames):
        await bob.receive()
    with pytest.raises(error):
        await bob.receive()
    assert f"closing link to {node_id(MALLORY)[:16]}: {error.__name__}" in caplog.text
    with pytest.raises(trio.ClosedResourceError):
        await bob.receive()  # nothing more is read from a peer once it misbehaved
    if attack is not truncated:
        assert await raw.receive_some() == b""  # Mallory sees the link closed
