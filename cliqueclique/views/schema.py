"""The view tables, their tracking rows, and table dumps for audits and tests.

Views are derived data, so they are never migrated: when `SCHEMA_VERSION`
changes they are dropped and rebuilt from the log (replay), which is always
correct. Every view records in `view_state` the log position it has applied,
written in the same transaction as its rows.

Row ids never leak into what a view means: `docs.rid` is the log position of
the document event (stable across replays of one log, so the FTS index can
use it as its rowid), and dumps leave it out, so two stores that received the
same events in different orders dump identically.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

SCHEMA_VERSION = 5

#: The views, in the order they are applied to each batch.
VIEWS = ("documents", "reactions", "threads", "local", "moderation", "directory", "search")

_DDL = """
CREATE TABLE view_state (
    view TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    schema INTEGER NOT NULL
);
-- documents: one row per document, content columns NULL once deleted
CREATE TABLE docs (
    rid INTEGER PRIMARY KEY,        -- log position of the document event
    id TEXT NOT NULL UNIQUE,
    author TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    subject TEXT,                   -- as posted (the directory key)
    title TEXT,                     -- current: the CRDT title once edited
    content_type TEXT,
    editors TEXT,                   -- current JSON list of node ids, NULL if none
    deleted INTEGER NOT NULL DEFAULT 0
);
-- current properties: the document's own with the edits' overlay laid over them
CREATE TABLE doc_props (
    doc TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (doc, name)
) WITHOUT ROWID;
-- merged pycrdt state of edited documents (absent until the first counted edit)
CREATE TABLE doc_state (
    doc TEXT PRIMARY KEY,
    state BLOB NOT NULL,            -- merge of seed + every counted edit (canonical bytes)
    body TEXT NOT NULL,             -- the merged body (the title is docs.title)
    edits INTEGER NOT NULL,
    props TEXT                      -- JSON of the state's property overlay, NULL if empty
);
-- the editors event in force per document (the author's highest seq)
CREATE TABLE doc_editors (
    doc TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    retired TEXT NOT NULL           -- JSON: removed editor -> last seq that still counts
) WITHOUT ROWID;
-- reactions: each node's latest event per (document, reaction)
CREATE TABLE reactions (
    doc TEXT NOT NULL,
    node TEXT NOT NULL,
    reaction TEXT NOT NULL,
    seq INTEGER NOT NULL,           -- the node's seq of that event in the document's network
    active INTEGER NOT NULL,        -- its "on"
    PRIMARY KEY (doc, node, reaction)
) WITHOUT ROWID;
-- threads: reply edges, `above` is the document replied to
CREATE TABLE edges (
    link TEXT PRIMARY KEY,
    above TEXT NOT NULL,
    below TEXT NOT NULL,
    direction TEXT NOT NULL,
    author TEXT NOT NULL,
    timestamp INTEGER NOT NULL
) WITHOUT ROWID;
-- local: each node's own flags and notes per document
CREATE TABLE local_flags (
    node TEXT NOT NULL,
    doc TEXT NOT NULL,
    subscribed INTEGER NOT NULL DEFAULT 0,
    bookmarked INTEGER NOT NULL DEFAULT 0,
    read INTEGER NOT NULL DEFAULT 0,
    blocked INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    PRIMARY KEY (node, doc)
) WITHOUT ROWID;
-- moderation: every moderation event held, `counted` per the forum's roles
CREATE TABLE mod_events (
    id TEXT PRIMARY KEY,
    forum TEXT NOT NULL,
    author TEXT NOT NULL,
    seq INTEGER NOT NULL,           -- the author's seq in the forum's network
    timestamp INTEGER NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT,
    since INTEGER NOT NULL,
    until INTEGER NOT NULL,
    counted INTEGER NOT NULL
) WITHOUT ROWID;
-- the moderators each local node does not honour, per forum
CREATE TABLE mod_ignored (
    node TEXT NOT NULL,
    forum TEXT NOT NULL,
    moderator TEXT NOT NULL,
    PRIMARY KEY (node, forum, moderator)
) WITHOUT ROWID;
-- directory: directory roots (prefix '') and trie nodes
CREATE TABLE dir_nodes (
    doc TEXT PRIMARY KEY,
    directory TEXT NOT NULL,
    prefix TEXT NOT NULL
) WITHOUT ROWID;
-- search: full text of live documents, rowid = docs.rid
CREATE VIRTUAL TABLE doc_fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2');
"""

#: Secondary indexes: only queries need them, so a rebuild creates them after
#: loading every row (one sorted build each instead of a random insert per row).
_INDEXES = (
    "CREATE INDEX docs_author ON docs(author, timestamp)",
    "CREATE INDEX docs_time ON docs(timestamp)",
    "CREATE INDEX doc_props_value ON doc_props(name, value)",
    # covers a thread walk: no lookups in the table itself
    "CREATE INDEX edges_above ON edges(above, below, direction, timestamp)",
    "CREATE INDEX edges_below ON edges(below, above)",
    "CREATE INDEX local_flags_doc ON local_flags(doc)",
    "CREATE INDEX dir_nodes_prefix ON dir_nodes(directory, prefix)",
    "CREATE INDEX mod_events_forum ON mod_events(forum, counted)",
)

_TABLES = ("view_state", "docs", "doc_props", "doc_state", "doc_editors", "reactions", "edges",
           "local_flags", "mod_events", "mod_ignored", "dir_nodes", "doc_fts")

#: How each view table is dumped: order-independent content, no row ids.
_DUMPS = {
    "docs": "SELECT id, author, timestamp, subject, title, content_type, editors, deleted "
            "FROM docs ORDER BY id",
    "doc_props": "SELECT doc, name, value FROM doc_props ORDER BY doc, name",
    "doc_state": "SELECT doc, state, body, edits, props FROM doc_state ORDER BY doc",
    "doc_editors": "SELECT doc, seq, retired FROM doc_editors ORDER BY doc",
    "reactions": "SELECT doc, node, reaction, seq, active FROM reactions ORDER BY doc, node, reaction",
    "edges": "SELECT link, above, below, direction, author, timestamp FROM edges ORDER BY link",
    "local_flags": "SELECT node, doc, subscribed, bookmarked, read, blocked, note "
                   "FROM local_flags ORDER BY node, doc",
    "mod_events": "SELECT id, forum, author, seq, timestamp, action, target, reason, since, until, counted "
                  "FROM mod_events ORDER BY id",
    "mod_ignored": "SELECT node, forum, moderator FROM mod_ignored ORDER BY node, forum, moderator",
    "dir_nodes": "SELECT doc, directory, prefix FROM dir_nodes ORDER BY doc",
    "doc_fts": "SELECT d.id, f.title, f.body FROM doc_fts f JOIN docs d ON d.rid = f.rowid "
               "ORDER BY d.id",
    "doc_fts_rows": "SELECT count(*) FROM doc_fts",
}


def exists(db: sqlite_utils.Database) -> bool:
    """True if the view tables exist at the current schema version."""
    row = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'view_state'").fetchone()
    if not row[0]:
        return False
    versions = {r[0] for r in db.execute("SELECT DISTINCT schema FROM view_state")}
    names = {r[0] for r in db.execute("SELECT view FROM view_state")}
    return versions == {SCHEMA_VERSION} and names == set(VIEWS)


def drop(db: sqlite_utils.Database) -> None:
    """Drop every view table (the log is untouched)."""
    for table in _TABLES:
        db.execute(f"DROP TABLE IF EXISTS {table}")


def create(db: sqlite_utils.Database, *, indexes: bool = True) -> None:
    """Create empty view tables that have applied nothing (position 0).

    Args:
        indexes: also the secondary indexes (a rebuild adds them at the end
            with `create_indexes`).
    """
    for statement in _DDL.split(";"):  # executescript() would commit the caller's transaction
        if statement.strip():
            db.execute(statement)
    if indexes:
        create_indexes(db)
    db.conn.executemany("INSERT INTO view_state (view, position, schema) VALUES (?, 0, ?)",
                        [(view, SCHEMA_VERSION) for view in VIEWS])


def create_indexes(db: sqlite_utils.Database) -> None:
    for statement in _INDEXES:
        db.execute(statement)


def positions(db: sqlite_utils.Database) -> dict[str, int]:
    """The log position each view has applied."""
    return {r[0]: r[1] for r in db.execute("SELECT view, position FROM view_state")}


def set_position(db: sqlite_utils.Database, position: int) -> None:
    db.execute("UPDATE view_state SET position = ?", [position])


def dump(db: sqlite_utils.Database, *, with_positions: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table's content, sorted by natural keys, without row ids.

    Args:
        db: the database holding the views.
        with_positions: include `view_state` (leave it out to compare two
            stores, whose positions differ when events arrived in other orders).

    Returns:
        table name -> list of row tuples.
    """
    out = {name: [tuple(r) for r in db.execute(sql)] for name, sql in _DUMPS.items()}
    if with_positions:
        out["view_state"] = [tuple(r) for r in
                             db.execute("SELECT view, position, schema FROM view_state ORDER BY view")]
    return out
