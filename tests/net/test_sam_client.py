"""The trio SAM client: over a scripted socket, and against the in-process fake bridge."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing
from fake_sam_bridge import FakeSamBridge, new_private_keys
from net_helpers import serve_pairs

from cliqueclique.net import (
    I2PAddress,
    I2PKeys,
    I2PTransport,
    SamBridgeAddress,
    SamSession,
    SamStream,
    create_sessions,
    load_or_create_keys,
    read_keys,
    write_keys,
)
from cliqueclique.net.errors import (
    BadAddress,
    I2PKeyFileError,
    SamBridgeUnavailable,
    SamCantReachPeer,
    SamDuplicatedDest,
    SamDuplicatedId,
    SamInvalidId,
    SamKeyNotFound,
    SamNoVersion,
    SamTimeout,
)
from cliqueclique.net.sam import hello
from cliqueclique.net.sam_client import SamConnection

BRIDGE = SamBridgeAddress("127.0.0.1", 1)


async def ignore(stream: trio.abc.Stream) -> None:
    """A connection handler that does nothing."""  # only a label for the scripted-socket tests


Wire = tuple[SamConnection, trio.SocketStream]


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    """A SamConnection whose far end (the 'bridge') the test drives by hand."""
    a, b = trio.socket.socketpair()
    conn, bridge = SamConnection(trio.SocketStream(a), BRIDGE), trio.SocketStream(b)
    yield conn, bridge
    await conn.aclose()
    await bridge.aclose()


async def drip(stream: trio.SocketStream, data: bytes) -> None:
    """Send one byte per write, yielding in between, so each arrives in its own recv."""
    for byte in data:
        await stream.send_all(bytes([byte]))
        await trio.testing.wait_all_tasks_blocked()


async def test_reply_dripped_byte_by_byte_is_reassembled(wire: Wire) -> None:
    conn, bridge = wire
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drip, bridge, b"HELLO REPLY RESULT=OK VERSION=3.1\n")
        reply = await conn.command(hello(), 10, "HELLO", "REPLY")
    assert reply.options == {"RESULT": "OK", "VERSION": "3.1"}
    assert await bridge.receive_some() == b"HELLO VERSION MIN=3.1 MAX=3.1\n"


async def test_error_reply_over_the_wire_keeps_message(wire: Wire) -> None:
    conn, bridge = wire
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drip, bridge, b'STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="no LS"\n')
        with pytest.raises(SamCantReachPeer) as info:
            await conn.command(b"STREAM CONNECT ID=x DESTINATION=y\n", 10, "STREAM", "STATUS")
    assert info.value.message == "no LS"


async def test_noversion_maps_to_its_error(wire: Wire) -> None:
    conn, bridge = wire
    await bridge.send_all(b"HELLO REPLY RESULT=NOVERSION\n")
    with pytest.raises(SamNoVersion):
        await conn.command(hello(), 10, "HELLO", "REPLY")


async def test_stream_data_joined_to_the_status_line_is_not_lost(wire: Wire) -> None:
    conn, bridge = wire
    await bridge.send_all(b"STREAM STATUS RESULT=OK\nhello from the peer")
    await conn.command(b"STREAM CONNECT ID=x DESTINATION=y\n", 10, "STREAM", "STATUS")
    stream = conn.into_stream(I2PAddress("a" * 52 + ".b32.i2p"))
    assert await stream.receive_some(5) == b"hello"
    assert await stream.receive_some() == b" from the peer"
    await bridge.send_all(b"!")
    assert await stream.receive_some() == b"!"
    await stream.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await stream.receive_some()


async def test_bridge_hanging_up_before_replying(wire: Wire) -> None:
    conn, bridge = wire

    async def hang_up() -> None:
        assert await bridge.receive_some() == b"STREAM ACCEPT ID=x\n"
        await bridge.send_all(b"STREAM STAT")
        await bridge.aclose()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(hang_up)
        with pytest.raises(SamBridgeUnavailable, match="closed the connection"):
            await conn.command(b"STREAM ACCEPT ID=x\n", 10, "STREAM", "STATUS")


async def test_silent_bridge_times_out(
    autojump_clock: trio.testing.MockClock, wire: Wire,
) -> None:
    conn, _ = wire
    start = trio.current_time()
    with pytest.raises(SamTimeout, match="no reply to SESSION CREATE within 180s"):
        await conn.command(b"SESSION CREATE STYLE=STREAM\n", 180, "SESSION", "STATUS")
    assert trio.current_time() - start == 180


async def test_no_bridge_listening() -> None:
    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SamBridgeUnavailable, match=f"no SAM bridge at 127.0.0.1:{port}"):
        await SamConnection.open(SamBridgeAddress("127.0.0.1", port))


def test_bridge_address_parsing() -> None:
    assert SamBridgeAddress.parse("127.0.0.1:7656") == SamBridgeAddress()
    assert SamBridgeAddress.parse("7000") == SamBridgeAddress("127.0.0.1", 7000)
    assert str(SamBridgeAddress.parse("[::1]:7656")) == "::1:7656"
    for bad in ["", "host:", ":7656", "h:0", "h:99999", "h:x"]:
        with pytest.raises(BadAddress):
            SamBridgeAddress.parse(bad)


# --- key files ------------------------------------------------------------------------


def test_keys_file_round_trip_with_mode_0600(tmp_path: Path) -> None:
    keys = I2PKeys.from_base64(new_private_keys())
    path = tmp_path / "i2p.keys"
    write_keys(path, keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_keys(path) == keys
    assert read_keys(path).address == keys.address
    assert keys.address.base64 is not None and len(keys.address.b32) == 60


def test_keys_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "i2p.keys"
    write_keys(path, I2PKeys.from_base64(new_private_keys()))
    os.chmod(path, 0o644)
    with pytest.raises(I2PKeyFileError, match="readable by others"):
        read_keys(path)


@pytest.mark.parametrize("content", [b"", b"not base64!\n", b"QUFBQQ==\n", b"\xff\xfe",
                                     b"A" * 9000])
def test_malformed_keys_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "i2p.keys"
    path.write_bytes(content)
    os.chmod(path, 0o600)
    with pytest.raises(I2PKeyFileError):
        read_keys(path)


def test_missing_keys_file(tmp_path: Path) -> None:
    with pytest.raises(I2PKeyFileError, match="cannot read"):
        read_keys(tmp_path / "nope")


def test_keys_without_private_part_are_refused() -> None:
    public_only = new_private_keys()
    with pytest.raises(I2PKeyFileError, match="no private part"):
        I2PKeys.from_base64(I2PKeys.from_base64(public_only).public_base64)


# --- against the fake bridge ---------------------------------------------------------------


@pytest.fixture
async def bridge(nursery: trio.Nursery) -> tuple[FakeSamBridge, SamBridgeAddress]:
    fake = FakeSamBridge()
    port = await nursery.start(fake.serve)
    return fake, SamBridgeAddress("127.0.0.1", port)


async def test_keys_persist_so_the_address_is_stable(
    tmp_path: Path, bridge: tuple[FakeSamBridge, SamBridgeAddress],
) -> None:
    fake, address = bridge
    path = tmp_path / "i2p.keys"
    first = await load_or_create_keys(path, address)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    async with await SamSession.create(address, first) as session:
        assert session.address == first.address
    again = await load_or_create_keys(path, address)  # a restart: same file, same address
    assert again.address == first.address
    assert sum(c.startswith("DEST GENERATE") for c in fake.commands) == 1


@pytest.fixture
async def two_sessions(
    bridge: tuple[FakeSamBridge, SamBridgeAddress],
) -> AsyncIterator[list[SamSession]]:
    _, address = bridge
    keys = [I2PKeys.from_base64(new_private_keys()) for _ in range(2)]
    sessions = await create_sessions([(address, keys[0]), (address, keys[1])])
    yield sessions
    for session in sessions:
        await session.aclose()


async def test_sessions_in_parallel_and_stream_both_ways(
    bridge: tuple[FakeSamBridge, SamBridgeAddress], two_sessions: list[SamSession],
    nursery: trio.Nursery,
) -> None:
    fake, _ = bridge
    server, client = two_sessions
    assert len(fake.sessions) == 2
    make = await serve_pairs(nursery, I2PTransport(server), I2PTransport(client))
    near, far = await make()
    async with near, far:
        assert isinstance(far, SamStream)
        assert far.peer == client.address
        await near.send_all(b"ping")
        assert await far.receive_some() == b"ping"
        await far.send_all(b"pong")
        assert await near.receive_some() == b"pong"


async def test_sam_stream_is_a_two_way_stream(
    two_sessions: list[SamSession], nursery: trio.Nursery,
) -> None:
    server, client = two_sessions
    make = await serve_pairs(nursery, I2PTransport(server), I2PTransport(client))
    await trio.testing.check_two_way_stream(make, None)


async def test_connect_by_b32_and_lookup(
    two_sessions: list[SamSession], nursery: trio.Nursery,
) -> None:
    server, client = two_sessions
    await serve_pairs(nursery, I2PTransport(server))
    assert await client.lookup(server.address.b32) == server.address
    with pytest.raises(SamKeyNotFound):
        await client.lookup("b" * 52 + ".b32.i2p")
    async with await client.connect(I2PAddress(server.address.b32)) as stream:
        assert stream.peer == I2PAddress(server.address.b32)


async def test_session_errors_over_the_wire(bridge: tuple[FakeSamBridge, SamBridgeAddress]) -> None:
    _, address = bridge
    keys = I2PKeys.from_base64(new_private_keys())
    async with await SamSession.create(address, keys, nickname="one") as session:
        with pytest.raises(SamDuplicatedId):
            await SamSession.create(address, I2PKeys.from_base64(new_private_keys()),
                                    nickname="one")
        with pytest.raises(SamDuplicatedDest):
            await SamSession.create(address, keys)
        with pytest.raises(SamCantReachPeer, match="no route"):
            await session.connect(I2PAddress("c" * 52 + ".b32.i2p"))
    with pytest.raises(SamInvalidId):  # the session ended with its control socket
        await session.connect(I2PAddress("c" * 52 + ".b32.i2p"))


async def test_serve_fails_loudly_when_the_session_is_gone(
    bridge: tuple[FakeSamBridge, SamBridgeAddress],
) -> None:
    _, address = bridge
    session = await SamSession.create(address, I2PKeys.from_base64(new_private_keys()))
    await session.aclose()
    with pytest.raises(SamInvalidId):
        await I2PTransport(session).serve(ignore)
