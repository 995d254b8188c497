"""The shaping proxy (shapingproxy.py) over real loopback sockets, in virtual time:
bytes arrive intact and in order, never faster than the bandwidth allows, a
bandwidth-delay product is in flight at once, and round trips are counted as
waits on a request (not as pushes)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from .shapingproxy import Direction, ShapingProxy, ShapingProxyProcess, kbps_to_rate

Handler = Callable[[trio.SocketStream], Awaitable[None]]


@pytest.fixture
def clock() -> trio.testing.MockClock:
    # jumps only once real sockets have been quiet a moment (loopback data is instant)
    return trio.testing.MockClock(autojump_threshold=0.002)


async def _serve(nursery: trio.Nursery, handler: Handler) -> int:
    listeners = await nursery.start(trio.serve_tcp, handler, 0)
    return int(listeners[0].socket.getsockname()[1])


async def _through(nursery: trio.Nursery, handler: Handler, up: Direction, down: Direction,
                   ) -> tuple[ShapingProxy, int]:
    proxy = ShapingProxy(await _serve(nursery, handler), up=up, down=down)
    return proxy, await _serve(nursery, proxy.handle)


async def _close_at_end(stream: trio.abc.Stream) -> None:
    try:
        await trio.sleep_forever()
    finally:
        await trio.aclose_forcefully(stream)


async def _read_exactly(stream: trio.abc.Stream, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = await stream.receive_some(size - len(data))
        assert chunk, "stream ended early"
        data += chunk
    return data


async def test_bytes_arrive_intact_in_order_and_no_faster_than_the_bandwidth(
        clock: trio.testing.MockClock) -> None:
    payload = os.urandom(300_000)
    received = trio.Event()
    got: list[bytes] = []

    async def sink(stream: trio.SocketStream) -> None:
        got.append(await _read_exactly(stream, len(payload)))
        received.set()

    rate = 50_000.0
    async with trio.open_nursery() as nursery:
        proxy, port = await _through(nursery, sink, Direction(delay=0.25, rate=rate), Direction())
        start = trio.current_time()
        client = await trio.open_tcp_stream("127.0.0.1", port)
        nursery.start_soon(_close_at_end, client)
        await client.send_all(payload)
        await received.wait()
        elapsed = trio.current_time() - start
        nursery.cancel_scope.cancel()
    assert got == [payload]
    assert proxy.up.bytes == proxy.up.delivered == len(payload)
    assert proxy.up.chunks >= len(payload) // 4096
    assert proxy.up.serialised == pytest.approx(len(payload) / rate)
    # the virtual clock: the connection's round trip (0.25 + 0) and the wire
    # time plus one delay, not a delay per chunk
    assert 0.25 + len(payload) / rate + 0.25 <= elapsed < 0.25 + len(payload) / rate + 0.25 + 0.5
    # the connection, and the upload: one request (unanswered)
    assert len(proxy.waits) == 2 and proxy.down.bytes == 0


async def test_sender_is_held_back_beyond_the_buffer(clock: trio.testing.MockClock) -> None:
    """The proxy does not swallow what the wire cannot carry yet."""
    stop = trio.Event()

    async def never_reads(stream: trio.SocketStream) -> None:
        await stop.wait()

    async with trio.open_nursery() as nursery:
        proxy, port = await _through(nursery, never_reads,
                                     Direction(rate=10_000.0, buffer_bytes=20_000), Direction())
        client = await trio.open_tcp_stream("127.0.0.1", port)
        nursery.start_soon(_close_at_end, client)
        with trio.move_on_after(1.0):
            await client.send_all(os.urandom(2_000_000))  # kernel buffers fill, then it blocks
        # after 1 s: about 1 s of wire plus the buffer was taken from the sender
        assert proxy.up.bytes <= 10_000 * 1.0 + 20_000 + 4096
        stop.set()
        nursery.cancel_scope.cancel()


async def test_round_trips_count_waits_on_requests_not_pushes(clock: trio.testing.MockClock) -> None:
    async def answers(stream: trio.SocketStream) -> None:
        while (request := await stream.receive_some(100)):
            if request == b"ack":
                continue  # not answered: the wait goes on into the next request
            await stream.send_all(request * 1000)  # an answer of several chunks

    async with trio.open_nursery() as nursery:
        proxy, port = await _through(nursery, answers, Direction(delay=0.1, rate=kbps_to_rate(800)),
                                     Direction(delay=0.1, rate=kbps_to_rate(800)))
        client = await trio.open_tcp_stream("127.0.0.1", port)
        nursery.start_soon(_close_at_end, client)
        for request in (b"one", b"two", b"ack", b"six"):
            await client.send_all(request)
            if request != b"ack":
                assert await _read_exactly(client, 3000) == request * 1000
            else:
                await trio.sleep(1)
        nursery.cancel_scope.cancel()
    assert len(proxy.waits) == 1 + 3  # the connection; "ack" merged into the wait for "six"
    assert proxy.up.bytes == 12 and proxy.down.bytes == 9000

    async def pushes(stream: trio.SocketStream) -> None:
        await stream.send_all(b"x" * 100_000)
        await stream.receive_some(10)
        await stream.send_all(b"y" * 20_000)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        proxy, port = await _through(nursery, pushes, Direction(delay=0.1), Direction(delay=0.1, rate=100_000.0))
        client = await trio.open_tcp_stream("127.0.0.1", port)
        nursery.start_soon(_close_at_end, client)
        await _read_exactly(client, 10_000)
        await client.send_all(b"thanks")  # arrives while the push is still travelling
        await _read_exactly(client, 110_000)
        nursery.cancel_scope.cancel()
    assert len(proxy.waits) == 1  # the connection only: "thanks" came while the push was travelling

    async def greets_then_answers(stream: trio.SocketStream) -> None:
        await stream.send_all(b"hello" * 100)
        await stream.send_all(await stream.receive_some(10) * 100)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        proxy, port = await _through(nursery, greets_then_answers, Direction(delay=0.1), Direction(delay=0.1))
        client = await trio.open_tcp_stream("127.0.0.1", port)
        nursery.start_soon(_close_at_end, client)
        await client.send_all(b"q")  # reaches it with the greeting still travelling, but
        await _read_exactly(client, 600)  # ... the greeting is in before any answer can be: a wait
        nursery.cancel_scope.cancel()
    assert len(proxy.waits) == 2

    async with trio.open_nursery() as nursery:  # requests side by side wait together
        proxy, port = await _through(nursery, answers, Direction(delay=0.1), Direction(delay=0.1))
        client = await trio.open_tcp_stream("127.0.0.1", port)
        nursery.start_soon(_close_at_end, client)
        await trio.sleep(0.5)
        for request in (b"abc", b"def", b"ghi"):
            await client.send_all(request)
            await trio.sleep(0.05)  # each reaches the target apart, the answer to the first under way
        await _read_exactly(client, 9000)
        await client.send_all(b"jkl")  # a request after the answers: a round trip of its own
        await _read_exactly(client, 3000)
        nursery.cancel_scope.cancel()
    assert len(proxy.waits) == 1 + 2


@pytest.mark.slow
def test_as_a_process() -> None:
    """The module runs as its own process, as bench/sync.py uses it."""
    async def echo_once() -> tuple[bytes, dict[str, object]]:
        async def echo(stream: trio.SocketStream) -> None:
            await stream.send_all(await _read_exactly(stream, 5000))

        async with trio.open_nursery() as nursery:
            target = await _serve(nursery, echo)
            with ShapingProxyProcess(target, delay_ms=20, kbps=800) as proxy:
                client = await trio.open_tcp_stream("127.0.0.1", proxy.port)
                nursery.start_soon(_close_at_end, client)
                await client.send_all(b"z" * 5000)
                data = await _read_exactly(client, 5000)
                stats = await trio.to_thread.run_sync(proxy.stats)
            nursery.cancel_scope.cancel()
        return data, stats

    data, stats = trio.run(echo_once)
    assert data == b"z" * 5000
    assert stats["up_bytes"] == stats["down_bytes"] == 5000
    assert stats["round_trips"] == 2 and stats["connections"] == 1
