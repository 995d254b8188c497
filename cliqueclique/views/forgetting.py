"""Forgetting whole networks: the view rows their events gave, and nothing else.

Garbage collection (gc.py) removes every event of a network from the log, in
the transaction that calls `purge` first. The views must then be exactly what
`replay` would build from the log that is left, so `purge` removes what the
forgotten events produced and keeps what events elsewhere produced:

- a document's own rows (`docs`, `doc_props`, `doc_state`, `doc_editors`,
  `reactions`, `dir_nodes`, its full-text row) come from events in its
  network: they go;
- `edges` of the links in the forgotten networks go; links in other networks
  that name a forgotten document stay (a thread shows it as missing, as it
  does a reply not yet received);
- `mod_events` of a forgotten forum go;
- `local_flags` and `mod_ignored` come from a node's subscription events, in
  its private network (its id): they go only with that network (the local
  node's own is never forgotten, and no other node's is ever replicated).

The full-text index is merged afterwards (`optimize`), as after a deletion:
FTS5 deletes by writing tombstones, and the merge drops the old segments that
still hold the words (secure_delete then overwrites the freed pages).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from .batch import execute_in, select_in


def purge(db: sqlite_utils.Database, networks: Sequence[str]) -> None:
    """Delete the view rows derived from these networks' events (call inside
    the transaction that deletes the events, before it does)."""
    if not networks:
        return
    links = [r[0] for r in select_in(db, "SELECT id FROM events WHERE kind = 'link' AND network IN ({marks})",
                                     networks)]
    rids = [r[0] for r in select_in(db, "SELECT rid FROM docs WHERE id IN ({marks})", networks)]
    indexed = execute_in(db, "DELETE FROM doc_fts WHERE rowid IN ({marks})", rids)
    for table, column in (("docs", "id"), ("doc_props", "doc"), ("doc_state", "doc"),
                          ("doc_editors", "doc"), ("reactions", "doc"), ("dir_nodes", "doc"),
                          ("mod_events", "forum"), ("local_flags", "node"), ("mod_ignored", "node")):
        execute_in(db, f"DELETE FROM {table} WHERE {column} IN ({{marks}})", networks)
    execute_in(db, "DELETE FROM edges WHERE link IN ({marks})", links)
    if indexed:
        db.execute("INSERT INTO doc_fts (doc_fts) VALUES ('optimize')")
