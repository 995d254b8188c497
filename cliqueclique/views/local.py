"""The local view: each node's own flags and notes per document.

Folded from `subscription` events. They live in their author's private chain,
so they arrive in chain order on any store and the last action wins. The
view is keyed by (node, document): one home may host several local nodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..eventlog.events import Action, Event
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import projector
from .batch import Batch, select_in
from .errors import NotADocument

#: action -> (column, value) it sets
_EFFECTS: dict[str, tuple[str, int]] = {
    "subscribe": ("subscribed", 1), "unsubscribe": ("subscribed", 0),
    "bookmark": ("bookmarked", 1), "unbookmark": ("bookmarked", 0),
    "read": ("read", 1), "unread": ("read", 0),
    "block": ("blocked", 1), "unblock": ("blocked", 0),
}
_COLUMNS = ("subscribed", "bookmarked", "read", "blocked", "note")


def apply(batch: Batch) -> None:
    """Fold a batch's subscription events into `local_flags`."""
    recs = [r for r in batch.of_kind("subscription")  # ignore/heed: the moderation view's
            if r.body is not None and r.body["action"] not in ("ignore", "heed")]
    if not recs:
        return
    keys = {(r.author, r.body["document"]) for r in recs}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for node in {node for node, _ in keys}:  # by primary key: no secondary index needed
        for r in select_in(batch.db, "SELECT doc, " + ", ".join(_COLUMNS) + " FROM local_flags "
                           "WHERE node = ? AND doc IN ({marks})",
                           [doc for n, doc in keys if n == node], [node]):
            rows[(node, r[0])] = dict(zip(_COLUMNS, r[1:]))
    for rec in recs:
        flags = rows.setdefault((rec.author, rec.body["document"]), dict.fromkeys(_COLUMNS, 0))
        action = rec.body["action"]
        if action == "note":
            flags["note"] = rec.body["note"] or None
        else:
            column, value = _EFFECTS[action]
            flags[column] = value
    batch.db.conn.executemany(
        "INSERT OR REPLACE INTO local_flags (node, doc, " + ", ".join(_COLUMNS) + ") "
        "VALUES (?,?,?,?,?,?,?)",
        [(node, doc, *(flags[c] or (None if c == "note" else 0) for c in _COLUMNS))
         for (node, doc), flags in rows.items() if (node, doc) in keys])


@dataclass(frozen=True)
class Flags:
    """A node's own marks on one document."""

    subscribed: bool = False
    bookmarked: bool = False
    read: bool = False
    blocked: bool = False
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def flags(store: SQLiteStore, node: str, doc_id: str) -> Flags:
    """The marks `node` has set on a document (all off if never touched)."""
    db = projector.current(store)
    row = db.execute("SELECT " + ", ".join(_COLUMNS) + " FROM local_flags WHERE node = ? AND doc = ?",
                     [node, doc_id]).fetchone()
    if row is None:
        return Flags()
    return Flags(bool(row[0]), bool(row[1]), bool(row[2]), bool(row[3]), row[4])


def blocked(store: SQLiteStore, node: str) -> set[str]:
    """The ids (authors or documents) `node` has blocked."""
    db = projector.current(store)
    return {r[0] for r in db.execute("SELECT doc FROM local_flags WHERE node = ? AND blocked", [node])}


def mark(author: Author, store: SQLiteStore, doc_id: str, action: Action,
         note: str | None = None) -> Event:
    """Record one of the node's own decisions about a document it holds.

    Raises:
        NotADocument: the document is not held here.
    """
    db = projector.current(store)
    if db.execute("SELECT 1 FROM docs WHERE id = ?", [doc_id]).fetchone() is None:
        raise NotADocument(f"no document {doc_id} in this node's log")
    return author.subscription(doc_id, action, note if action is Action.NOTE else None)
