"""Following whole threads: subscribe to each reply of a thread one follows.

The protocol carries a subscribed document's direct replies (DESIGN.md 3,
"Children"), but a reply to a reply travels in the first reply's network,
which only nodes subscribed to that reply take part in. A person reading a
forum expects every level of it, so while the UI runs the node subscribes to
each reply that arrives (or is written) under a document it is subscribed
to: the whole tree below a followed forum, one level at a time, as links
arrive. This runs in every node (web UI or not), so all behave alike. Subscriptions are the node's own private events; an explicit
unsubscribe is left alone, since only new links trigger this.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ..errors import CliqueError
from ..eventlog import Action, Author, Event, Kind, SQLiteStore
from ..views import flags

if TYPE_CHECKING:
    from .core import Node

log = logging.getLogger("cliqueclique.node")


def reply_link(event: Event) -> tuple[str, str] | None:
    """(parent, child) of a natural link (a reply), else None."""
    if event.kind is not Kind.LINK:
        return None
    body = event.content()
    if not isinstance(body, dict) or body.get("direction") != "natural":
        return None
    return str(body["parent"]), str(body["child"])


def to_follow(store: SQLiteStore, me: str, links: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Which children to subscribe to now, and which to wait for (not held yet).

    Args:
        links: child -> parent for replies seen since the last call.
    """
    ready, waiting = [], {}
    for child, parent in links.items():
        if not flags(store, me, parent).subscribed or flags(store, me, child).subscribed:
            continue
        if store.get(child) is None:
            waiting[child] = parent  # the link came first: subscribe once the reply arrives
        else:
            ready.append(child)
    return ready, waiting


async def follow_threads(node: Node) -> None:
    """Run until cancelled: subscribe to replies under subscribed documents (see module doc)."""
    seen: dict[str, str] = {}
    waiting: dict[str, str] = {}
    wake = trio.Event()

    async def collect() -> None:
        with node.watch_all() as events:
            async for event in events:
                link = reply_link(event)
                if link is not None:
                    seen[link[1]] = link[0]
                elif event.kind is Kind.DOCUMENT and event.id in waiting:
                    seen[event.id] = waiting.pop(event.id)
                else:
                    continue
                wake.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect)
        while True:
            await wake.wait()
            wake = trio.Event()
            batch = dict(seen)
            seen.clear()
            ready, later = to_follow(node.reader, node.id, batch)  # a few indexed reads
            waiting.update(later)
            if ready:
                await _subscribe(node, ready)


async def _subscribe(node: Node, documents: list[str]) -> None:
    def run(author: Author, store: SQLiteStore) -> None:
        for doc in documents:
            author.subscription(doc, Action.SUBSCRIBE)

    try:
        await node.write(run)
    except CliqueError as e:  # never fatal: the next reply tries again
        log.warning("could not follow %d replies: %s", len(documents), e)
