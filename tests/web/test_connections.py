"""Web connections are closed and bounded (issue 16, defect 6), against a real `serve` process.

A connection that fetched a static file used to stay open forever, with or
without `Connection: close` (Starlette's FileResponse and hypercorn's trio
worker cancelled each other's close), so a page load leaked a descriptor per
connection until the node had none left. Here the server must close after a
`Connection: close` response, close idle keep-alive connections after
`KEEP_ALIVE_SECONDS`, and hold at most `MAX_WEB_CONNECTIONS` at once.
Every wait is a blocking read for the server's close, with a deadline.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from cliqueclique.web.server import KEEP_ALIVE_SECONDS, MAX_WEB_CONNECTIONS
from tests.web.conftest import WebNode, start_web_node

DEADLINE = 20.0  # any single wait for the server to close


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebNode]:
    started = start_web_node(tmp_path_factory.mktemp("conn"), "carl")
    try:
        yield started
    finally:
        started.serve.stop()


def open_fds(node: WebNode) -> int:
    return len(os.listdir(f"/proc/{node.serve.proc.pid}/fd"))


def send_get(node: WebNode, path: str, *, close: bool) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", node.port), timeout=DEADLINE)
    extra = "Connection: close\r\n" if close else ""
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n{extra}\r\n".encode())
    return conn


def read_response(conn: socket.socket) -> tuple[bytes, bytes]:
    """(status line, body) of one response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, f"closed before the headers: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, "closed inside the body"
        body += chunk
    return head.split(b"\r\n")[0], body


def wait_closed(conn: socket.socket) -> float:
    """Seconds until the server closes `conn` (fails after DEADLINE)."""
    start = time.monotonic()
    try:
        extra = conn.recv(1)
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {DEADLINE} s")
    assert extra == b"", f"unexpected bytes after the response: {extra!r}"
    return time.monotonic() - start


@pytest.mark.parametrize("path", ["/static/app.css", "/static/app.js", "/static/favicon.svg", "/"])
def test_connection_close_is_honoured(node: WebNode, path: str) -> None:
    conn = send_get(node, path, close=True)
    try:
        status, body = read_response(conn)
        assert status.startswith(b"HTTP/1.1 200") and body
        assert wait_closed(conn) < KEEP_ALIVE_SECONDS  # at once, not by the idle timeout
    finally:
        conn.close()


def test_idle_keep_alive_connection_is_closed_after_the_timeout(node: WebNode) -> None:
    conn = send_get(node, "/static/app.css", close=False)
    try:
        status, _ = read_response(conn)
        assert status.startswith(b"HTTP/1.1 200")
        waited = wait_closed(conn)
        assert KEEP_ALIVE_SECONDS * 0.8 <= waited <= KEEP_ALIVE_SECONDS + 5
    finally:
        conn.close()


def test_keep_alive_connection_serves_several_static_files(node: WebNode) -> None:
    conn = send_get(node, "/static/app.css", close=False)
    try:
        for path in ("/static/app.js", "/static/favicon.svg"):
            assert read_response(conn)[0].startswith(b"HTTP/1.1 200")
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n\r\n".encode())
        assert read_response(conn)[0].startswith(b"HTTP/1.1 200")
    finally:
        conn.close()


def test_static_connections_do_not_exhaust_descriptors(node: WebNode) -> None:
    """Hundreds of static fetches whose clients never hang up: the node's fds stay bounded."""
    before = open_fds(node)
    conns = [send_get(node, "/static/app.css", close=True) for _ in range(300)]
    try:
        for conn in conns[:MAX_WEB_CONNECTIONS]:
            read_response(conn)
            wait_closed(conn)
        assert open_fds(node) <= before + 10
    finally:
        for conn in conns:
            conn.close()


def test_connections_beyond_the_cap_wait_for_a_free_slot(node: WebNode) -> None:
    """More keep-alive connections than the cap, all asking at once: the node holds at most
    the cap; the rest are answered only once idle ones are closed (after the keep-alive timeout)."""
    before = open_fds(node)
    conns = [send_get(node, "/static/favicon.svg", close=False) for _ in range(MAX_WEB_CONNECTIONS + 20)]
    try:
        answered = time.monotonic()
        for conn in conns[:MAX_WEB_CONNECTIONS]:  # accepted first, so served at once
            assert read_response(conn)[0].startswith(b"HTTP/1.1 200")
        held = open_fds(node) - before
        assert held <= MAX_WEB_CONNECTIONS + 5, f"{held} descriptors for idle web connections"
        for conn in conns[MAX_WEB_CONNECTIONS:]:  # queued until a slot frees
            assert read_response(conn)[0].startswith(b"HTTP/1.1 200")
        assert time.monotonic() - answered >= KEEP_ALIVE_SECONDS * 0.8
    finally:
        for conn in conns:
            conn.close()
    conn = send_get(node, "/", close=True)  # and the node serves as before
    try:
        assert read_response(conn)[0].startswith(b"HTTP/1.1 200")
    finally:
        conn.close()
