"""The threads view: reply edges between documents, and thread trees.

A `link` parent -> child means, by direction:

- `natural`: the child is a reply to the parent;
- `reversed`: the parent answers or annotates the child (a back-reference),
  so in the child's thread the parent shows up as a reply.

The `edges` table stores both as `above` (replied to) -> `below` (reply).
Deleting a link removes its edge; deleting a document keeps its edges, so the
thread shows a hidden entry where it was and its replies stay reachable.

A thread is the tree of everything reachable below a root. A document reached
along several paths (a cross-reference) is placed once, under the first parent
a breadth-first walk meets (children ordered by time, then id), so the tree
is the same on every node that holds the same events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..eventlog import Event
from ..eventlog.store import SQLiteStore
from . import local, moderation, projector
from .batch import Batch, execute_in, select_in
from .errors import NotADocument


def apply(batch: Batch) -> None:
    """Fold a batch's links and link deletions into `edges`."""
    rows = []
    for rec in batch.of_kind("link"):
        body = rec.body
        if body is None:
            continue
        natural = body["direction"] == "natural"
        above, below = (body["parent"], body["child"]) if natural else (body["child"], body["parent"])
        rows.append((rec.id, above, below, body["direction"], rec.author, rec.timestamp))
    batch.db.conn.executemany(
        "INSERT INTO edges (link, above, below, direction, author, timestamp) VALUES (?,?,?,?,?,?)",
        rows)
    if batch.deleted_links:
        execute_in(batch.db, "DELETE FROM edges WHERE link IN ({marks})", batch.deleted_links)


@dataclass
class ThreadEntry:
    """One document in a thread tree.

    `status` is "ok", "deleted" (a hidden entry: the author retracted it) or
    "missing" (a link names it but this node does not hold it yet). `unread`
    is None when the tree was built without a reading node; a node's own
    posts count as read.
    """

    id: str
    status: str
    author: str | None = None
    title: str | None = None
    timestamp: int | None = None
    unread: bool | None = None
    replies: int = 0
    link: str | None = None
    direction: str | None = None
    #: hidden by moderation or by the reader's own block: who and why (None: shown)
    hidden: dict[str, Any] | None = None
    children: list[ThreadEntry] = field(default_factory=list)

    def walk(self) -> Iterator[tuple[int, ThreadEntry, ThreadEntry | None]]:
        """(depth, entry, parent) for the whole tree, depth first, without recursion."""
        stack: list[tuple[int, ThreadEntry, ThreadEntry | None]] = [(0, self, None)]
        while stack:
            depth, entry, parent = stack.pop()
            yield depth, entry, parent
            stack.extend((depth + 1, child, entry) for child in reversed(entry.children))

    def count(self) -> int:
        return sum(1 for _ in self.walk())

    def to_json(self) -> dict[str, Any]:
        """A flat JSON form (any depth serialises): entries in display order."""
        entries = []
        for depth, entry, parent in self.walk():
            entries.append({
                "id": entry.id, "parent": parent.id if parent else None, "depth": depth,
                "status": entry.status, "author": entry.author, "title": entry.title,
                "timestamp": entry.timestamp, "unread": entry.unread, "replies": entry.replies,
                "link": entry.link, "direction": entry.direction, "hidden": entry.hidden,
            })
        return {"root": self.id, "entries": entries}


_DOC = ("SELECT d.id, d.author, d.title, d.timestamp, d.deleted, coalesce(f.read, 0) OR d.author = ?1 "
        "FROM docs d LEFT JOIN local_flags f ON f.node = ?1 AND f.doc = d.id WHERE d.id = ?2")
#: one level down: every edge below the frontier, with the reply's document (if held)
_LEVEL = ("SELECT e.above, e.below, e.link, e.direction, e.timestamp, d.author, d.title, "
          "d.timestamp, d.deleted, coalesce(f.read, 0) OR d.author = ? FROM edges e "
          "LEFT JOIN docs d ON d.id = e.below LEFT JOIN local_flags f ON f.node = ? AND f.doc = e.below "
          "WHERE e.above IN ({marks})")


def thread(store: SQLiteStore, root: str, *, node: str | None = None) -> ThreadEntry:
    """The tree of replies below `root`.

    Args:
        store: a store with the views attached.
        root: the document id at the top.
        node: the reading node, for unread marks (None: no marks).

    Raises:
        NotADocument: `root` is not a document held here.
    """
    db = projector.current(store)
    row = db.execute(_DOC, [node, root]).fetchone()
    if row is None:
        raise NotADocument(f"no document {root} in this node's log")
    marks = node is not None
    top = _entry(tuple(row), marks)
    placed = {root}
    frontier = [top]
    while frontier:  # breadth first, one query per level
        below: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for edge in select_in(db, _LEVEL, [e.id for e in frontier], [node, node]):
            below[edge[0]].append(edge)
        frontier = _place(frontier, below, placed, marks)
    _mark_hidden(store, top, node)
    return top


def _mark_hidden(store: SQLiteStore, top: ThreadEntry, node: str | None) -> None:
    """Set `hidden` on entries the forum's moderation (as `node` honours it) hides,
    those of banned authors, and those of authors `node` blocked."""
    forum = moderation.forums_of(store, [top.id])[top.id]
    state = moderation.state(store, forum, node=node)
    blocked = local.blocked(store, node) if node else set()
    forks = store.forks()
    for _, entry, _ in top.walk():
        if entry.author is None:
            continue
        if forks and entry.link is not None and _forked(store.get(entry.link), forks):
            # The same everywhere: whichever twin a node holds, it hides it.
            entry.hidden = {"by": entry.author, "reason": "forked: its author signed two versions"}
        elif entry.author in blocked or entry.id in blocked:
            entry.hidden = {"by": node, "reason": "blocked"}
        elif state is not None:
            verdict = state.hidden.get(entry.id) or state.ban_of(entry.author)
            if verdict is not None:
                entry.hidden = verdict.to_json()


def _forked(link: Event | None, forks: dict[tuple[str, str], int]) -> bool:
    """True for a link at or after the place where its author forked its chain."""
    if link is None:
        return False
    seq = forks.get((link.author, link.network))
    return seq is not None and link.seq >= seq


def _entry(row: tuple[Any, ...], marks: bool) -> ThreadEntry:
    doc_id, author, title, timestamp, deleted, read = row
    if author is None:
        return ThreadEntry(doc_id, "missing")
    status = "deleted" if deleted else "ok"
    unread = (not read) if marks else None  # `read` already counts the node's own posts
    return ThreadEntry(doc_id, status, author, None if deleted else title, timestamp, unread)


def _place(frontier: list[ThreadEntry], below: dict[str, list[tuple[Any, ...]]], placed: set[str],
           marks: bool) -> list[ThreadEntry]:
    """Attach each frontier entry's replies not placed yet; return them (the next level)."""
    following = []
    for entry in frontier:
        edges = below.get(entry.id, [])
        entry.replies = len({edge[1] for edge in edges})
        # by the reply's time (the link's if the reply is not held), then ids
        edges.sort(key=lambda edge: (edge[7] if edge[5] is not None else edge[4], edge[1], edge[2]))
        for _, child, link, direction, _, *doc in edges:
            if child in placed:
                continue
            placed.add(child)
            node = _entry((child, *doc), marks)
            node.link, node.direction = link, direction
            entry.children.append(node)
            following.append(node)
    return following
