"""The ASGI application: routes, the shared `Web` context, errors as pages.

Pages are server-rendered (Jinja2, autoescaped). Everything that touches
SQLite, templates included, runs in the reading thread (`reads.py`); what
comes from the gossip machine (network pictures, progress, links) is read on
the event loop, its only owner, before that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import CliqueError, UnknownEvent
from ..eventlog import SQLiteStore
from ..eventlog.codec import is_hex_id
from ..views.errors import NotADocument, NotAModerator
from .errors import BadForm, PageNotFound, WebError
from .options import WebOptions
from .reads import Reader
from .render import environment
from .security import CSRF_FIELD, CSRF_HEADER, check_csrf
from .switcher import Switcher

if TYPE_CHECKING:
    from ..node import Node

STATIC = Path(__file__).parent / "static"
MAX_FORM_PART = 256 * 1024  # events are at most 64 KiB; a bigger field is a mistake


@dataclass
class Web:
    """What every handler needs: the node, the reading thread, templates."""

    node: Node
    reader: Reader
    options: WebOptions
    url: str
    switcher: Switcher
    env: Environment = field(default_factory=environment)
    joining: dict[str, str] = field(default_factory=dict)  # forum -> peer, joins asked here

    async def render(self, request: Request, name: str, *, status: int = 200,
                     load: Callable[[SQLiteStore], dict[str, Any]] | None = None,
                     headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        """Render a template in the reading thread, after `load(store)` adds to its context."""
        base = {"me": self.node.id, "node_name": self.node.local.name, "request": request,
                "csrf": request.state.csrf, "path": request.url.path}

        def run(store: SQLiteStore) -> str:
            loaded = load(store) if load is not None else {}
            template = self.env.get_template(name)
            entries = self.switcher.entries()
            names = {entry.id: entry.name for entry in entries}  # local nodes go by their names
            return template.render(nodes=entries, local_names=names, **base, **context, **loaded)

        return HTMLResponse(await self.reader.run(run), status_code=status, headers=headers)


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def doc_param(request: Request, name: str = "doc") -> str:
    """A document id from the path (64 hex characters), else 404."""
    value = str(request.path_params[name]).lower()
    if not is_hex_id(value):
        raise PageNotFound(f"{value[:70]!r} is not a document id")
    return value


async def checked_form(request: Request) -> FormData:
    """The request's form, once its CSRF token is verified (Origin was checked by the Guard).

    Raises:
        CsrfTokenMissing: no token or a wrong one.
    """
    form = await request.form(max_fields=50, max_files=0, max_part_size=MAX_FORM_PART)
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    check_csrf(request.state.csrf, given if isinstance(given, str) else None)
    return form


def field_text(form: FormData, name: str, *, required: bool = True, limit: int = 60_000) -> str:
    """One text field, stripped of surrounding blank lines.

    Raises:
        BadForm: missing, empty when required, or too long.
    """
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise BadForm(f"please fill in the {name.replace('_', ' ')}")
    if len(text) > limit:
        raise BadForm(f"the {name} is too long ({len(text)} characters, at most {limit})")
    return text


def wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def done(request: Request, form: FormData, default: str, **data: Any) -> Response:
    """After an action: JSON for scripts, else a redirect (to `next` if it is ours)."""
    if wants_json(request):
        return JSONResponse({"ok": True, **data})
    target = form.get("next")
    parts = urlsplit(target) if isinstance(target, str) else None
    safe = parts is not None and not parts.scheme and not parts.netloc and parts.path.startswith("/") \
        and not parts.path.startswith("//") and "\\" not in str(target)
    return RedirectResponse(str(target) if safe else default, status_code=303)


async def error_page(request: Request, exc: Exception) -> Response:
    """Expected failures become a page (or JSON for scripts) with one clear line."""
    status = exc.status if isinstance(exc, WebError) else 400
    if isinstance(exc, NotADocument | UnknownEvent):
        status = 404
    elif isinstance(exc, NotAModerator):
        status = 403  # understood, and refused: this node may not do that here
    message = str(exc)
    if wants_json(request) or request.url.path == "/live":
        return JSONResponse({"error": message}, status_code=status)
    return await web_of(request).render(request, "error.html", status=status, message=message)


class StaticAssets:
    """The UI's few small static files, read once and served from memory.

    Not Starlette's StaticFiles: its FileResponse listens for the client's
    disconnect while it sends, and under hypercorn's trio worker that listener
    cancels the send that is closing (or recycling) the connection, so a
    connection that fetched a static file was never closed (issue 16, defect 6).
    A plain `Response` has no such listener.
    """

    TYPES: ClassVar[dict[str, str]] = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".svg": "image/svg+xml"}

    def __init__(self, directory: Path) -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.suffix in self.TYPES:
                body = path.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                self.files[path.name] = (body, self.TYPES[path.suffix], etag)

    async def respond(self, request: Request) -> Response:
        found = self.files.get(str(request.path_params["name"]))
        if found is None:
            raise PageNotFound(f"nothing at {request.url.path}")
        body, media_type, etag = found
        headers = {"etag": etag, "cache-control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)


async def not_found(request: Request, exc: Exception) -> Response:
    return await error_page(request, PageNotFound(f"nothing at {request.url.path}"))


def build_app(web: Web) -> Starlette:
    """The Starlette application of one node's web UI."""
    from . import actions, authors, live, moderating, pages

    routes = [
        Route("/", pages.home), Route("/fragment/home", pages.home_fragment),
        Route("/new", pages.new_forum), Route("/new", actions.create_forum, methods=["POST"]),
        Route("/join", actions.join, methods=["POST"]),
        Route("/t/{doc}", pages.thread_view),
        Route("/t/{root}/p/{doc}", pages.post_fragment),
        Route("/t/{root}/edit/{doc}", pages.edit_form),
        Route("/t/{root}/read", actions.read_all, methods=["POST"]),
        Route("/d/{doc}/reply", actions.reply, methods=["POST"]),
        Route("/d/{doc}/edit", actions.edit, methods=["POST"]),
        Route("/d/{doc}/delete", actions.delete, methods=["POST"]),
        Route("/d/{doc}/react", actions.react, methods=["POST"]),
        Route("/d/{doc}/note", actions.note, methods=["POST"]),
        Route("/d/{doc}/mark", actions.mark, methods=["POST"]),
        Route("/d/{doc}/network", pages.network),
        Route("/d/{doc}/hide", moderating.hide, methods=["POST"]),
        Route("/d/{doc}/unhide", moderating.unhide, methods=["POST"]),
        Route("/f/{forum}/mod", moderating.moderate_forum, methods=["POST"]),
        Route("/f/{forum}/moderation", moderating.history_page),
        Route("/blocked", moderating.blocked_page),
        Route("/a/{author}", authors.author_page),
        Route("/block", moderating.block, methods=["POST"]),
        Route("/unblock", moderating.unblock, methods=["POST"]),
        Route("/dirs", pages.directories), Route("/dirs", actions.create_directory, methods=["POST"]),
        Route("/dirs/{doc}", pages.directory), Route("/dirs/{doc}/search", pages.directory_results),
        Route("/dirs/{doc}/add", actions.add_to_directory, methods=["POST"]),
        Route("/peers", pages.peers), Route("/peers", actions.add_peer, methods=["POST"]),
        Route("/peers/{peer}/ban", actions.ban, methods=["POST"]),
        Route("/peers/{peer}/unban", actions.unban, methods=["POST"]),
        Route("/sync", pages.sync), Route("/nodes", pages.nodes),
        Route("/live", live.LiveEvents(web), methods=["GET"]),
        Route("/static/{name}", StaticAssets(STATIC).respond, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes, exception_handlers={CliqueError: error_page, 404: not_found})
    app.state.web = web
    return app
