"""Retracting documents and links, and pruning the trie paths they leave empty.

The log purges a deleted document's content and the views drop every copy
they hold. A directory entry leaves one more trace: its subject's prefixes
are the subjects of the trie documents that lead to it. When the author of
the entry also authored those trie documents (the usual case: you add your
own documents), `retract` deletes the ones left with no live document below
them, from the entry upwards, so the subject disappears from them too, and
its own links to them, so searches stop reading the tombstones. Trie
documents and links other nodes made can only be retracted by those nodes.
"""

from __future__ import annotations

from ..eventlog.events import Event
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import projector
from .errors import DocumentDeleted, NotADocument


def retract(author: Author, store: SQLiteStore, event_id: str) -> list[Event]:
    """Sign and append the deletion of a document or link (and of emptied trie nodes).

    Returns:
        The deletion events appended, the requested one first.

    Raises:
        NotADocument: the id is neither a document nor a link held here.
        DocumentDeleted: it is already deleted.
        Unauthorized: (from the log) it is someone else's.
    """
    db = projector.current(store)
    target = store.get(event_id)
    if target is None or target.kind.value not in ("document", "link"):
        raise NotADocument(f"{event_id} is neither a document nor a link held here")
    if db.execute("SELECT 1 FROM events WHERE kind = 'deletion' AND ref = ? AND network = ?",
                  [target.id, target.network]).fetchone():
        raise DocumentDeleted(f"{target.kind.value} {target.id[:16]} is already deleted")
    events = [author.delete(target.id, target.network)]
    if target.kind.value == "document":
        parents = _trie_parents(store, target.id)
        events += _unlink(author, store, target.id)
        for node in parents:
            events += _prune(author, store, node)
    return events


def _trie_parents(store: SQLiteStore, doc_id: str) -> list[str]:
    return [r[0] for r in store.db.execute(
        "SELECT DISTINCT e.above FROM edges e JOIN dir_nodes n ON n.doc = e.above "
        "WHERE e.below = ? AND n.prefix != '' ORDER BY e.above", [doc_id])]


def _prune(author: Author, store: SQLiteStore, node: str) -> list[Event]:
    """Delete `node` and its trie ancestors while they are ours and hold nothing live."""
    events: list[Event] = []
    while _prunable(author, store, node):
        parents = _trie_parents(store, node)
        events += _unlink(author, store, node)
        events.append(author.delete(node, node))
        if not parents:
            break
        node = parents[0]
    return events


def _unlink(author: Author, store: SQLiteStore, doc_id: str) -> list[Event]:
    """Delete our links from trie nodes to `doc_id`, so searches stop reading it."""
    rows = store.db.execute(
        "SELECT e.link, e.above FROM edges e JOIN dir_nodes n ON n.doc = e.above "
        "WHERE e.below = ? AND n.prefix != '' AND e.author = ? ORDER BY e.link",
        [doc_id, author.id]).fetchall()
    return [author.delete(link, above) for link, above in rows]


def _prunable(author: Author, store: SQLiteStore, node: str) -> bool:
    row = store.db.execute("SELECT author, deleted FROM docs WHERE id = ?", [node]).fetchone()
    if row is None or row[0] != author.id or row[1]:
        return False
    # A child we do not hold (author IS NULL) may be live: keep the node for it.
    live = store.db.execute(
        "SELECT 1 FROM edges e LEFT JOIN docs d ON d.id = e.below "
        "WHERE e.above = ? AND (d.deleted IS NULL OR d.deleted = 0) LIMIT 1", [node]).fetchone()
    return live is None
