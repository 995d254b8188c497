"""Directories: tries of documents searchable by subject prefix (DESIGN.md 5).

A directory is a document with the property ``cliqueclique.type=directory``.
Its entries hang in a trie of *trie documents* (``cliqueclique.type=trie``,
``cliqueclique.directory=<directory id>``, ``cliqueclique.prefix=<prefix>``),
one more character of the entry key per level, joined by natural links. An
entry is linked from the trie document for its whole key, so every document
below a trie node matches that node's prefix. The key is the subject in NFC,
case-folded; the trie stops at `MAX_DEPTH` characters (longer keys share the
deepest node and a search for a longer prefix filters there).

A prefix search therefore walks only the trie documents along the prefix
(looked up by (directory, prefix) and checked to be linked from the level
above), then everything below the last one: trie documents on the way to a
match and the matching entries. `DirectorySearch.touched` counts them.

Several writers may create the same trie node concurrently; the walk follows
every node of a level, and adding reuses the smallest id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from nacl.signing import SigningKey

from ..eventlog.codec import is_hex_id
from ..eventlog.events import Event
from ..eventlog.store import SQLiteStore
from . import projector
from .batch import DIRECTORY_PROPERTY, PREFIX_PROPERTY, TYPE_PROPERTY, Batch, execute_in, select_in
from .errors import DocumentDeleted, NotADirectory, NotADocument
from .signer import BatchSigner

MAX_DEPTH = 64
TRIE_CONTENT_TYPE = "application/x-cliqueclique-trie"


def key(subject: str) -> str:
    """The directory key of a subject: NFC, case-folded."""
    return unicodedata.normalize("NFC", subject).casefold()


def apply(batch: Batch) -> None:
    """Record directory roots and valid trie documents of a batch in `dir_nodes`."""
    rows: list[tuple[str, str, str]] = []
    for doc_id, body in batch.new_docs.items():
        props = body.get("properties", {}) if body else {}
        kind = props.get(TYPE_PROPERTY)
        if kind == "directory":
            rows.append((doc_id, doc_id, ""))
        elif kind == "trie":
            directory, prefix = props.get(DIRECTORY_PROPERTY), props.get(PREFIX_PROPERTY, "")
            if is_hex_id(directory) and 0 < len(prefix) <= MAX_DEPTH and key(prefix) == prefix:
                rows.append((doc_id, str(directory), prefix))
    batch.db.conn.executemany("INSERT INTO dir_nodes (doc, directory, prefix) VALUES (?,?,?)", rows)
    if batch.deleted_docs:
        execute_in(batch.db, "DELETE FROM dir_nodes WHERE doc IN ({marks})", batch.deleted_docs)


def directory_properties() -> dict[str, str]:
    return {TYPE_PROPERTY: "directory"}


def trie_properties(directory: str, prefix: str) -> dict[str, str]:
    return {TYPE_PROPERTY: "trie", DIRECTORY_PROPERTY: directory, PREFIX_PROPERTY: prefix}


# --- walking the trie ----------------------------------------------------------------------


def _check_directory(store: SQLiteStore, directory: str) -> None:
    db = projector.current(store)
    if db.execute("SELECT 1 FROM dir_nodes WHERE doc = ? AND directory = ? AND prefix = ''",
                  [directory, directory]).fetchone() is None:
        raise NotADirectory(f"{directory[:16]} is not a directory (create one with 'dir create')")


def _level(store: SQLiteStore, directory: str, prefix: str, above: list[str]) -> list[str]:
    """Trie nodes for `prefix` linked from one of `above`, smallest id first."""
    rows = select_in(
        store.db, "SELECT n.doc FROM dir_nodes n WHERE n.directory = ? AND n.prefix = ? AND "
        "EXISTS (SELECT 1 FROM edges e WHERE e.below = n.doc AND e.above IN ({marks}))",
        above, [directory, prefix])
    return sorted({r[0] for r in rows})


def _path(store: SQLiteStore, directory: str, wanted: str) -> list[list[str]]:
    """The trie levels held for each prefix of `wanted` (stops at the first missing)."""
    levels = [[directory]]
    for i in range(1, min(len(wanted), MAX_DEPTH) + 1):
        nodes = _level(store, directory, wanted[:i], levels[-1])
        if not nodes:
            break
        levels.append(nodes)
    return levels


# --- adding entries --------------------------------------------------------------------------


def create_directory(signer: BatchSigner, store: SQLiteStore, name: str) -> Event:
    """Create and append a new, empty directory document."""
    event = signer.document(name, "", content_type="text/plain", properties=directory_properties())
    store.append(event)
    return event


def _entry_key(store: SQLiteStore, doc_id: str) -> str:
    row = projector.current(store).execute("SELECT subject, deleted FROM docs WHERE id = ?",
                                           [doc_id]).fetchone()
    if row is None:
        raise NotADocument(f"no document {doc_id} in this node's log")
    if row[1] or row[0] is None:
        raise DocumentDeleted(f"document {doc_id[:16]} was deleted")
    return key(row[0])


def plan_entry(signer: BatchSigner, store: SQLiteStore, directory: str, doc_id: str,
               known: dict[str, str] | None = None) -> list[Event]:
    """Sign (not append) the trie documents and links that add `doc_id`.

    Args:
        known: prefix -> trie node chosen so far (held or signed in this
            batch); updated, so a bulk import resolves each prefix once.

    Raises:
        NotADocument, DocumentDeleted.
    """
    known = {} if known is None else known
    wanted = _entry_key(store, doc_id)[:MAX_DEPTH]
    parent, events, fresh = directory, [], False
    for i in range(1, len(wanted) + 1):
        prefix = wanted[:i]
        node = known.get(prefix)
        if node is None and not fresh:  # below a node made just now, nothing is held yet
            found = _level(store, directory, prefix, [parent])
            node = found[0] if found else None
        if node is None:
            created = signer.document(prefix, "", content_type=TRIE_CONTENT_TYPE,
                                      properties=trie_properties(directory, prefix))
            events += [created, signer.link(parent, created.id)]
            node, fresh = created.id, True
        known[prefix] = parent = node
    if fresh or not _linked(store, [parent], doc_id):
        events.append(signer.link(parent, doc_id))
    return events


def _linked(store: SQLiteStore, above: list[str], doc_id: str) -> bool:
    return bool(select_in(store.db, "SELECT 1 FROM edges WHERE below = ? AND above IN ({marks})",
                          above, [doc_id]))


def add_entries(key_: SigningKey, store: SQLiteStore, directory: str, doc_ids: Iterable[str],
                *, batch_size: int = 5000) -> int:
    """Add documents to a directory, appending in large batches; returns events appended.

    Raises:
        NotADirectory, NotADocument, DocumentDeleted; InvalidEvent if the log
        rejects an event (nothing of that batch is written).
    """
    _check_directory(store, directory)
    signer = BatchSigner(key_, store)
    pending: list[Event] = []
    known: dict[str, str] = {}
    appended = 0
    for doc_id in doc_ids:
        pending += plan_entry(signer, store, directory, doc_id, known)
        if len(pending) >= batch_size:
            appended += _append_all(store, pending)
            pending = []
    return appended + _append_all(store, pending)


def _append_all(store: SQLiteStore, events: list[Event]) -> int:
    for result in store.append_many(events, atomic=True):
        if result.error is not None:
            raise result.error
    return len(events)


def add_entry(key_: SigningKey, store: SQLiteStore, directory: str, doc_id: str) -> list[Event]:
    """Add one document to a directory (creating or reusing its trie path).

    Returns:
        The events appended (empty if it was already there).
    """
    _check_directory(store, directory)
    events = plan_entry(BatchSigner(key_, store), store, directory, doc_id)
    _append_all(store, events)
    return events


# --- searching -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DirectoryMatch:
    id: str
    subject: str
    author: str
    timestamp: int


@dataclass
class DirectorySearch:
    """Matches of a prefix search and what the search had to read.

    `touched` counts the documents read: the directory and the trie nodes
    along the prefix (`path`), then every trie node and entry below the last
    of them. `trie_nodes` counts the trie documents among them.
    """

    directory: str
    prefix: str
    matches: list[DirectoryMatch] = field(default_factory=list)
    path: int = 0
    trie_nodes: int = 0
    touched: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def search_directory(store: SQLiteStore, directory: str, prefix: str) -> DirectorySearch:
    """Documents of a directory whose subject starts with `prefix` (case-folded).

    Raises:
        NotADirectory: `directory` is not a directory document.
    """
    _check_directory(store, directory)
    wanted = key(prefix)
    levels = _path(store, directory, wanted)
    result = DirectorySearch(directory, prefix, path=sum(len(level) for level in levels))
    result.trie_nodes = result.touched = result.path
    if len(levels) - 1 < min(len(wanted), MAX_DEPTH):
        return result  # no trie node for the whole prefix: nothing matches
    depth = len(levels) - 1
    prefixes = dict.fromkeys(levels[-1], wanted[:depth])
    seen = set(prefixes)
    while prefixes:
        prefixes = _descend(store, directory, wanted, prefixes, seen, result)
    result.matches.sort(key=lambda m: (key(m.subject), m.subject, m.id))
    return result


def _descend(store: SQLiteStore, directory: str, wanted: str, level: dict[str, str],
             seen: set[str], result: DirectorySearch) -> dict[str, str]:
    """Read the documents one level below `level` (node -> its prefix); return the next level."""
    rows = select_in(
        store.db, "SELECT e.above, e.below, n.directory, n.prefix, d.subject, d.author, "
        "d.timestamp, d.deleted FROM edges e LEFT JOIN dir_nodes n ON n.doc = e.below "
        "LEFT JOIN docs d ON d.id = e.below WHERE e.above IN ({marks})", list(level))
    following: dict[str, str] = {}
    for above, below, node_dir, node_prefix, subject, author, timestamp, deleted in rows:
        if below in seen or author is None:
            continue  # reached twice, or linked but not held here
        seen.add(below)
        result.touched += 1
        parent_prefix = level[above]
        if (node_dir == directory and node_prefix is not None
                and len(node_prefix) == len(parent_prefix) + 1 and node_prefix.startswith(parent_prefix)):
            result.trie_nodes += 1
            following[below] = node_prefix
        elif not deleted and subject is not None and key(subject).startswith(wanted):
            result.matches.append(DirectoryMatch(below, subject, author, timestamp))
    return following
