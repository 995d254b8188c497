"""The light record every view folds over, and reading it back from the log.

Views need only a few columns of an event, and replay reads every event of
the log, so they work on `Rec` tuples read straight from the `events` table
instead of full `Event` objects (no header parsing): this is most of what
makes replay fast. `body` is the decoded JSON body (a dict), the raw update
bytes of an edit, or None once purged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import sqlite_utils

from ..eventlog.events import StoredEvent

READ_CHUNK = 5000


class Rec(NamedTuple):
    position: int
    id: str
    kind: str
    author: str
    network: str
    seq: int
    timestamp: int
    body: Any


def _decode(kind: str, body: bytes | None) -> Any:
    if body is None:
        return None
    if kind == "edit":
        return bytes(body)
    return json.loads(body)


def from_stored(events: Sequence[StoredEvent]) -> list[Rec]:
    """Records for events handed over by the store inside its append transaction."""
    out = []
    for stored in events:
        e = stored.event
        kind = e.kind.value
        out.append(Rec(stored.position, e.id, kind, e.author, e.network, e.seq, e.timestamp,
                       _decode(kind, e.body)))
    return out


def read_log(db: sqlite_utils.Database, after: int, upto: int | None = None) -> Iterator[list[Rec]]:
    """Records of the log's events with `after < position <= upto`, in chunks, in log order."""
    sql = ("SELECT position, id, kind, author, network, seq, timestamp, body FROM events "
           "WHERE position > ?" + (" AND position <= ?" if upto is not None else "")
           + " ORDER BY position")
    cursor = db.execute(sql, [after] if upto is None else [after, upto])
    while True:
        rows = cursor.fetchmany(READ_CHUNK)
        if not rows:
            return
        yield [Rec(p, i, k, a, n, s, t, _decode(k, b)) for p, i, k, a, n, s, t, b in rows]
