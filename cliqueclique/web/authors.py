"""The author page, /a/{author}: what this node holds of one author, whether
this node blocked them, and, first of all, any evidence that they forked their
history (signed two versions of their chain somewhere).

The author is resolved as the CLI resolves `find --author`: a full node id, a
unique prefix of one (redirected to the full id), or a local node's name. The
documents are `find`'s, newest first; the forks are `store.forks()` and the
evidence rows of `store.equivocations()` (as `cliqueclique evidence` shows
them), kept to this author's events. Read only: nothing here changes what the
node accepts or passes on, it only shows what the gossip already decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import CliqueError
from ..eventlog import SQLiteStore
from ..eventlog.codec import decode_wire
from ..ids import resolve_node_id
from ..views import Filters, find, local
from . import model
from .app import web_of
from .errors import PageNotFound
from .reads import Reader

DOC_LIMIT = 200  # documents listed; a note says when there are more
ID_LIMIT = 200  # a node id is 64 characters; a longer one is a mistake, not a lookup


@dataclass
class AuthorDoc:
    id: str
    title: str | None
    timestamp: int
    replies: int
    thread: str  # the top of the thread it is in (itself for a forum)
    thread_title: str | None


@dataclass
class Fork:
    network: str
    seq: int
    title: str | None  # the network's document, when this node holds it
    held: bool
    conflicts: list[tuple[str, str | None]] = field(default_factory=list)  # (evidence id, conflicts with)


def author_docs(reader: Reader, store: SQLiteStore, me: str, author: str,
                limit: int = DOC_LIMIT) -> tuple[list[AuthorDoc], bool]:
    """The author's documents this node holds, newest first (at most `limit`), and
    whether there are more."""
    found = find(store, Filters(node=me, author=author, limit=limit + 1))
    roots: dict[str, str] = {}
    rows = []
    for summary in found[:limit]:
        top = model.thread_root(store, summary.id)
        if top not in roots:
            state = reader.state(store, top)
            roots[top] = (state.title if state is not None and not state.deleted else None) or ""
        rows.append(AuthorDoc(summary.id, summary.title, summary.timestamp, summary.replies, top,
                              roots[top] or None))
    return rows, len(found) > limit


def forks_of(reader: Reader, store: SQLiteStore, author: str) -> list[Fork]:
    """Every network where the evidence shows `author` signing two versions of its chain."""
    first = {network: seq for (who, network), seq in store.forks().items() if who == author}
    conflicts: dict[str, list[tuple[str, str | None]]] = {}
    for event_id, wire, other in store.equivocations():
        try:
            event = decode_wire(wire)
        except CliqueError:
            continue  # evidence that no longer decodes shows nothing; the fork table still does
        if event.author == author:
            conflicts.setdefault(event.network, []).append((event_id, other))
    out = []
    for network in sorted(first.keys() | conflicts.keys()):
        state = reader.state(store, network)
        out.append(Fork(network, first.get(network, 0), state.title if state is not None else None,
                        state is not None, conflicts.get(network, [])))
    return out


def _resolve(request: Request, text: str, store: SQLiteStore) -> str:
    return resolve_node_id(web_of(request).switcher.home, store, text)


async def author_page(request: Request) -> Response:
    """One author: fork evidence, block state, the documents held here."""
    web = web_of(request)
    me = web.node.id
    text = str(request.path_params["author"])
    if len(text) > ID_LIMIT:
        raise PageNotFound(f"{text[:70]!r}… is not a node id")
    author = await web.reader.run(lambda store: _resolve(request, text, store))
    if author != text:  # a prefix, a name, or upper case: the page has one address
        return RedirectResponse(f"/a/{author}", status_code=302)

    def load(store: SQLiteStore) -> dict[str, Any]:
        docs, more = author_docs(web.reader, store, me, author)
        return {"docs": docs, "more": more, "forks": forks_of(web.reader, store, author),
                "blocking": author in local.blocked(store, me), "limit": DOC_LIMIT}

    return await web.render(request, "author.html", load=load, author=author)
