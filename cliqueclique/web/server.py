"""Serving the web UI in the node's own nursery (hypercorn's trio worker)."""

from __future__ import annotations

import logging
import secrets
import socket
from typing import TYPE_CHECKING

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

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


def _config(fd: int) -> Config:
    config = Config()
    config.bind = [f"fd://{fd}"]
    config.accesslog = None
    config.errorlog = log
    config.include_server_header = False
    config.keep_alive_timeout = 30
    config.graceful_timeout = 1.0
    return config


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
            await nursery.start(serve, app, _config(sock.detach()))
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
