"""One batch of records on its way through the views, and shared SQL helpers.

The views run in a fixed order (`schema.VIEWS`) inside the append
transaction. Each reads the batch's records; the documents view also leaves
behind what later views need to know (new content, state changed by edits,
deletions), so no view repeats another's work.

Within a batch every view applies deletions last. That is equivalent to
applying events one at a time: nothing after a deletion can add to what it
deleted (the log rejects edits, reactions and editors lists of a deleted
document, and an event id is never appended twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from .records import Rec

#: Keep `IN (...)` lists well under SQLite's variable limit.
SQL_CHUNK = 500

#: Property names the directory uses on its documents.
TYPE_PROPERTY = "cliqueclique.type"
DIRECTORY_PROPERTY = "cliqueclique.directory"
PREFIX_PROPERTY = "cliqueclique.prefix"


@dataclass
class Batch:
    db: sqlite_utils.Database
    recs: Sequence[Rec]
    #: documents first seen in this batch -> decoded body (None if purged)
    new_docs: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    #: documents first seen in this batch -> their `docs.rid` (the event's position)
    new_rids: dict[str, int] = field(default_factory=dict)
    #: document -> (title, body) after the edits of this batch
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    deleted_docs: set[str] = field(default_factory=set)
    deleted_links: set[str] = field(default_factory=set)

    _by_kind: dict[str, list[Rec]] | None = None

    def of_kind(self, kind: str) -> list[Rec]:
        """The batch's records of one kind, in log order."""
        if self._by_kind is None:
            self._by_kind = {}
            for rec in self.recs:
                self._by_kind.setdefault(rec.kind, []).append(rec)
        return self._by_kind.get(kind, [])


def chunks(items: Iterable[Any], size: int = SQL_CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def select_in(db: sqlite_utils.Database, sql: str, values: Iterable[Any],
              params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run `sql` (which holds one `{marks}` for an IN list) over `values` in chunks."""
    out: list[tuple[Any, ...]] = []
    for part in chunks(values):
        marks = ",".join("?" * len(part))
        out.extend(tuple(r) for r in db.execute(sql.format(marks=marks), [*params, *part]))
    return out


def execute_in(db: sqlite_utils.Database, sql: str, values: Iterable[Any]) -> int:
    """Run a write statement holding one `{marks}` over `values` in chunks; rows changed."""
    changed = 0
    for part in chunks(values):
        marks = ",".join("?" * len(part))
        changed += db.execute(sql.format(marks=marks), part).rowcount
    return changed
