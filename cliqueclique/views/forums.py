"""`forums`: the forums a node follows, each with a summary of its thread.

A forum is a top-level document (nothing links to it, as for
`find(top_level=True)`; trie nodes are not forums) that the node subscribes
to. Its thread is everything reachable below it along the reply edges (see
`threads.py`), each document counted once however many paths lead to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..eventlog.store import SQLiteStore
from . import projector


@dataclass(frozen=True)
class ForumSummary:
    """One forum as a list shows it.

    `replies` counts the held, live documents below the root (all depths);
    `unread` those and the root itself that the node has not read (its own
    posts count as read); `last_activity` is the newest timestamp (ms) of a
    held document in the thread, the root included.
    """

    id: str
    subject: str | None  # the current title; None once deleted
    owner: str
    replies: int
    unread: int
    last_activity: int
    deleted: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# One walk for every forum at once: `reach` pairs each root with what lies below
# it, and UNION (not UNION ALL) drops repeats, so cross-links and cycles end.
_FORUMS = """
WITH RECURSIVE
forums(id) AS (
    SELECT f.doc FROM local_flags f
    WHERE f.node = ?1 AND f.subscribed = 1
      AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.below = f.doc)
      AND NOT EXISTS (SELECT 1 FROM dir_nodes n WHERE n.doc = f.doc AND n.prefix != '')),
reach(root, id) AS (
    SELECT id, id FROM forums
    UNION
    SELECT r.root, e.below FROM reach r JOIN edges e ON e.above = r.id)
SELECT r.root, root.title, root.author, root.deleted,
       count(*) FILTER (WHERE r.id != r.root AND d.deleted = 0),
       count(*) FILTER (WHERE d.deleted = 0 AND NOT (coalesce(f.read, 0) OR d.author = ?1)),
       max(d.timestamp)
FROM reach r
JOIN docs d ON d.id = r.id
JOIN docs root ON root.id = r.root
LEFT JOIN local_flags f ON f.node = ?1 AND f.doc = r.id
GROUP BY r.root
"""


def forums(store: SQLiteStore, node_id: str) -> list[ForumSummary]:
    """The forums `node_id` subscribes to, most recently active first."""
    db = projector.current(store)
    found = [ForumSummary(root, None if deleted else title, owner, replies, unread, last, bool(deleted))
             for root, title, owner, deleted, replies, unread, last in db.execute(_FORUMS, [node_id])]
    return sorted(found, key=lambda forum: (-forum.last_activity, forum.id))
