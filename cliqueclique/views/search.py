"""The search view (SQLite FTS5 over titles and bodies) and `find`.

`doc_fts` holds the current title and body of every live document except
trie nodes (their subjects are prefixes, not content); its rowid is
`docs.rid`. An edit replaces the row. A deletion removes the row and then
merges the index (`optimize`): FTS5 deletes by appending tombstones to new
segments, so without the merge the deleted words would stay in old segments
of the file.

`find` combines filters on the views: author, the reading node's flags,
ancestry (below a document, its parents, its children), full text and
properties.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..eventlog.store import SQLiteStore
from . import projector
from .batch import TYPE_PROPERTY, Batch, execute_in, select_in
from .errors import BadQuery


def apply(batch: Batch) -> None:
    """Drop deleted documents from the index; index new and edited ones."""
    removed = _remove(batch, batch.deleted_docs)
    rows: dict[str, tuple[str, str]] = {}
    for doc_id, body in batch.new_docs.items():
        if body is not None and body.get("properties", {}).get(TYPE_PROPERTY) != "trie":
            rows[doc_id] = batch.changed.get(doc_id, (body["subject"], body["text"]))
    old = [d for d in batch.changed if d not in batch.new_docs and d not in batch.deleted_docs]
    if old:
        trie = {r[0] for r in select_in(
            batch.db, "SELECT doc FROM dir_nodes WHERE prefix != '' AND doc IN ({marks})", old)}
        old = [d for d in old if d not in trie]
        _remove(batch, old)
        rows.update((d, batch.changed[d]) for d in old)
    live = [d for d in rows if d not in batch.deleted_docs]
    rids = dict(batch.new_rids)
    rids.update(select_in(batch.db, "SELECT id, rid FROM docs WHERE id IN ({marks})", old))
    batch.db.conn.executemany("INSERT INTO doc_fts (rowid, title, body) VALUES (?,?,?)",
                              [(rids[d], *rows[d]) for d in live])
    if removed:
        batch.db.execute("INSERT INTO doc_fts (doc_fts) VALUES ('optimize')")


def _remove(batch: Batch, docs: Iterable[str]) -> int:
    """Delete the index rows of these documents; how many there were."""
    rids = [r[0] for r in select_in(batch.db, "SELECT rid FROM docs WHERE id IN ({marks})", docs)]
    held = sum(int(r[0]) for r in select_in(batch.db, "SELECT count(*) FROM doc_fts WHERE rowid IN ({marks})",
                                       rids))
    if held:
        execute_in(batch.db, "DELETE FROM doc_fts WHERE rowid IN ({marks})", rids)
    return held


# --- find ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentSummary:
    """One row of `find` results."""

    id: str
    author: str
    timestamp: int
    title: str | None
    deleted: bool
    replies: int
    subscribed: bool | None = None
    bookmarked: bool | None = None
    read: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Filters:
    """What `find` looks for; every filter given must hold.

    Flag filters (True: set, False: not set) need `node`, the reading node.
    `text` is matched word by word (each word a quoted FTS5 term; a trailing
    ``*`` makes it a prefix). `properties` must all match the document's
    current properties exactly (its own, with edits laid over them).
    """

    node: str | None = None
    author: str | None = None
    subscribed: bool | None = None
    bookmarked: bool | None = None
    unread: bool | None = None
    under: str | None = None
    parents_of: str | None = None
    children_of: str | None = None
    text: str | None = None
    properties: Mapping[str, str] | None = None
    include_deleted: bool = False
    top_level: bool = False  # only documents nothing links to (forums, not their replies)
    limit: int = 100


def fts_query(text: str) -> str:
    """A safe FTS5 query: every word quoted (so no syntax errors), all required.

    Raises:
        BadQuery: no word to search for.
    """
    terms = []
    for word in text.split():
        star = word.endswith("*")
        word = word.rstrip("*")
        if word:
            terms.append('"' + word.replace('"', '""') + '"' + ("*" if star else ""))
    if not terms:
        raise BadQuery(f"nothing to search for in {text!r}")
    return " AND ".join(terms)


_FIND = (
    "SELECT d.id, d.author, d.timestamp, d.title, d.deleted, "
    "(SELECT count(DISTINCT e.below) FROM edges e WHERE e.above = d.id), "
    "f.subscribed, f.bookmarked, coalesce(f.read, 0) OR d.author = ?1 "
    "FROM docs d LEFT JOIN local_flags f ON f.node = ?1 AND f.doc = d.id"
)
_UNDER = ("d.id IN (WITH RECURSIVE reach(id) AS (SELECT ? UNION SELECT e.below FROM edges e "
          "JOIN reach r ON e.above = r.id) SELECT id FROM reach WHERE id != ?)")


def _conditions(f: Filters) -> tuple[list[str], list[Any]]:
    where = ["NOT EXISTS (SELECT 1 FROM dir_nodes n WHERE n.doc = d.id AND n.prefix != '')"]
    params: list[Any] = []
    if not f.include_deleted:
        where.append("d.deleted = 0")
    if f.author is not None:
        where.append("d.author = ?")
        params.append(f.author)
    for column, wanted in (("f.subscribed", f.subscribed), ("f.bookmarked", f.bookmarked),
                           ("f.read", None if f.unread is None else not f.unread)):
        if wanted is not None:
            own = " OR d.author = ?1" if column == "f.read" else ""  # one's own posts are read
            where.append(f"(coalesce({column}, 0){own}) = ?")
            params.append(int(wanted))
    if f.under is not None:
        where.append(_UNDER)
        params += [f.under, f.under]
    if f.parents_of is not None:
        where.append("d.id IN (SELECT above FROM edges WHERE below = ?)")
        params.append(f.parents_of)
    if f.top_level:
        where.append("NOT EXISTS (SELECT 1 FROM edges e WHERE e.below = d.id)")
    if f.children_of is not None:
        where.append("d.id IN (SELECT below FROM edges WHERE above = ?)")
        params.append(f.children_of)
    if f.text is not None:
        where.append("d.rid IN (SELECT rowid FROM doc_fts WHERE doc_fts MATCH ?)")
        params.append(fts_query(f.text))
    for name, value in (f.properties or {}).items():
        where.append("EXISTS (SELECT 1 FROM doc_props p WHERE p.doc = d.id AND p.name = ? "
                      "AND p.value = ?)")
        params += [name, value]
    return where, params


def find(store: SQLiteStore, filters: Filters) -> list[DocumentSummary]:
    """Documents matching every filter, newest first.

    Raises:
        BadQuery: flag filters without a node, a limit below 1, or no words
            in the text filter.
    """
    wants_flags = (filters.subscribed, filters.bookmarked, filters.unread) != (None, None, None)
    if wants_flags and filters.node is None:
        raise BadQuery("subscribed/bookmarked/unread filters need the reading node")
    if filters.limit < 1:
        raise BadQuery(f"limit must be at least 1, not {filters.limit}")
    db = projector.current(store)
    where, params = _conditions(filters)
    sql = f"{_FIND} WHERE {' AND '.join(where)} ORDER BY d.timestamp DESC, d.id LIMIT ?"
    try:
        rows = db.execute(sql, [filters.node, *params, filters.limit]).fetchall()
    except sqlite3.OperationalError as e:
        raise BadQuery(f"cannot run this search: {e}") from None
    marks = filters.node is not None
    return [
        DocumentSummary(i, a, t, title, bool(deleted), replies,
                        *((bool(s), bool(b), bool(r)) if marks else (None, None, None)))
        for i, a, t, title, deleted, replies, s, b, r in rows
    ]
