"""The reactions view: which nodes currently have which reaction on a document.

A `reaction` event turns one node's reaction (a short label: "+1", an emoji)
to the document of its network on or off. What counts, per (document, node,
reaction), is that node's latest such event: the highest seq of its chain in
the document's network. The log delivers a chain in seq order, so the view
keeps one row per key and replaces it only with a higher seq, and every node
ends with the same rows whatever order the chains interleaved in. Rows that
were turned off stay (with their seq), so an old event can never bring a
retracted reaction back. A document's deletion drops its rows.
"""

from __future__ import annotations

from ..eventlog.codec import MAX_REACTION
from ..eventlog.events import Event
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import projector
from .batch import Batch, execute_in
from .errors import BadReaction, DocumentDeleted, NotADocument


def apply(batch: Batch) -> None:
    """Fold a batch's reaction events into `reactions`."""
    latest: dict[tuple[str, str, str], tuple[int, int]] = {}
    for rec in batch.of_kind("reaction"):
        if rec.body is None:
            continue
        key = (rec.network, rec.author, rec.body["reaction"])
        if key not in latest or rec.seq > latest[key][0]:
            latest[key] = (rec.seq, int(rec.body["on"]))
    batch.db.conn.executemany(
        "INSERT INTO reactions (doc, node, reaction, seq, active) VALUES (?,?,?,?,?) "
        "ON CONFLICT (doc, node, reaction) DO UPDATE SET seq = excluded.seq, active = excluded.active "
        "WHERE excluded.seq > reactions.seq",
        [(*key, seq, active) for key, (seq, active) in latest.items()])
    if batch.deleted_docs:
        execute_in(batch.db, "DELETE FROM reactions WHERE doc IN ({marks})", batch.deleted_docs)


def reactions(store: SQLiteStore, document_id: str) -> dict[str, list[str]]:
    """reaction -> the sorted ids of the nodes that have it on, most used first
    (then by label); empty for a deleted document.

    Raises:
        NotADocument: no document with this id is held.
    """
    db = projector.current(store)
    if db.execute("SELECT 1 FROM docs WHERE id = ?", [document_id]).fetchone() is None:
        raise NotADocument(f"no document {document_id} in this node's log")
    found: dict[str, list[str]] = {}
    for reaction, node in db.execute("SELECT reaction, node FROM reactions WHERE doc = ? AND active = 1 "
                                     "ORDER BY reaction, node", [document_id]):
        found.setdefault(reaction, []).append(node)
    return dict(sorted(found.items(), key=lambda item: (-len(item[1]), item[0])))


def react(author: Author, store: SQLiteStore, document: str, reaction: str, on: bool = True) -> Event:
    """Sign and append one's reaction to a document held here (`on=False` retracts it).

    Raises:
        NotADocument, DocumentDeleted: no live document with this id.
        BadReaction: the label is empty, only whitespace or too long.
    """
    if not isinstance(reaction, str) or not 0 < len(reaction) <= MAX_REACTION or reaction.isspace():
        raise BadReaction(f"a reaction is 1-{MAX_REACTION} characters, not only whitespace, "
                          f"not {reaction!r}")
    db = projector.current(store)
    row = db.execute("SELECT deleted, subject FROM docs WHERE id = ?", [document]).fetchone()
    if row is None:
        raise NotADocument(f"no document {document} in this node's log")
    if row[0] or row[1] is None:
        raise DocumentDeleted(f"document {document[:16]} was deleted")
    return author.react(document, reaction, on)
