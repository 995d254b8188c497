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


def _decode_all(kinds: Sequence[str], bodies: Sequence[bytes | None]) -> list[Any]:
    """Decode many bodies at once.

    JSON bodies are canonical (the log checked them), so joining them into one
    array and parsing that once gives the same values as parsing each, at a
    fraction of the per-call cost that dominates replay.
    """
    out: list[Any] = [None] * len(bodies)
    json_at = []
    for i, (kind, body) in enumerate(zip(kinds, bodies)):
        if body is None:
            continue
        if kind == "edit":
            out[i] = bytes(body)
        else:
            json_at.append(i)
    if json_at:
        text = b"[" + b",".join([bodies[i] for i in json_at]) + b"]"  # type: ignore[misc]
        for i, value in zip(json_at, json.loads(text)):
            out[i] = value
    return out


def from_stored(events: Sequence[StoredEvent]) -> list[Rec]:
    """Records for events handed over by the store inside its append transaction."""
    kinds = [s.event.kind.value for s in events]
    bodies = _decode_all(kinds, [s.event.body for s in events])
    return [Rec(s.position, s.event.id, kind, s.event.author, s.event.network, s.event.seq,
                s.event.timestamp, body) for s, kind, body in zip(events, kinds, bodies)]


def read_log(db: sqlite_utils.Database, after: int, upto: int | None = None,
             chunk: int = READ_CHUNK) -> Iterator[list[Rec]]:
    """Records of the log's events with `after < position <= upto`, in chunks, in log order."""
    sql = ("SELECT position, id, kind, author, network, seq, timestamp, body FROM events "
           "WHERE position > ?" + (" AND position <= ?" if upto is not None else "")
           + " ORDER BY position")
    cursor = db.execute(sql, [after] if upto is None else [after, upto])
    while True:
        rows = cursor.fetchmany(chunk)
        if not rows:
            return
        bodies = _decode_all([r[2] for r in rows], [r[7] for r in rows])
        yield [Rec(p, i, k, a, n, s, t, body) for (p, i, k, a, n, s, t, _), body in zip(rows, bodies)]
