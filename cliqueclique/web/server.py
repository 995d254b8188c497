"""Serving the web UI in the node's own nursery (hypercorn's trio worker)."""

from __future__ import annotations

import logging
import secrets
import socket
from functools import partial
from typing import TYPE_CHECKING, Any

import trio
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import wrap_app

from ..home import Home
from .app import Web, build_app
from .errors import BadWebAddress
from .options import WebOptions
from .reads import Reader
from .security import Guard
from .switcher import WEB_STATUS, Switcher

if TYPE_CHECKING:
    from ..node import Node

log = logging.getLogger("cliqueclique.web")

KEEP_ALIVE_SECONDS = 5.0
"""An idle keep-alive web connection is closed after this long (a browser reopens one at once)."""
MAX_WEB_CONNECTIONS = 64
"""Web connections served at once (each is a file descriptor); beyond it new ones wait in the
kernel's accept queue until one closes. A browser uses ~6 per host plus one per open tab's
live feed, so only a flood reaches it, and the flood then costs the node no descriptors."""


class _SlotStream(trio.abc.HalfCloseableStream):
    """A connection that gives its slot back when closed (hypercorn sees a plain socket stream)."""

    def __init__(self, stream: trio.SocketStream, slots: trio.Semaphore) -> None:
        self.stream, self._slots, self._released = stream, slots, False

    @property
    def socket(self) -> Any:
        return self.stream.socket

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self.stream.receive_some(max_bytes)

    async def send_eof(self) -> None:
        await self.stream.send_eof()

    async def aclose(self) -> None:
        try:
            await self.stream.aclose()
        finally:
            if not self._released:
                self._released = True
                self._slots.release()


class _CappedListener(trio.abc.Listener[_SlotStream]):
    """Accepts only while fewer than `limit` accepted connections are open."""

    def __init__(self, inner: trio.SocketListener, limit: int) -> None:
        self.inner, self.slots = inner, trio.Semaphore(limit)

    async def accept(self) -> _SlotStream:
        await self.slots.acquire()
        try:
            stream = await self.inner.accept()
        except BaseException:
            self.slots.release()
            raise
        return _SlotStream(stream, self.slots)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _bind(options: WebOptions) -> socket.socket:
    """Bind the listening socket ourselves: the Host check needs the real port before any request."""
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((options.host, options.port))
    except OSError as e:
        sock.close()
        raise BadWebAddress(f"cannot serve the web UI on {options.host}:{options.port}: "
                            f"{e.strerror or e}") from None
    return sock


def url_of(options: WebOptions, port: int) -> str:
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"http://{host}:{port}/"


def _config() -> Config:
    config = Config()
    config.accesslog = None
    config.errorlog = log
    config.include_server_header = False
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    config.graceful_timeout = 1.0
    return config


async def serve_capped(app: Any, sock: socket.socket, *, limit: int = MAX_WEB_CONNECTIONS,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """hypercorn's trio worker on a listener that holds at most `limit` connections.

    `hypercorn.trio.serve` builds its own unbounded listener, so this is its
    `worker_serve` minus the lifespan protocol (the app has no lifespan
    handlers): hypercorn's per-connection `TCPServer` on our capped listener.
    """
    config = _config()
    context = WorkerContext(None)
    sock.listen(config.backlog)
    listener = _CappedListener(trio.SocketListener(trio.socket.from_stdlib_socket(sock)), limit)
    handler = partial(TCPServer, wrap_app(app, config.wsgi_max_body_size, None), config, context,
                      ConnectionState({}))
    async with trio.open_nursery() as connections:
        try:
            await connections.start(partial(trio.serve_listeners, handler, [listener],
                                            handler_nursery=connections))
            task_status.started()
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await context.terminated.set()  # idle connections close at once
            connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout


async def run_web(node: Node, options: WebOptions, *,
                  task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve `node`'s web UI until cancelled; `task_status.started(url)` once it listens.

    Raises:
        BadWebAddress: the address cannot be bound.
    """
    sock = _bind(options)
    port = sock.getsockname()[1]
    url = url_of(options, port)
    reader = Reader(node.local)
    home = Home(node.local.directory.parent.parent)
    web = Web(node, reader, options, url, Switcher(home, node.id, url))
    app = Guard(build_app(web), options, port, secrets.token_bytes(32))
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_invalidate, web)
            await nursery.start(serve_capped, app, sock)
            node.state.publish_status(WEB_STATUS, {"url": url})
            task_status.started(url)
    finally:
        node.state.publish_status(WEB_STATUS, {"url": None})
        reader.close()


async def _invalidate(web: Web) -> None:
    """Keep the document-state cache in step with every event the node accepts."""
    with web.node.watch_all() as feed:
        async for event in feed:
            web.reader.invalidate(event.network)
