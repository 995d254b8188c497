"""The actions (POST): each checks the CSRF token first (`checked_form`), then calls the node.

What an action appends goes through `node.write` / `node.post`, so it is
committed by the node's writer and replicated like anything else; scripts
get JSON back, plain forms a redirect.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ..eventlog import Action, Author, SQLiteStore
from ..eventlog.codec import is_hex_id
from ..invite import parse_invite
from ..net import parse_address
from ..views import BatchSigner, Change, add_entries, add_entry, edit_document, reactions, retract
from ..views import create_directory as new_directory
from ..views import mark as mark_document
from ..views import react as react_to
from ..views.errors import NothingToEdit
from . import model
from .app import checked_form, doc_param, done, field_text, web_of
from .errors import BadForm

MARKS = {a.value: a for a in (Action.SUBSCRIBE, Action.UNSUBSCRIBE, Action.BOOKMARK,
                              Action.UNBOOKMARK, Action.READ, Action.UNREAD)}
SUBJECT_LIMIT = 300
NOTE_LIMIT = 4000


def subject_text(form: FormData, name: str = "subject") -> str:
    """A required subject (or title), refused in the CLI's words when blank.

    Raises:
        BadForm: blank or too long.
    """
    subject = field_text(form, name, required=False, limit=SUBJECT_LIMIT)
    if not subject:
        raise BadForm("a subject is required")
    return subject


async def create_forum(request: Request) -> Response:
    """Start a new forum (a root document this node subscribes to)."""
    form = await checked_form(request)
    subject = subject_text(form)
    event = await web_of(request).node.post(subject, field_text(form, "body", required=False))
    return done(request, form, f"/t/{event.id}", id=event.id)


async def join(request: Request) -> Response:
    """Join a forum by invite: the node dials the peer and fetches the forum."""
    form = await checked_form(request)
    web = web_of(request)
    invite = parse_invite(field_text(form, "invite", limit=4000))
    await web.node.join(invite)
    web.joining[invite.document] = invite.peer
    return done(request, form, "/", id=invite.document)


async def reply(request: Request) -> Response:
    """Reply to any post; the reply lands in the thread shown (`root`)."""
    form = await checked_form(request)
    web = web_of(request)
    parent = doc_param(request)
    body = field_text(form, "body")
    subject = field_text(form, "subject", required=False, limit=SUBJECT_LIMIT)
    if not subject:
        state = await web.reader.run(lambda store: web.reader.state(store, parent))
        title = (state.title if state else None) or "a post"
        subject = title if title.lower().startswith("re:") else f"Re: {title}"
    event = await web.node.post(subject[:SUBJECT_LIMIT], body, parent=parent)
    root = _root(form, parent)
    return done(request, form, f"/t/{root}#d-{event.id}", id=event.id)


def _root(form: object, fallback: str) -> str:
    value = form.get("root") if hasattr(form, "get") else None
    return value if isinstance(value, str) and is_hex_id(value) else fallback


async def edit(request: Request) -> Response:
    """Change the title and body of one's own post (a CRDT edit)."""
    form = await checked_form(request)
    doc = doc_param(request)
    change = Change(body=field_text(form, "body", required=False),
                    title=subject_text(form, "title"))

    def run(author: Author, store: SQLiteStore) -> None:
        try:
            edit_document(author, store, doc, change)
        except NothingToEdit:
            pass  # saving an unchanged form is not an error

    await web_of(request).node.write(run)
    return done(request, form, f"/t/{_root(form, doc)}#d-{doc}")


async def delete(request: Request) -> Response:
    """Retract one's own post: its content is purged everywhere it travels."""
    form = await checked_form(request)
    doc = doc_param(request)
    await web_of(request).node.write(lambda author, store: retract(author, store, doc))
    root = _root(form, doc)
    return done(request, form, "/" if root == doc else f"/t/{root}#d-{doc}")


async def react(request: Request) -> Response:
    """Toggle this node's reaction on a post: any reader may react (reactions are not edits).

    The reaction is one of the fixed ones, or one the post already has (made elsewhere).
    """
    form = await checked_form(request)
    web = web_of(request)
    doc = doc_param(request)
    emoji = form.get("reaction")
    if not isinstance(emoji, str):
        raise BadForm("unknown reaction")

    def run(author: Author, store: SQLiteStore) -> bool:
        current = reactions(store, doc)
        if emoji not in model.REACTIONS and emoji not in current:
            raise BadForm("unknown reaction")
        on = author.id not in current.get(emoji, ())
        react_to(author, store, doc, emoji, on)
        return on

    on = await web.node.write(run)
    web.reader.invalidate(doc)  # the page shown next must count it
    return done(request, form, f"/t/{_root(form, doc)}#d-{doc}", on=on)


async def note(request: Request) -> Response:
    """Set (or, with an empty text, clear) this node's private note on a post."""
    form = await checked_form(request)
    doc = doc_param(request)
    text = field_text(form, "note", required=False, limit=NOTE_LIMIT)
    await web_of(request).node.write(
        lambda author, store: mark_document(author, store, doc, Action.NOTE, text))
    return done(request, form, f"/t/{_root(form, doc)}#d-{doc}")


async def mark(request: Request) -> Response:
    """Subscribe, bookmark, mark read (and their opposites)."""
    form = await checked_form(request)
    doc = doc_param(request)
    action = MARKS.get(str(form.get("action")))
    if action is None:
        raise BadForm("unknown action")
    await web_of(request).node.write(lambda author, store: mark_document(author, store, doc, action))
    return done(request, form, f"/t/{doc}")


async def read_all(request: Request) -> Response:
    """Mark every unread post of a thread read."""
    form = await checked_form(request)
    web = web_of(request)
    root = doc_param(request, "root")

    def unread(store: SQLiteStore) -> list[str]:
        page = model.thread_page(web.reader, store, root, web.node.id)
        return [p.id for p in [page.root, *page.posts] if p.unread and p.status == "ok"]

    ids = await web.reader.run(unread)
    if ids:
        await web.node.write(lambda author, store: [author.subscription(d, Action.READ) for d in ids])
    return done(request, form, f"/t/{root}", marked=len(ids))


async def create_directory(request: Request) -> Response:
    """A new, empty directory (searchable by subject prefix)."""
    form = await checked_form(request)
    web = web_of(request)
    name = field_text(form, "name", limit=SUBJECT_LIMIT)
    event = await web.node.write(
        lambda author, store: new_directory(BatchSigner(web.node.key, store), store, name))
    return done(request, form, f"/dirs/{event.id}", id=event.id)


async def add_to_directory(request: Request) -> Response:
    """Add a new document (subject and text) to a directory."""
    form = await checked_form(request)
    web = web_of(request)
    directory = doc_param(request)
    subject = subject_text(form)
    body = field_text(form, "body", required=False)

    def run(author: Author, store: SQLiteStore) -> str:
        add_entries(web.node.key, store, directory, ())  # refuses a non-directory before any write
        document = author.document(subject, body)
        add_entry(web.node.key, store, directory, document.id)
        return document.id

    doc = await web.node.write(run)
    return done(request, form, f"/dirs/{directory}?prefix={subject[:3]}", id=doc)


async def add_peer(request: Request) -> Response:
    """Connect to a peer: an address and its node id, or an invite."""
    form = await checked_form(request)
    web = web_of(request)
    address = field_text(form, "address", limit=4000)
    if address.startswith("cq:"):
        invite = parse_invite(address)
        peer, addresses = invite.peer, [str(a) for a in invite.addresses]
    else:
        peer, addresses = field_text(form, "peer").lower(), [str(parse_address(address))]
        if not is_hex_id(peer):
            raise BadForm("a node id is 64 hexadecimal characters")
    for text in addresses:
        await web.node.connect(text, peer)
    return done(request, form, "/peers", id=peer)


def _peer(request: Request) -> str:
    peer = str(request.path_params["peer"]).lower()
    if not is_hex_id(peer):
        raise BadForm("a node id is 64 hexadecimal characters")
    return peer


async def ban(request: Request) -> Response:
    """Cut a peer off and refuse it from now on."""
    form = await checked_form(request)
    web_of(request).node.ban(_peer(request))
    return done(request, form, "/peers")


async def unban(request: Request) -> Response:
    """Lift a ban; the node dials the peer again."""
    form = await checked_form(request)
    web_of(request).node.state.update_peer(_peer(request), state="known", banned_until=None,
                                           ban_reason=None)
    return done(request, form, "/peers")
