"""The pages (GET): home, thread, post fragments, network, directories, peers, sync, nodes."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..errors import NodeError
from ..eventlog import SQLiteStore
from ..views import Filters, find, flags, search_directory
from ..views.errors import NotADocument
from . import model
from .app import doc_param, web_of
from .errors import PageNotFound
from .netpicture import layout, snapshot


def _home_data(request: Request) -> Any:
    web = web_of(request)
    me = web.node.id
    pending = dict(web.joining)
    pending.update({doc: peer for doc, peer, _ in web.node.state.pending_joins()})

    def load(store: SQLiteStore) -> dict[str, Any]:
        for doc in list(pending):
            if web.reader.state(store, doc) is not None:
                pending.pop(doc)
                web.joining.pop(doc, None)
        return {"forums": model.forums(web.reader, store, me), "bookmarks": model.bookmarks(store, me),
                "recent": model.recent(web.reader, store, me), "joining": pending}
    return load


async def home(request: Request) -> Response:
    """My forums, bookmarks, recent posts, the join box."""
    return await web_of(request).render(request, "home.html", load=_home_data(request), nav="home",
                                        live=True)


async def home_fragment(request: Request) -> Response:
    """The home page's lists alone (refreshed live)."""
    return await web_of(request).render(request, "home_lists.html", load=_home_data(request))


async def new_forum(request: Request) -> Response:
    return await web_of(request).render(request, "new.html", nav="new")


def _invite(request: Request, doc: str) -> str | None:
    try:
        return str(web_of(request).node.invite(doc))
    except NodeError:
        return None


async def thread_view(request: Request) -> Response:
    """A thread: the post at the top and every reply below it, nested."""
    web = web_of(request)
    root = doc_param(request)
    me = web.node.id

    def load(store: SQLiteStore) -> dict[str, Any]:
        page = model.thread_page(web.reader, store, root, me)
        parents = find(store, Filters(parents_of=root, limit=1, include_deleted=True))
        return {"page": page, "flags": flags(store, me, root),
                "parent": parents[0] if parents else None,
                "top": model.thread_root(store, root) if parents else root,
                **model.governance(store, root, me)}

    return await web.render(request, "thread.html", load=load, root=root, invite=_invite(request, root),
                            reply_to=request.query_params.get("reply"), live=True)


async def post_fragment(request: Request) -> Response:
    """One post (for live updates): its HTML, and in `X-Container` where it belongs."""
    web = web_of(request)
    root, doc = doc_param(request, "root"), doc_param(request)
    found = await web.reader.run(lambda store: model.find_post(web.reader, store, root, doc, web.node.id))
    if found is None:
        raise PageNotFound(f"{doc[:16]} is not in the thread of {root[:16]}")
    post, container = found
    return await web.render(request, "post_fragment.html", root=root, post=post,
                            load=lambda store: model.governance(store, root, web.node.id),
                            headers={"X-Container": container})


async def edit_form(request: Request) -> Response:
    web = web_of(request)
    root, doc = doc_param(request, "root"), doc_param(request)

    def load(store: SQLiteStore) -> dict[str, Any]:
        state = web.reader.state(store, doc)
        if state is None or state.deleted:
            raise NotADocument(f"no document {doc} to edit here")
        return {"state": state}

    return await web.render(request, "edit.html", load=load, root=root, doc=doc)


async def network(request: Request) -> Response:
    """A picture of the document's network (SVG), from this node's point of view."""
    web = web_of(request)
    doc = doc_param(request)
    picture = snapshot(web.node.gossip, web.node.id, doc)
    if picture is not None:
        layout(picture)
    fragment = request.query_params.get("fragment") == "1"

    def load(store: SQLiteStore) -> dict[str, Any]:
        state = web.reader.state(store, doc)
        return {"state": state, "top": model.thread_root(store, doc) if state else doc}

    return await web.render(request, "network_svg.html" if fragment else "network.html", load=load,
                            doc=doc, picture=picture)


async def directories(request: Request) -> Response:
    web = web_of(request)
    return await web.render(request, "directories.html", nav="dirs",
                            load=lambda store: {"directories": model.directories(store)})


def _search(request: Request, doc: str) -> Any:
    web = web_of(request)
    prefix = request.query_params.get("prefix", "")[:200]

    def load(store: SQLiteStore) -> dict[str, Any]:
        state = web.reader.state(store, doc)
        result = search_directory(store, doc, prefix) if prefix.strip() else None
        return {"state": state, "prefix": prefix, "result": result}
    return load


async def directory(request: Request) -> Response:
    """A directory: search its entries by subject prefix, add to it."""
    doc = doc_param(request)
    return await web_of(request).render(request, "directory.html", load=_search(request, doc),
                                        doc=doc, nav="dirs")


async def directory_results(request: Request) -> Response:
    doc = doc_param(request)
    return await web_of(request).render(request, "directory_results.html", load=_search(request, doc),
                                        doc=doc)


async def peers(request: Request) -> Response:
    """Known peers, their state, and the forms to add or ban one."""
    web = web_of(request)
    node, now = web.node, time.time()
    rows = []
    for peer in node.state.peers():
        state = "connected" if peer.id in node.links else "banned" if peer.banned(now) else "known"
        rows.append({"peer": peer, "state": state})
    template = "peers_table.html" if request.query_params.get("fragment") == "1" else "peers.html"
    return await web.render(request, template, nav="peers", rows=rows,
                            addresses=[str(a) for a in node.addresses], now=now)


async def sync(request: Request) -> Response:
    """Replication progress of each forum this node follows, with a bar per peer."""
    web = web_of(request)
    me = web.node.id
    forums = await web.reader.run(lambda store: model.forums(web.reader, store, me))
    progress = {f.id: web.node.gossip.progress(f.id) for f in forums}
    template = "sync_body.html" if request.query_params.get("fragment") == "1" else "sync.html"
    return await web.render(request, template, nav="sync", forums=forums, progress=progress,
                            connected=sorted(web.node.links), held=len(web.node.gossip.held_documents()))


async def nodes(request: Request) -> HTMLResponse:
    return await web_of(request).render(request, "nodes.html", nav="nodes")
