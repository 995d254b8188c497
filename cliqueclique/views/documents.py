"""The documents view: one row per document, its properties, its merged state.

Fold rules (per batch, see `batch.py`):

- `document`: a `docs` row (title = subject until edited) and its properties.
  A purged document (replayed after its deletion) gets a row without content.
- `editors`: the author's latest list replaces `docs.editors`; a document
  whose held edits count differently is rebuilt (see `editorship.py`).
- `edit`: merged into `doc_state` if it counts (seeded from the document on
  the first edit, see `crdt.py`); `docs.title` follows the merged title and
  `doc_props` the body's properties with the merged overlay laid over them.
- `deletion` of a document: every copy of its content goes (subject, title,
  editors, properties, merged state); the row stays as a tombstone so threads
  can show a hidden entry. Deleting a link is the threads view's business.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import Unauthorized
from ..eventlog.events import Event
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import crdt, editorship, projector
from .batch import Batch, execute_in, select_in
from .errors import BadChange, DocumentDeleted, NotADocument, NothingToEdit
from .reacting import reactions
from .records import Rec


def apply(batch: Batch) -> None:
    """Fold a batch into `docs`, `doc_props`, `doc_state` and `doc_editors`."""
    _insert_documents(batch)
    recount = editorship.apply_grants(batch)
    _merge_edits(batch, recount)
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


#: a document's new state: (merged state, edits merged), or None when no held edit counts
_NewState = tuple[bytes, int] | None


def _merge_edits(batch: Batch, recount: dict[str, editorship.EditRule]) -> None:
    """Merge the batch's counted edits; rebuild the documents in `recount` from
    their seed and every edit that counts now (their batch edits included)."""
    updates: dict[str, list[bytes]] = {}
    by_doc: dict[str, list[Rec]] = defaultdict(list)
    for rec in batch.of_kind("edit"):
        if rec.body is not None and rec.network not in recount:
            by_doc[rec.network].append(rec)
    rules = editorship.rules(batch, by_doc)
    for doc, recs in by_doc.items():
        rule = rules.get(doc)
        counted = [r.body for r in recs if rule is None or rule.counts(r.author, r.seq)]
        if counted:
            updates[doc] = counted
    if not updates and not recount:
        return
    stored = {r[0]: (bytes(r[1]), r[2], r[3]) for r in select_in(
        batch.db, "SELECT doc, state, edits, props FROM doc_state WHERE doc IN ({marks})",
        [*updates, *recount])}
    originals = _originals(batch, [d for d in updates if d not in stored] + list(recount))
    new: dict[str, _NewState] = {}
    for doc, doc_updates in updates.items():
        if doc in stored:
            state, edits = stored[doc][:2]
        elif doc in originals:
            state, edits = _seed(originals[doc]), 0
        else:
            continue  # deleted: the log keeps no content to edit
        merged, count = crdt.merge(state, doc_updates)
        new[doc] = (merged, edits + count)
    for doc, doc_updates in editorship.counted_edits(batch, recount).items():
        if doc not in originals:
            continue
        if doc_updates:
            new[doc] = crdt.merge(_seed(originals[doc]), doc_updates)
        elif doc in stored:
            new[doc] = None  # back to the seed: no row, as if no edit had come
    _write_states(batch, new, stored, originals)


def _seed(body: dict[str, Any]) -> bytes:
    return crdt.seed(body["subject"], body["text"])


def _originals(batch: Batch, docs: list[str]) -> dict[str, dict[str, Any]]:
    """The decoded document event of each of these documents still holding content."""
    found = {d: body for d in docs if (body := batch.new_docs.get(d)) is not None}
    rest = [d for d in docs if d not in found]
    for doc, raw in select_in(batch.db, "SELECT id, body FROM events WHERE id IN ({marks})", rest):
        if raw is not None:
            found[doc] = json.loads(raw)
    return found


def _write_states(batch: Batch, new: dict[str, _NewState],
                  stored: dict[str, tuple[bytes, int, str | None]],
                  originals: dict[str, dict[str, Any]]) -> None:
    """Write the new states, titles and (where the overlay changed) properties."""
    rows: list[tuple[str, bytes, str, int, str | None]] = []
    gone: list[str] = []
    overlays: dict[str, crdt.Overlay] = {}
    for doc, result in new.items():
        overlay: crdt.Overlay
        if result is None:
            gone.append(doc)
            title, body, overlay = originals[doc]["subject"], originals[doc]["text"], {}
        else:
            title, body, overlay = crdt.read_indexed(result[0])
        props = json.dumps(overlay, sort_keys=True, ensure_ascii=False) if overlay else None
        if result is not None:
            rows.append((doc, result[0], body, result[1], props))
        if props != (stored[doc][2] if doc in stored else None):
            overlays[doc] = overlay
        batch.changed[doc] = (title, body)
    batch.db.conn.executemany(
        "INSERT OR REPLACE INTO doc_state (doc, state, body, edits, props) VALUES (?,?,?,?,?)", rows)
    execute_in(batch.db, "DELETE FROM doc_state WHERE doc IN ({marks})", gone)
    batch.db.conn.executemany("UPDATE docs SET title = ? WHERE id = ?",
                              [(title, doc) for doc, (title, _) in batch.changed.items()])
    if overlays:
        bases = _originals(batch, [d for d in overlays if d not in originals]) | originals
        execute_in(batch.db, "DELETE FROM doc_props WHERE doc IN ({marks})", overlays)
        merged = {doc: crdt.merged_properties(bases[doc].get("properties", {}), overlay)
                  for doc, overlay in overlays.items()}
        batch.db.conn.executemany("INSERT INTO doc_props (doc, name, value) VALUES (?,?,?)",
                                  [(doc, k, v) for doc, props in merged.items() for k, v in props.items()])


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
    editorship.drop(batch)


# --- queries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentState:
    """A document as readers see it: immutable header facts plus merged state.

    `editors` is the current list (the author's latest editors event, else the
    body's), `properties` the body's own with edits laid over them, and
    `reactions` maps each reaction to the nodes that have it on (see
    `reacting.reactions`).
    """

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
    """The current state of one document (counted edits and reactions included).

    Raises:
        NotADocument: no document with this id is held.
    """
    db = projector.current(store)
    row = db.execute("SELECT author, timestamp, deleted, subject, title, content_type, editors "
                     "FROM docs WHERE id = ?", [doc_id]).fetchone()
    if row is None:
        raise NotADocument(f"no document {doc_id} in this node's log")
    author, timestamp, deleted, subject, title, content_type, listed = row
    if deleted or subject is None:
        return DocumentState(doc_id, author, timestamp, True)
    state = db.execute("SELECT state, edits FROM doc_state WHERE doc = ?", [doc_id]).fetchone()
    if state is None:
        body, tags, edits = str(_original(store, doc_id).get("text", "")), [], 0
    else:
        fields = crdt.read(bytes(state[0]))
        body, tags, edits = fields.body, fields.tags, state[1]
    props = dict(db.execute("SELECT name, value FROM doc_props WHERE doc = ? ORDER BY name", [doc_id]))
    return DocumentState(doc_id, author, timestamp, False, subject, title, body, content_type,
                         json.loads(listed) if listed else [], props, tags, reactions(store, doc_id),
                         edits)


def _original(store: SQLiteStore, doc_id: str) -> dict[str, Any]:
    """The document event's body ({} once purged)."""
    row = store.db.execute("SELECT body FROM events WHERE id = ?", [doc_id]).fetchone()
    return json.loads(row[0]) if row and row[0] is not None else {}


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
    return crdt.seed(row[1], str(_original(store, doc_id).get("text", "")))


def edit_document(author: Author, store: SQLiteStore, doc_id: str, change: crdt.Change) -> Event:
    """Sign and append an `edit` of a document's state.

    Raises:
        NotADocument, DocumentDeleted: nothing to edit.
        BadChange: a property name is empty, reserved or both set and removed,
            or a value is not a string.
        NothingToEdit: the change would not alter the state.
        Unauthorized: the author is neither the document's author nor one
            of its current editors.
    """
    change = _checked(change)
    state = state_bytes(store, doc_id)
    current = document_state(store, doc_id)
    if author.id != current.author and author.id not in current.editors:
        raise Unauthorized(None, f"{author.id[:16]} may not edit {doc_id[:16]}: "
                                 "only its author and the editors it names")
    base = _original(store, doc_id).get("properties", {})
    update = crdt.make_update(state, author.id, change, base)
    if update is None:
        raise NothingToEdit(f"document {doc_id[:16]} already looks like that")
    return author.edit(doc_id, update)


def _checked(change: crdt.Change) -> crdt.Change:
    """`change` with its property fields checked (and read once, should they be iterators)."""
    removed = tuple(change.remove_properties)
    for name in [*change.set_properties, *removed]:
        if not isinstance(name, str) or not name:
            raise BadChange(f"property names must be non-empty strings, not {name!r}")
        if name.startswith(crdt.RESERVED_PREFIX):
            raise BadChange(f"{name} says what the document is and cannot be edited")
    for name, value in change.set_properties.items():
        if not isinstance(value, str):
            raise BadChange(f"property {name} must be set to a string, not {value!r}")
        if name in removed:
            raise BadChange(f"property {name} is both set and removed")
    return replace(change, set_properties=dict(change.set_properties), remove_properties=removed)
