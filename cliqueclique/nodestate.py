"""A node's own operational state, beside its log in the same SQLite file.

Not events and not views: what a running node needs to remember about the
world, shared between `serve` and the CLI through SQLite (WAL), so commands
work while the node runs:

- `peers`: every peer we know (node id, addresses, connection state, failures,
  ban) — the persisted peer table the node reconnects from;
- `joins`: forums the CLI asked to join through a peer, for the running node
  to act on;
- `status`: the running node's last published snapshot (progress, peers),
  for `cliqueclique status` and `peers`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from .errors import StoreError

migrations = sqlite_utils.Migrations("cliqueclique.node")


@migrations()
def m001_node_state(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE peers (
            id TEXT PRIMARY KEY,
            addresses TEXT NOT NULL DEFAULT '[]',   -- JSON list of address strings
            state TEXT NOT NULL DEFAULT 'known',     -- known | connected | banned
            failures INTEGER NOT NULL DEFAULT 0,
            last_seen REAL,
            banned_until REAL,
            ban_reason TEXT,
            added REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE joins (
            document TEXT NOT NULL,
            peer TEXT NOT NULL,
            requested REAL NOT NULL,
            done REAL,
            PRIMARY KEY (document, peer)
        )"""
    )
    db.execute("CREATE TABLE status (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL)")


@dataclass
class Peer:
    id: str
    addresses: list[str] = field(default_factory=list)
    state: str = "known"
    failures: int = 0
    last_seen: float | None = None
    banned_until: float | None = None
    ban_reason: str | None = None

    def banned(self, now: float) -> bool:
        return self.banned_until is not None and self.banned_until > now


class NodeState:
    """Read and write the node's operational tables (its own connection)."""

    def __init__(self, path: str | Path) -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            # Operational state, rewritten every second: no fsync per write (WAL
            # keeps it consistent; a power cut may cost the last snapshot).
            conn.execute("PRAGMA synchronous=NORMAL")
            self.db = sqlite_utils.Database(conn)
            migrations.apply(self.db)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open node state in {path}: {e}") from e

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        # IMMEDIATE, not deferred: a deferred transaction that reads first and
        # then writes fails at once with SQLITE_BUSY ("database is locked", the
        # busy timeout does not apply) if the log writer commits in between, as
        # it does all the time on a busy node. Taking the write lock up front
        # waits for the writer instead.
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise StoreError(f"node state write failed: {e}") from e

    # --- peers ------------------------------------------------------------------------

    def peers(self) -> list[Peer]:
        rows = self.db.execute(
            "SELECT id, addresses, state, failures, last_seen, banned_until, ban_reason FROM peers ORDER BY added"
        ).fetchall()
        return [Peer(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def peer(self, peer_id: str) -> Peer | None:
        return next((p for p in self.peers() if p.id == peer_id), None)

    def add_peer(self, peer_id: str, addresses: Sequence[str]) -> None:
        """Remember a peer; new addresses go first, old ones are kept after them."""
        with self._tx():
            row = self.db.execute("SELECT addresses FROM peers WHERE id = ?", [peer_id]).fetchone()
            known = json.loads(row[0]) if row else []
            merged = list(dict.fromkeys([*addresses, *known]))
            if row:
                self.db.execute("UPDATE peers SET addresses = ? WHERE id = ?", [json.dumps(merged), peer_id])
            else:
                self.db.execute("INSERT INTO peers (id, addresses, added) VALUES (?, ?, ?)",
                                [peer_id, json.dumps(merged), time.time()])

    def update_peer(self, peer_id: str, **values: Any) -> None:
        allowed = {"state", "failures", "last_seen", "banned_until", "ban_reason"}
        if not values.keys() <= allowed:
            raise ValueError(f"unknown peer fields {set(values) - allowed}")
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._tx():
            self.db.execute(f"UPDATE peers SET {sets} WHERE id = ?", [*values.values(), peer_id])

    # --- joins ------------------------------------------------------------------------

    def request_join(self, document: str, peer: str) -> float:
        """Ask the running node to join `document` through `peer`; return when asked."""
        requested = time.time()
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO joins (document, peer, requested) VALUES (?, ?, ?)",
                            [document, peer, requested])
        return requested

    def pending_joins(self) -> list[tuple[str, str, float]]:
        """(document, peer, requested) of each join not taken up yet, oldest first."""
        return [(r[0], r[1], r[2]) for r in self.db.execute(
            "SELECT document, peer, requested FROM joins WHERE done IS NULL ORDER BY requested")]

    def finish_join(self, document: str, peer: str) -> None:
        with self._tx():
            self.db.execute("UPDATE joins SET done = ? WHERE document = ? AND peer = ?",
                            [time.time(), document, peer])

    # --- status snapshot ---------------------------------------------------------------

    def publish_status(self, key: str, value: Any) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO status (key, value, updated) VALUES (?, ?, ?)",
                            [key, json.dumps(value), time.time()])

    def read_status(self, key: str) -> tuple[Any, float] | None:
        """(value, age in seconds) of a published snapshot, or None."""
        row = self.db.execute("SELECT value, updated FROM status WHERE key = ?", [key]).fetchone()
        return (json.loads(row[0]), time.time() - row[1]) if row else None
