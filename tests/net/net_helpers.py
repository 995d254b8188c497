"""Helpers shared by the network tests (imported by module name: tests/net is on sys.path)."""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Awaitable, Callable

import trio

from cliqueclique.net.address import Address
from cliqueclique.net.transport import Transport

StreamPair = tuple[trio.abc.Stream, trio.abc.Stream]


async def serve_pairs(
    nursery: trio.Nursery, server: Transport, client: Transport | None = None,
) -> Callable[[], Awaitable[StreamPair]]:
    """Start `server.serve` and return a maker of connected (client side, server side) pairs."""
    send, receive = trio.open_memory_channel[trio.abc.Stream](math.inf)

    async def handler(stream: trio.abc.Stream) -> None:
        await send.send(stream)
        await trio.sleep_forever()  # the transport closes the stream when the handler ends

    address: Address = await nursery.start(server.serve, handler)
    dialler = client or server

    async def make() -> StreamPair:
        near = await dialler.connect(address)
        far = await receive.receive()
        return near, far

    return make


def clog(stream: trio.SocketStream) -> None:
    """Fill a socket stream's send path (and the peer's receive buffer) until it would block."""
    with socket.socket(fileno=os.dup(stream.socket.fileno())) as dup:
        dup.setblocking(False)
        while True:
            try:
                dup.send(b"x" * 65536)
            except BlockingIOError:
                return
