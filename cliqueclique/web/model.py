"""What the pages show, read from the views (runs in the reading thread).

A thread is rendered as nested `<details>` elements (collapsible without any
script), produced from a flat, depth-first list: each post says how many
levels to close after it, so no template recursion is needed however deep a
thread goes. Nesting stops at `MAX_NEST` levels; deeper replies line up at
that level and name the post they answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from markupsafe import Markup

from ..eventlog import SQLiteStore
from ..views import DocumentSummary, Filters, ThreadEntry, find, flags, local, moderation, projector, thread
from ..views import forums as followed_forums
from ..views.batch import TYPE_PROPERTY
from .reads import Reader
from .render import markdown

MAX_NEST = 8
REACTIONS = ("👍", "❤️", "😄", "🎉", "🤔")
LIST_LIMIT = 200


@dataclass
class Reaction:
    emoji: str
    count: int
    mine: bool


@dataclass
class Post:
    """One post as the thread page shows it."""

    id: str
    status: str  # ok | deleted | missing
    author: str | None = None
    title: str | None = None
    body: Markup = field(default_factory=Markup)
    timestamp: int | None = None
    unread: bool = False
    replies: int = 0
    link: str | None = None
    parent: str | None = None
    parent_title: str | None = None
    level: int = 0
    deep: bool = False  # nested deeper than MAX_NEST: shown beside, not under, its parent
    closes: int = 0
    mine: bool = False
    can_edit: bool = False
    edited: bool = False
    reactions: list[Reaction] = field(default_factory=list)
    note: str | None = None  # this node's private note on the post
    #: hidden by moderation, a ban, a fork or this node's own block: {"by", "reason"} (None: shown)
    hidden: dict[str, str | None] | None = None


@dataclass
class ThreadPage:
    root: Post
    posts: list[Post]
    unread: int
    total: int


def _reactions(by_reaction: dict[str, list[str]], me: str) -> list[Reaction]:
    """The fixed reactions (each with its count), then any other one a post has (made elsewhere)."""
    shown = [*REACTIONS, *(r for r in by_reaction if r not in REACTIONS)]
    return [Reaction(r, len(by_reaction.get(r, ())), me in by_reaction.get(r, ())) for r in shown]


def notes(store: SQLiteStore, me: str, docs: list[str]) -> dict[str, str]:
    """This node's notes on these documents (those it has one on), in one query."""
    db = projector.current(store)
    return dict(db.execute("SELECT doc, note FROM local_flags WHERE node = ? AND note IS NOT NULL "
                           "AND doc IN (SELECT value FROM json_each(?))", [me, json.dumps(docs)]))


def make_post(reader: Reader, store: SQLiteStore, entry: ThreadEntry, me: str,
              note: str | None = None) -> Post:
    """A `Post` from a thread entry plus the document's merged state."""
    post = Post(entry.id, entry.status, entry.author, entry.title, timestamp=entry.timestamp,
                unread=bool(entry.unread), replies=entry.replies, link=entry.link, note=note,
                hidden=entry.hidden)
    if entry.status != "ok":
        post.unread = False  # nothing left to read
        return post
    state = reader.state(store, entry.id)
    if state is None or state.deleted:
        post.status, post.unread = "deleted", False
        return post
    post.title = state.title
    post.body = markdown(state.body or "")
    post.mine = state.author == me
    post.can_edit = post.mine or me in state.editors
    post.edited = state.edits > 0
    post.reactions = _reactions(state.reactions, me)
    return post


def thread_page(reader: Reader, store: SQLiteStore, root: str, me: str) -> ThreadPage:
    """The whole thread below `root`, ready for the template.

    Raises:
        NotADocument: `root` is not held here.
    """
    tree = thread(store, root, node=me)
    walk = list(tree.walk())
    noted = notes(store, me, [entry.id for _, entry, _ in walk])
    top = make_post(reader, store, tree, me, noted.get(tree.id))
    posts: list[Post] = []
    titles: dict[str, str | None] = {tree.id: top.title}
    for depth, entry, parent in walk:
        if parent is None:
            continue
        post = make_post(reader, store, entry, me, noted.get(entry.id))
        post.parent, post.parent_title = parent.id, titles.get(parent.id)
        post.level, post.deep = min(depth, MAX_NEST), depth > MAX_NEST
        titles[entry.id] = post.title
        if posts:
            previous = posts[-1]
            previous.closes = previous.level - post.level + 1 if post.level <= previous.level else 0
        posts.append(post)
    if posts:
        posts[-1].closes = posts[-1].level
    unread = sum(1 for p in [top, *posts] if p.unread and p.status == "ok")
    return ThreadPage(top, posts, unread, len(posts))


def find_post(reader: Reader, store: SQLiteStore, root: str, doc: str, me: str) -> tuple[Post, str] | None:
    """One post of the thread and the id whose reply list holds it (for live updates)."""
    tree = thread(store, root, node=me)
    path: list[str] = []
    for depth, entry, parent in tree.walk():
        del path[depth:]
        path.append(entry.id)
        if entry.id != doc:
            continue
        post = make_post(reader, store, entry, me, flags(store, me, doc).note)
        if parent is None:
            return post, ""
        post.parent = parent.id
        post.parent_title = (reader.state(store, parent.id) or _NO_STATE).title
        post.level, post.deep = min(depth, MAX_NEST), depth > MAX_NEST
        return post, path[post.level - 1]
    return None


def governance(store: SQLiteStore, doc: str, me: str) -> dict[str, object]:
    """What the moderation controls of a thread need: the forum `doc` belongs to,
    its moderation as this node honours it (None: forum not held), and this
    node's blocks. The same rules `thread` hides posts by, so buttons and
    hidden posts agree."""
    forum = moderation.forums_of(store, [doc])[doc]
    return {"forum": forum, "mod": moderation.state(store, forum, node=me),
            "blocked": local.blocked(store, me)}


class _NoState:
    title = None


_NO_STATE = _NoState()


# --- lists -----------------------------------------------------------------------------------


@dataclass
class ForumRow:
    id: str
    title: str | None  # None once deleted
    author: str
    timestamp: int  # the newest activity in the forum's thread
    replies: int
    unread: int
    bookmarked: bool = False
    deleted: bool = False


def forums(reader: Reader, store: SQLiteStore, me: str) -> list[ForumRow]:
    """The forums this node follows, most recently active first: `views.forums`, as
    `cliqueclique forums` prints it, less directories (they have their own page)."""
    db = projector.current(store)
    marked = {doc for (doc,) in db.execute("SELECT doc FROM local_flags WHERE node = ? AND bookmarked = 1",
                                           [me])}
    return [ForumRow(f.id, f.subject, f.owner, f.last_activity, f.replies, f.unread, f.id in marked,
                     f.deleted)
            for f in followed_forums(store, me) if not is_directory(reader, store, f.id)]


def bookmarks(store: SQLiteStore, me: str) -> list[DocumentSummary]:
    return find(store, Filters(node=me, bookmarked=True, limit=LIST_LIMIT))


def recent(reader: Reader, store: SQLiteStore, me: str, limit: int = 10) -> list[DocumentSummary]:
    """The newest posts this node holds, forums and replies alike."""
    return [d for d in find(store, Filters(node=me, limit=limit * 2))
            if not is_directory(reader, store, d.id)][:limit]


def directories(store: SQLiteStore) -> list[DocumentSummary]:
    return find(store, Filters(properties={TYPE_PROPERTY: "directory"}, limit=LIST_LIMIT))


def is_directory(reader: Reader, store: SQLiteStore, doc: str) -> bool:
    state = reader.state(store, doc)
    return state is not None and state.properties.get(TYPE_PROPERTY) == "directory"


def thread_root(store: SQLiteStore, doc: str) -> str:
    """The top of the thread `doc` belongs to (following first parents upwards)."""
    seen = {doc}
    while True:
        parents = find(store, Filters(parents_of=doc, limit=1, include_deleted=True))
        if not parents or parents[0].id in seen:
            return doc
        doc = parents[0].id
        seen.add(doc)
