"""The registry the store calls: every view, kept in step with the log.

`SQLiteStore` calls `Views.apply` inside each append transaction, right after
inserting the batch, so the views and their recorded positions commit or
roll back together with the events: a view can never be ahead of or behind
the log it was written with.

A log may also grow without the views (a store opened without projectors,
an older program); `ensure` catches the views up from their recorded
position, and rebuilds them from nothing if their tables are missing or of
another schema version. Queries go through `current`, which does that first,
so they always see every event of the log.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

import sqlite_utils

from ..eventlog.events import StoredEvent
from ..eventlog.store import SQLiteStore, last_position
from . import directory, documents, forgetting, local, moderation, reacting, schema, search, threads
from .batch import Batch
from .errors import ViewsNotAttached
from .records import READ_CHUNK, Rec, from_stored, read_log

# Modules, not their functions: the view modules import this one for `current`.
_FOLDS = {"documents": documents, "reactions": reacting, "threads": threads, "local": local,
          "moderation": moderation, "directory": directory, "search": search}


def apply_records(db: sqlite_utils.Database, recs: Sequence[Rec]) -> None:
    """Fold records into every view and record the last position (no transaction of its own)."""
    if not recs:
        return
    batch = Batch(db, recs)
    for view in schema.VIEWS:
        _FOLDS[view].apply(batch)
    schema.set_position(db, recs[-1].position)


def rebuild(db: sqlite_utils.Database, upto: int | None = None, chunk: int = READ_CHUNK) -> int:
    """Drop the views and fold the log (up to `upto`) into new ones.

    Call inside a transaction. Returns the number of events applied.
    """
    schema.drop(db)
    schema.create(db, indexes=False)
    count = 0
    collecting = gc.isenabled()
    # A rebuild makes millions of short-lived, acyclic objects: cycle collection
    # would only walk the whole heap again and again (refcounting frees them).
    gc.disable()
    try:
        for recs in read_log(db, 0, upto, chunk):
            apply_records(db, recs)
            count += len(recs)
    finally:
        if collecting:
            gc.enable()
    schema.create_indexes(db)
    return count


def ensure(db: sqlite_utils.Database, upto: int | None = None) -> int:
    """Create missing view tables and apply the log events they lack.

    Call inside a transaction. Returns the number of events applied.
    """
    last = last_position(db)  # not max(position): garbage collection may have forgotten the last events
    applied = min(schema.positions(db).values()) if schema.exists(db) else None
    if applied is None or applied > last:  # missing, stale schema, or from another log
        return rebuild(db, upto)
    count = 0
    for recs in read_log(db, applied, upto):
        apply_records(db, recs)
        count += len(recs)
    return count


class Views:
    """The projector to pass to `SQLiteStore(projectors=[...])`."""

    def apply(self, db: sqlite_utils.Database, events: Sequence[StoredEvent]) -> None:
        if not events:
            return
        recs = from_stored(events)
        ensure(db, upto=recs[0].position - 1)
        apply_records(db, recs)

    def forget(self, db: sqlite_utils.Database, networks: Sequence[str]) -> None:
        """Garbage collection is about to remove these networks' events (gc.py)."""
        ensure(db)
        forgetting.purge(db, networks)


def attached(store: SQLiteStore) -> bool:
    return any(isinstance(p, Views) for p in store.projectors)


def open_views(store: SQLiteStore) -> SQLiteStore:
    """Attach the views to a store (once) and bring them up to date with its log.

    Returns:
        The same store, for chaining.
    """
    if not attached(store):
        store.projectors.append(Views())
    current(store)
    return store


def current(store: SQLiteStore) -> sqlite_utils.Database:
    """The store's database with views that reflect its whole log.

    Raises:
        ViewsNotAttached: the store was opened without the views.
    """
    if not attached(store):
        raise ViewsNotAttached(f"{store.path} was opened without the views; use open_views()")
    db = store.db
    if not schema.exists(db) or min(schema.positions(db).values()) != store.last_position():
        with db.atomic():
            ensure(db)
    return db
