"""Live updates: server-sent events, one message per event the node accepts.

A message names the event (id, kind, network, and the child of a link or the
target of a deletion), never its content: the page decides whether it
concerns what it shows and fetches the re-rendered post through the normal
(CSRF-free, read-only) GET routes. A moderation event says its action and
target (a post, or an author whose posts a ban hides). An edit, a reaction or a deletion of a
post comes in the post's own network, so `network` says which post to
refresh. The node notifies its watchers once the event is committed, so the
fetch always finds it.

Written as a raw ASGI endpoint rather than a streaming response over an async
generator, so the watch is closed by a `with` block on disconnect instead of
by a generator finaliser some time later.
"""

from __future__ import annotations

import json
from typing import Any

import trio

from ..eventlog import Event, Kind
from .security import Receive, Scope, Send

KEEPALIVE = 15.0  # seconds between comment lines, so proxies and browsers keep the stream


def describe(event: Event) -> dict[str, Any]:
    """What a page needs to know of an event to refresh the right post."""
    message: dict[str, Any] = {"id": event.id, "kind": event.kind.value, "network": event.network,
                               "author": event.author}
    content = event.content() if event.kind in (Kind.LINK, Kind.DELETION, Kind.MODERATION) else None
    if isinstance(content, dict):
        if event.kind is Kind.LINK:
            message["child"] = content.get("child")
            message["parent"] = content.get("parent")
        else:
            message["target"] = content.get("target")
        if event.kind is Kind.MODERATION:
            message["action"] = content.get("action")  # never the reason: the page fetches that
    return message


class LiveEvents:
    """`GET /live`: a `text/event-stream` of accepted events until the browser goes away."""

    def __init__(self, web: Any) -> None:
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"x-accel-buffering", b"no")]})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._stream, send)
            while (await receive())["type"] != "http.disconnect":
                pass
            nursery.cancel_scope.cancel()

    async def _stream(self, send: Send) -> None:
        with self.web.node.watch_all() as feed:
            await self._send(send, b"retry: 1000\n: live\n\n")
            while True:
                event = None
                with trio.move_on_after(KEEPALIVE):
                    event = await feed.__anext__()
                if event is None:
                    await self._send(send, b": keepalive\n\n")
                    continue
                # The page fetches the post right after this: make sure it is not served stale.
                self.web.reader.invalidate(event.network)
                data = json.dumps(describe(event), separators=(",", ":"))
                await self._send(send, f"data: {data}\n\n".encode())

    @staticmethod
    async def _send(send: Send, chunk: bytes) -> None:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
