"""The documents view: one row per document, its properties, its merged state.

Fold rules (per batch, see `batch.py`):

- `document`: a `docs` row (title = subject until edited) and its properties.
  A purged document (replayed after its deletion) gets a row without content.
- `edit`: merged into `doc_state` (seeded from the document on first edit,
  see `crdt.py`); `docs.title` follows the merged title.
- `deletion` of a document: every copy of its content goes (subject, title,
  editors, properties, merged state); the row stays as a tombstone so threads
  can show a hidden entry. Deleting a link is the threads view's business.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from ..eventlog.events import Event
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import crdt, projector
from .batch import Batch, execute_in, select_in
from .errors import DocumentDeleted, NotADocument, NothingToEdit


def apply(batch: Batch) -> None:
    """Fold a batch into `docs`, `doc_props` and `doc_state`."""
    _insert_documents(batch)
    _merge_edits(batch)
    _delete_documents(batch)


def _insert_documents(batch: Batch) -> None:
    rows: list[tuple[Any, ...]] = []
    props: list[tuple[str, str, str]] = []
    for rec in batch.of_kind("document"):
        body = rec.body
        batch.new_docs[rec.id] = body
        batch.new_rids[rec.id] = rec.position
        if body is None:
            rows.append((rec.position, rec.id, rec.author, rec.timestamp, None, None, None, None))
            continue
        # node ids are hex: joining them is their JSON list, without json.dumps' cost
        editors = '["' + '","'.join(body["editors"]) + '"]' if body.get("editors") else None
        rows.append((rec.position, rec.id, rec.author, rec.timestamp, body["subject"],
                     body["subject"], body["content_type"], editors))
        props.extend((rec.id, k, v) for k, v in body.get("properties", {}).items())
    batch.db.conn.executemany(
        "INSERT INTO docs (rid, id, author, timestamp, subject, title, content_type, editors) "
        "VALUES (?,?,?,?,?,?,?,?)", rows)
    batch.db.conn.executemany("INSERT INTO doc_props (doc, name, value) VALUES (?,?,?)", props)


def _merge_edits(batch: Batch) -> None:
    updates: dict[str, list[bytes]] = defaultdict(list)
    for rec in batch.of_kind("edit"):
        if rec.body is not None:
            updates[rec.network].append(rec.body)
    if not updates:
        return
    states = _states(batch, list(updates))
    rows = []
    for doc, doc_updates in updates.items():
        if doc not in states:
            continue  # deleted: the log keeps no content to edit
        state, edits = states[doc]
        merged, count = crdt.merge(state, doc_updates)
        title, body = crdt.read_texts(merged)
        rows.append((doc, merged, body, edits + count))
        batch.changed[doc] = (title, body)
    batch.db.conn.executemany(
        "INSERT OR REPLACE INTO doc_state (doc, state, body, edits) VALUES (?,?,?,?)", rows)
    batch.db.conn.executemany("UPDATE docs SET title = ? WHERE id = ?",
                              [(title, doc) for doc, (title, _) in batch.changed.items()])


def _states(batch: Batch, docs: list[str]) -> dict[str, tuple[bytes, int]]:
    """Current (state, edit count) of each document: stored, else its seed."""
    found = {r[0]: (bytes(r[1]), r[2]) for r in select_in(
        batch.db, "SELECT doc, state, edits FROM doc_state WHERE doc IN ({marks})", docs)}
    missing = [d for d in docs if d not in found]
    for doc in missing:
        body = batch.new_docs.get(doc)
        if body is not None:
            found[doc] = (crdt.seed(body["subject"], body["text"]), 0)
    stored = [d for d in missing if d not in found]
    for doc, raw in select_in(batch.db, "SELECT id, body FROM events WHERE id IN ({marks})", stored):
        if raw is not None:
            body = json.loads(raw)
            found[doc] = (crdt.seed(body["subject"], body["text"]), 0)
    return found


def _delete_documents(batch: Batch) -> None:
    for rec in batch.of_kind("deletion"):
        target = rec.body["target"]
        if target == rec.network:
            batch.deleted_docs.add(target)
        else:
            batch.deleted_links.add(target)
    if not batch.deleted_docs:
        return
    execute_in(batch.db, "UPDATE docs SET subject = NULL, title = NULL, content_type = NULL, "
                         "editors = NULL, deleted = 1 WHERE id IN ({marks})", batch.deleted_docs)
    execute_in(batch.db, "DELETE FROM doc_props WHERE doc IN ({marks})", batch.deleted_docs)
    execute_in(batch.db, "DELETE FROM doc_state WHERE doc IN ({marks})", batch.deleted_docs)


# --- queries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentState:
    """A document as readers see it: immutable header facts plus merged state."""

    id: str
    author: str
    timestamp: int
    deleted: bool
    subject: str | None = None
    title: str | None = None
    body: str | None = None
    content_type: str | None = None
    editors: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edits: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def document_state(store: SQLiteStore, doc_id: str) -> DocumentState:
    """The current state of one document (merged edits included).

    Raises:
        NotADocument: no document with this id is held.
    """
    db = projector.current(store)
    row = db.execute("SELECT author, timestamp, deleted, subject, title, content_type, editors "
                     "FROM docs WHERE id = ?", [doc_id]).fetchone()
    if row is None:
        raise NotADocument(f"no document {doc_id} in this node's log")
    author, timestamp, deleted, subject, title, content_type, editors = row
    if deleted or subject is None:
        return DocumentState(doc_id, author, timestamp, True)
    state = db.execute("SELECT state, edits FROM doc_state WHERE doc = ?", [doc_id]).fetchone()
    if state is None:
        body, tags, reactions, edits = _original_text(store, doc_id), [], {}, 0
    else:
        fields = crdt.read(bytes(state[0]))
        body, tags, reactions, edits = fields.body, fields.tags, fields.reactions, state[1]
    props = dict(db.execute("SELECT name, value FROM doc_props WHERE doc = ? ORDER BY name", [doc_id]))
    return DocumentState(doc_id, author, timestamp, False, subject, title, body, content_type,
                         json.loads(editors) if editors else [], props, tags, reactions, edits)


def _original_text(store: SQLiteStore, doc_id: str) -> str:
    row = store.db.execute("SELECT body FROM events WHERE id = ?", [doc_id]).fetchone()
    return str(json.loads(row[0])["text"]) if row and row[0] is not None else ""


def state_bytes(store: SQLiteStore, doc_id: str) -> bytes:
    """The merged pycrdt state of a document (its seed if never edited).

    Raises:
        NotADocument: unknown document.
        DocumentDeleted: the document was deleted.
    """
    db = projector.current(store)
    row = db.execute("SELECT deleted, subject FROM docs WHERE id = ?", [doc_id]).fetchone()
    if row is None:
        raise NotADocument(f"no document {doc_id} in this node's log")
    if row[0] or row[1] is None:
        raise DocumentDeleted(f"document {doc_id[:16]} was deleted")
    state = db.execute("SELECT state FROM doc_state WHERE doc = ?", [doc_id]).fetchone()
    if state is not None:
        return bytes(state[0])
    return crdt.seed(row[1], _original_text(store, doc_id))


def edit_document(author: Author, store: SQLiteStore, doc_id: str, change: crdt.Change) -> Event:
    """Sign and append an `edit` of a document's state.

    Raises:
        NotADocument, DocumentDeleted: nothing to edit.
        NothingToEdit: the change would not alter the state.
        Unauthorized: (from the log) the author is neither the document's
            author nor one of its editors.
    """
    update = crdt.make_update(state_bytes(store, doc_id), author.id, change)
    if update is None:
        raise NothingToEdit(f"document {doc_id[:16]} already looks like that")
    return author.edit(doc_id, update)

