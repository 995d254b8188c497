"""Who edits a document now, and which of its edits count.

The document body names its first editors. After that the author's latest
`editors` event (the highest seq of the author's chain in the document's
network) is in force: its list replaces the body's, and ``retired[X] = N``
keeps the edits X made up to seq N (X's seq in that network) counting after
X was removed. An edit by X at seq s counts iff X is the author, X is a
current editor, or ``s <= retired.get(X, 0)``.

The log cannot decide this: it must accept an edit whatever it receives
later (authorisation is monotone), so it accepts edits by anyone any
editors event ever named, and this view decides what counts. `doc_state`
holds the merge of the seed and the counted edits. When an editors event
changes which held edits count, the document's state is rebuilt from its
seed and the edits that count now; merging a set of updates gives the same
bytes in any order, so every node reaches the same state whatever order the
edits and the editors events arrived in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..eventlog.codec import is_hex_id
from ..eventlog.events import Event
from ..eventlog.store import SQLiteStore
from ..eventlog.writer import Author
from . import projector
from .batch import Batch, execute_in, select_in
from .errors import BadQuery, DocumentDeleted, NotADocument, NothingToEdit, NotTheAuthor
from .records import Rec


@dataclass(frozen=True)
class EditRule:
    """Which edits of one document count."""

    author: str
    editors: frozenset[str]
    retired: Mapping[str, int] = field(default_factory=dict)

    def counts(self, editor: str, seq: int) -> bool:
        return editor == self.author or editor in self.editors or seq <= self.retired.get(editor, 0)


def _editors_column(editors: Iterable[str]) -> str | None:
    """`docs.editors`: the JSON list, NULL when empty (as for a document naming none)."""
    ordered = sorted(editors)
    return json.dumps(ordered, separators=(",", ":")) if ordered else None


def rules(batch: Batch, docs: Iterable[str]) -> dict[str, EditRule]:
    """The rule of each of these documents that has an editors event in force.

    Documents left out have none: every edit the log accepted for them is by
    the author or an editor the body names, and counts.
    """
    return {doc: EditRule(author, frozenset(json.loads(editors or "[]")), json.loads(retired))
            for doc, author, editors, retired in select_in(
                batch.db, "SELECT g.doc, d.author, d.editors, g.retired FROM doc_editors g "
                          "JOIN docs d ON d.id = g.doc WHERE g.doc IN ({marks})", docs)}


def apply_grants(batch: Batch) -> dict[str, EditRule]:
    """Fold the batch's editors events into `doc_editors` and `docs.editors`.

    Returns:
        The documents whose held edits count differently now, with their new
        rule: the caller rebuilds their state.
    """
    latest: dict[str, Rec] = {}
    for rec in batch.of_kind("editors"):
        if rec.body is not None and (rec.network not in latest or rec.seq > latest[rec.network].seq):
            latest[rec.network] = rec
    if not latest:
        return {}
    in_force = dict(select_in(batch.db, "SELECT doc, seq FROM doc_editors WHERE doc IN ({marks})", latest))
    old = rules(batch, latest)
    changed: dict[str, EditRule] = {}
    # A purged document (replayed after its deletion) has no content to count edits into.
    live = select_in(batch.db, "SELECT id, author, editors FROM docs "
                               "WHERE subject IS NOT NULL AND id IN ({marks})", latest)
    for doc, author, editors in live:
        rec = latest[doc]
        if rec.seq <= in_force.get(doc, 0):
            continue
        old.setdefault(doc, EditRule(author, frozenset(json.loads(editors or "[]"))))
        changed[doc] = EditRule(author, frozenset(rec.body["editors"]), rec.body["retired"])
    batch.db.conn.executemany(
        "INSERT OR REPLACE INTO doc_editors (doc, seq, retired) VALUES (?,?,?)",
        [(doc, latest[doc].seq, json.dumps(rule.retired, sort_keys=True))
         for doc, rule in changed.items()])
    batch.db.conn.executemany("UPDATE docs SET editors = ? WHERE id = ?",
                              [(_editors_column(rule.editors), doc) for doc, rule in changed.items()])
    edits = _held_edits(batch, changed, with_bodies=False)
    return {doc: rule for doc, rule in changed.items()
            if any(old[doc].counts(a, s) != rule.counts(a, s) for a, s, _ in edits.get(doc, ()))}


def _held_edits(batch: Batch, docs: Iterable[str], *, with_bodies: bool
                ) -> dict[str, list[tuple[str, int, bytes | None]]]:
    """(author, seq, body) of the unpurged edits of these documents folded so far
    (this batch included, nothing after it: a rebuild reads a log that goes on)."""
    found: dict[str, list[tuple[str, int, bytes | None]]] = {}
    body = "body" if with_bodies else "NULL"
    sql = (f"SELECT network, author, seq, {body} FROM events WHERE position <= ? AND kind = 'edit' "
           "AND body IS NOT NULL AND network IN ({marks}) ORDER BY position")
    for doc, author, seq, raw in select_in(batch.db, sql, docs, [batch.recs[-1].position]):
        found.setdefault(doc, []).append((author, seq, None if raw is None else bytes(raw)))
    return found


def counted_edits(batch: Batch, docs: Mapping[str, EditRule]) -> dict[str, list[bytes]]:
    """The update bytes of every held edit that counts under each document's rule."""
    held = _held_edits(batch, docs, with_bodies=True)
    return {doc: [raw for author, seq, raw in held.get(doc, ())
                  if raw is not None and rule.counts(author, seq)]
            for doc, rule in docs.items()}


def drop(batch: Batch) -> None:
    """Deleted documents keep no editors state (their `docs.editors` is cleared with the rest)."""
    if batch.deleted_docs:
        execute_in(batch.db, "DELETE FROM doc_editors WHERE doc IN ({marks})", batch.deleted_docs)


# --- queries and writes ------------------------------------------------------------------


def editors(store: SQLiteStore, document: str) -> list[str]:
    """The current editors of a document (besides its author); empty once deleted.

    Raises:
        NotADocument: no document with this id is held.
    """
    db = projector.current(store)
    row = db.execute("SELECT editors FROM docs WHERE id = ?", [document]).fetchone()
    if row is None:
        raise NotADocument(f"no document {document} in this node's log")
    return list(json.loads(row[0])) if row[0] else []


def change_editors(author: Author, store: SQLiteStore, document: str, add: Iterable[str] = (),
                   remove: Iterable[str] = ()) -> Event:
    """Sign and append an editors event adding and removing editors of one's document.

    The edits a removed editor made so far keep counting: each one's current
    head seq in the document's network goes into `retired`, next to the
    entries earlier removals left there (a node added again keeps its entry,
    which changes nothing while it is an editor). The author is always an
    editor and is never listed.

    Raises:
        NotADocument, DocumentDeleted: no live document with this id.
        NotTheAuthor: `author` did not write the document.
        BadQuery: something to add is not a node id.
        NothingToEdit: the list would stay as it is.
    """
    db = projector.current(store)
    row = db.execute("SELECT author, deleted, subject, editors FROM docs WHERE id = ?",
                     [document]).fetchone()
    if row is None:
        raise NotADocument(f"no document {document} in this node's log")
    owner, deleted, subject, listed = row
    if deleted or subject is None:
        raise DocumentDeleted(f"document {document[:16]} was deleted")
    if owner != author.id:
        raise NotTheAuthor(f"only the author of {document[:16]} chooses its editors")
    add, remove = set(add) - {owner}, set(remove)
    bad = sorted(node for node in add if not is_hex_id(node))
    if bad:
        raise BadQuery(f"not a node id: {bad[0]!r}")
    current = set(json.loads(listed)) if listed else set()
    wanted = (current | add) - remove
    if wanted == current:
        raise NothingToEdit(f"document {document[:16]} already has exactly those editors")
    found = db.execute("SELECT retired FROM doc_editors WHERE doc = ?", [document]).fetchone()
    retired: dict[str, int] = json.loads(found[0]) if found else {}
    for node in sorted(current - wanted):
        head = store.head(node, document)
        if head is not None:
            retired[node] = max(retired.get(node, 0), head[0])
    return author.set_editors(document, wanted, retired)
