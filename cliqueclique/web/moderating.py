"""Forum moderation and personal blocks in the web UI: the actions (POST) and
the two pages (a forum's moderation history, this node's blocks).

Every action goes through the same functions as `cliqueclique mod ...` and
`block` / `unblock` (views.moderation), inside `node.write`, so the web
refuses exactly what the command line refuses (a non-moderator hiding, the
owner appointing itself, a bad policy, blocking oneself) before anything is
signed; the refusal is shown by the app's error page. Node ids are resolved
as the CLI resolves them: a full id, a unique prefix, or a local node's name.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ..errors import AmbiguousId, UnknownEvent
from ..eventlog import Author, ModAction, SQLiteStore
from ..eventlog.codec import MAX_REASON
from ..home import Home
from ..ids import resolve_node_id
from ..views import local, moderation, projector
from ..views.errors import NotADocument
from .app import checked_form, doc_param, done, field_text, web_of
from .errors import BadForm

#: the forum-wide actions of POST /f/{forum}/mod (hide and unhide name a post: /d/{doc}/hide)
FORUM_ACTIONS = {a.value: a for a in (ModAction.APPOINT, ModAction.DISMISS, ModAction.BAN, ModAction.UNBAN,
                                      ModAction.APPROVE, ModAction.REVOKE, ModAction.POLICY)}
TARGET_LIMIT = 200  # a node id is 64 characters, a policy a dozen; more is a mistake


def _reason(form: FormData) -> str | None:
    return field_text(form, "reason", required=False, limit=MAX_REASON) or None


def _target(form: FormData, what: str) -> str:
    text = field_text(form, "target", required=False, limit=TARGET_LIMIT)
    if not text:
        raise BadForm(f"please give {what}")
    return text


def node_id(home: Home, store: SQLiteStore, text: str) -> str:
    """A full node id from what the user typed, as the CLI resolves it.

    Raises:
        BadForm: no such node, or a prefix that matches several (a form's
            mistake, not a missing page, so not UnknownEvent's 404).
    """
    try:
        return resolve_node_id(home, store, text)
    except (UnknownEvent, AmbiguousId) as e:
        raise BadForm(str(e)) from e


async def moderate_forum(request: Request) -> Response:
    """Appoint or dismiss a moderator, ban or unban an author, approve or revoke
    a member, or set the posting policy (`action`, `target`, optional `reason`)."""
    form = await checked_form(request)
    web = web_of(request)
    forum = doc_param(request, "forum")
    action = FORUM_ACTIONS.get(str(form.get("action")))
    if action is None:
        raise BadForm("unknown moderation action")
    policy = action is ModAction.POLICY
    text = _target(form, "a policy: open, members or pow:BITS" if policy
                   else "a node id (or a unique prefix of one, or a local node's name)")
    reason = _reason(form)
    home = web.switcher.home

    def run(author: Author, store: SQLiteStore) -> str:
        target = text.lower() if policy else node_id(home, store, text)
        return moderation.moderate(author, store, forum, action, target, reason).id

    event = await web.node.write(run)
    return done(request, form, f"/t/{forum}", id=event)


async def _post_action(request: Request, action: ModAction) -> Response:
    form = await checked_form(request)
    web = web_of(request)
    doc = doc_param(request)
    reason = _reason(form) if action is ModAction.HIDE else None

    def run(author: Author, store: SQLiteStore) -> str:
        # The post's forum, found as `mod hide` finds it: the moderators of that forum decide.
        forum = moderation.forums_of(store, [doc])[doc]
        return moderation.moderate(author, store, forum, action, doc, reason).id

    event = await web.node.write(run)
    root = form.get("root")
    default = f"/t/{root}#d-{doc}" if isinstance(root, str) and len(root) == 64 else f"/t/{doc}"
    return done(request, form, default, id=event)


async def hide(request: Request) -> Response:
    """Hide a post from every node that honours this forum's moderators."""
    return await _post_action(request, ModAction.HIDE)


async def unhide(request: Request) -> Response:
    return await _post_action(request, ModAction.UNHIDE)


async def _block(request: Request, block: bool) -> Response:
    form = await checked_form(request)
    web = web_of(request)
    text = field_text(form, "author", required=False, limit=TARGET_LIMIT)
    if not text:
        raise BadForm("please give the author to " + ("block" if block else "unblock"))
    home = web.switcher.home

    def run(author: Author, store: SQLiteStore) -> str:
        target = node_id(home, store, text)
        moderation.set_blocked(author, store, target, block)
        return target

    target = await web.node.write(run)
    return done(request, form, "/blocked", author=target, blocked=block)


async def block(request: Request) -> Response:
    """Block an author on this node only: their posts are hidden here, nothing more is kept."""
    return await _block(request, True)


async def unblock(request: Request) -> Response:
    return await _block(request, False)


# --- pages ---------------------------------------------------------------------------------


async def blocked_page(request: Request) -> Response:
    """The authors (and documents) this node blocked, each with an unblock button."""
    web = web_of(request)
    me = web.node.id

    def load(store: SQLiteStore) -> dict[str, Any]:
        db = projector.current(store)
        rows = []
        for target in sorted(local.blocked(store, me)):
            held = db.execute("SELECT count(*) FROM docs WHERE author = ?", [target]).fetchone()[0]
            state = web.reader.state(store, target)  # a blocked document, rather than an author
            rows.append({"id": target, "held": held, "title": state.title if state else None,
                         "document": state is not None})
        return {"rows": rows}

    return await web.render(request, "blocked.html", load=load, nav="blocked")


async def history_page(request: Request) -> Response:
    """A forum's whole moderation history, like `cliqueclique mod log FORUM`:
    who did what, when and why, and whether it counts here."""
    web = web_of(request)
    me = web.node.id
    forum = doc_param(request, "forum")

    def load(store: SQLiteStore) -> dict[str, Any]:
        current = moderation.state(store, forum, node=me)
        if current is None:
            raise NotADocument(f"no document {forum} in this node's log")
        state = web.reader.state(store, forum)
        return {"mod": current, "events": moderation.history(store, forum),
                "ignored": moderation.ignored(store, me, forum),
                "title": state.title if state else None}

    return await web.render(request, "mod_log.html", load=load, forum=forum)
