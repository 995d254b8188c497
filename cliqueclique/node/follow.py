"""Following whole threads, one level of subscription per level of nesting.

A node subscribed to a document carries its children's networks (DESIGN.md 3,
"Children"): the replies, *and* the links to their replies, reach it. A reply
to a reply to a reply, though, travels in the second reply's network, which
only nodes subscribed to the first reply carry. So when a reply P inside a
followed thread gets replies of its own (a link P -> C reaches us), the node
subscribes to P, and the next level rides along. A flat forum costs nothing;
each reply that becomes a conversation costs one private subscription event.
This runs in every node (web UI or not), so all behave alike; an explicit
unsubscribe is left alone, since only new links trigger it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from ..errors import CliqueError
from ..eventlog import Action, Author, Event, Kind, SQLiteStore
from ..views import Filters, find, flags

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


def to_follow(store: SQLiteStore, me: str, links: dict[str, str]) -> list[str]:
    """The replies to subscribe to now: parents of new links that sit below a
    document we follow but are not followed themselves.

    Args:
        links: child -> parent for replies seen since the last call.
    """
    ready = []
    for parent in set(links.values()):
        if not store.has(parent) or flags(store, me, parent).subscribed:
            continue
        above = find(store, Filters(parents_of=parent, include_deleted=True))
        if any(flags(store, me, doc.id).subscribed for doc in above):
            ready.append(parent)
    return ready


#: Links are collected this long before they are looked at together: a node
#: catching up receives thousands a second, and each look costs a few reads on
#: the event loop, while following a second later changes nothing.
COALESCE_SECONDS = 1.0


async def follow_threads(node: Node) -> None:
    """Run until cancelled: follow replies that become conversations (see module doc)."""
    seen: dict[str, str] = {}
    wake = trio.Event()

    async def collect() -> None:
        with node.watch_all() as events:
            async for event in events:
                link = reply_link(event)
                if link is not None:
                    seen[link[1]] = link[0]
                    wake.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect)
        while True:
            await wake.wait()
            await trio.sleep(COALESCE_SECONDS)
            wake = trio.Event()
            batch = dict(seen)
            seen.clear()
            ready = to_follow(node.reader, node.id, batch)  # a few indexed reads
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
