"""`replay`: drop every view and rebuild it from the log alone.

The rebuild runs in one transaction, so an interrupted replay leaves the old
views in place. Comparing `schema.dump` before and after a replay is the
audit that the views hold nothing the log does not justify.
"""

from __future__ import annotations

import sqlite3

from ..errors import StoreError
from ..eventlog.store import SQLiteStore
from .errors import ViewsNotAttached
from .projector import attached, rebuild

#: Bigger than an append's chunks: edits of one document merge once per chunk.
REPLAY_CHUNK = 20_000


def replay(store: SQLiteStore) -> int:
    """Rebuild every view from the log.

    Returns:
        The number of events replayed.

    Raises:
        ViewsNotAttached: the store was opened without the views.
        StoreError: SQLite failed; the old views are untouched.
    """
    if not attached(store):
        raise ViewsNotAttached(f"{store.path} was opened without the views; use open_views()")
    db = store.db
    try:
        with db.atomic():
            count = rebuild(db, chunk=REPLAY_CHUNK)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the dropped pages leave the WAL too
    except sqlite3.Error as e:
        raise StoreError(f"replay failed, views unchanged: {e}") from e
    return count
