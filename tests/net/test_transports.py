"""Memory and TCP transports pass trio's generic stream checks; dispatch and failures."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from net_helpers import clog, serve_pairs

from cliqueclique.errors import CliqueError
from cliqueclique.net import (
    MemoryAddress,
    MemoryNetwork,
    TcpAddress,
    TcpTransport,
    Transports,
    parse_address,
)
from cliqueclique.net.errors import ConnectFailed, ListenFailed, NoTransport


async def ignore(stream: trio.abc.Stream) -> None:
    """A handler that just lets the transport close the stream."""


async def test_memory_transport_is_a_two_way_stream(nursery: trio.Nursery) -> None:
    net = MemoryNetwork()
    make = await serve_pairs(nursery, net.transport("server"), net.transport("client"))
    await trio.testing.check_two_way_stream(make, None)


async def test_tcp_transport_is_a_two_way_stream(nursery: trio.Nursery) -> None:
    make = await serve_pairs(nursery, TcpTransport())

    async def clogged() -> tuple[trio.abc.Stream, trio.abc.Stream]:
        near, far = await make()
        assert isinstance(near, trio.SocketStream) and isinstance(far, trio.SocketStream)
        clog(near)  # both ways: check_two_way_stream also uses the pair flipped
        clog(far)
        return near, far

    await trio.testing.check_two_way_stream(make, clogged)


async def test_memory_networks_are_isolated_objects(nursery: trio.Nursery) -> None:
    one, two = MemoryNetwork(), MemoryNetwork()
    address = await nursery.start(one.transport("alice").serve, ignore)
    assert address == MemoryAddress("alice")
    assert one.listening() == ["alice"]
    assert two.listening() == []
    with pytest.raises(ConnectFailed, match="nothing listens on mem:alice"):
        await two.transport("bob").connect(address)


async def test_memory_name_served_twice_is_refused(nursery: trio.Nursery) -> None:
    net = MemoryNetwork()
    await nursery.start(net.transport("alice").serve, ignore)
    with pytest.raises(ListenFailed, match="already served"):
        await net.transport("alice").serve(ignore)


async def test_memory_listener_unregisters_when_cancelled() -> None:
    net = MemoryNetwork()
    async with trio.open_nursery() as nursery:
        await nursery.start(net.transport("alice").serve, ignore)
        assert net.listening() == ["alice"]
        nursery.cancel_scope.cancel()
    assert net.listening() == []


async def test_tcp_serve_reports_the_bound_port(nursery: trio.Nursery) -> None:
    address = await nursery.start(TcpTransport().serve, ignore)
    assert isinstance(address, TcpAddress)
    assert address.host == "127.0.0.1" and address.port > 0
    assert parse_address(str(address)) == address


async def test_tcp_connect_refused_is_connect_failed() -> None:
    with trio.socket.socket() as sock:  # a port that was free a moment ago, now closed
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectFailed, match=f"tcp:127.0.0.1:{port}") as info:
        await TcpTransport().connect(TcpAddress("127.0.0.1", port))
    assert isinstance(info.value, CliqueError)


async def test_tcp_port_in_use_is_listen_failed(nursery: trio.Nursery) -> None:
    address = await nursery.start(TcpTransport().serve, ignore)
    with pytest.raises(ListenFailed, match="cannot listen"):
        await TcpTransport(port=address.port).serve(ignore)


async def test_transports_dispatch_by_scheme(nursery: trio.Nursery) -> None:
    net = MemoryNetwork()
    send, receive = trio.open_memory_channel[bytes](2)

    async def handler(stream: trio.abc.Stream) -> None:
        async with stream:
            await send.send(bytes(await stream.receive_some()))

    mem_address = await nursery.start(net.transport("srv").serve, handler)
    tcp_address = await nursery.start(TcpTransport().serve, handler)
    transports = Transports([net.transport("cli"), TcpTransport()])
    assert transports.schemes == ["mem", "tcp"]
    for address, payload in [(mem_address, b"via memory"), (tcp_address, b"via tcp")]:
        async with await transports.connect(address) as stream:
            await stream.send_all(payload)
            with trio.fail_after(5):
                assert await receive.receive() == payload
    with pytest.raises(NoTransport, match="no i2p: transport configured"):
        await transports.connect(parse_address("i2p:" + "a" * 52 + ".b32.i2p"))


async def test_transport_refuses_foreign_address_kind() -> None:
    with pytest.raises(ConnectFailed, match="TCP transport cannot reach mem:x"):
        await TcpTransport().connect(MemoryAddress("x"))
    with pytest.raises(ConnectFailed, match="memory transport cannot reach tcp:"):
        await MemoryNetwork().transport("a").connect(TcpAddress("127.0.0.1", 1))
