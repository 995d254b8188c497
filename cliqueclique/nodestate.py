"""A node's own operational state, beside its log in the same SQLite file.

Not events and not views: what a running node needs to remember about the
world, shared between `serve` and the CLI through SQLite (WAL), so commands
work while the node runs:

- `peers`: the peers we know (node id, addresses, connection state, failures,
  ban) — the persisted peer table the node reconnects from. Only peers added
  on purpose or that shared a document are kept for good; a peer that merely
  completed a handshake has no row, and automatic rows (bans, suggestions)
  are capped (`MAX_UNKEPT_PEERS`), so fresh keys cost O(1) and are forgotten;
- `joins`: forums the CLI asked to join through a peer, for the running node
  to act on;
- `status`: the running node's last published snapshot (progress, peers),
  for `cliqueclique status` and `peers`.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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


@migrations()
def m002_kept_peers(db: sqlite_utils.Database) -> None:
    # kept = 1: added on purpose (CLI, invite, `connect`) or shared a document with
    # us; kept = 0: remembered automatically (a ban, a suggestion we reached), capped
    # at MAX_UNKEPT_PEERS rows so fresh keys cannot grow the table.
    db.execute("ALTER TABLE peers ADD COLUMN kept INTEGER NOT NULL DEFAULT 1")
    db.execute("CREATE INDEX peers_unkept ON peers (kept, added)")


@dataclass
class Peer:
    id: str
    addresses: list[str] = field(default_factory=list)
    state: str = "known"
    failures: int = 0
    last_seen: float | None = None
    banned_until: float | None = None
    ban_reason: str | None = None
    kept: bool = True  # False: remembered automatically, may be forgotten (MAX_UNKEPT_PEERS)

    def banned(self, now: float) -> bool:
        return self.banned_until is not None and self.banned_until > now


#: rows of peers that never shared a document nor were added on purpose (bans of
#: peers met once, suggestions reached once); the oldest go beyond this
MAX_UNKEPT_PEERS = 1_000
_PEER_COLUMNS = "id, addresses, state, failures, last_seen, banned_until, ban_reason, kept"


F = TypeVar("F", bound=Callable[..., Any])


def _write(method: F) -> F:
    """A write of operational state: with `on_write` set (a running node), a
    failure (a full disk) is reported there and the write skipped, not raised."""
    @functools.wraps(method)
    def guarded(self: NodeState, *args: Any, **kwargs: Any) -> Any:
        try:
            value = method(self, *args, **kwargs)
        except StoreError as e:
            if self.on_write is None:
                raise
            self.on_write(method.__name__, e)
            return None
        if self.on_write is not None:
            self.on_write(method.__name__, None)
        return value
    return guarded  # type: ignore[return-value]


def _peer(row: Sequence[Any]) -> Peer:
    return Peer(row[0], json.loads(row[1]), row[2], row[3], row[4], row[5], row[6], bool(row[7]))


class NodeState:
    """Read and write the node's operational tables (its own connection)."""

    def __init__(self, path: str | Path,
                 on_write: Callable[[str, StoreError | None], None] | None = None) -> None:
        """`on_write(what, error)`: told of each write; given, failed writes are skipped, not raised."""
        self.on_write = on_write
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
        rows = self.db.execute(f"SELECT {_PEER_COLUMNS} FROM peers ORDER BY added").fetchall()
        return [_peer(r) for r in rows]

    def peer(self, peer_id: str) -> Peer | None:
        row = self.db.execute(f"SELECT {_PEER_COLUMNS} FROM peers WHERE id = ?", [peer_id]).fetchone()
        return _peer(row) if row else None

    def dial_candidates(self, now: float) -> list[Peer]:
        """Peers worth dialling: with an address, not banned at `now` (wall clock)."""
        rows = self.db.execute(
            f"SELECT {_PEER_COLUMNS} FROM peers WHERE addresses != '[]' "
            "AND (banned_until IS NULL OR banned_until <= ?) ORDER BY added", [now]).fetchall()
        return [_peer(r) for r in rows]

    def banned_among(self, peer_ids: Sequence[str], now: float) -> set[str]:
        """Which of `peer_ids` are banned at `now` (wall clock)."""
        found: set[str] = set()
        for i in range(0, len(peer_ids), 500):  # SQLite's bound on parameters
            chunk = list(peer_ids[i : i + 500])
            marks = ", ".join("?" * len(chunk))
            found.update(r[0] for r in self.db.execute(
                f"SELECT id FROM peers WHERE id IN ({marks}) AND banned_until > ?", [*chunk, now]))
        return found

    @_write
    def add_peer(self, peer_id: str, addresses: Sequence[str], *, kept: bool = True) -> None:
        """Remember a peer; new addresses go first, old ones are kept after them.

        `kept=False`: remembered automatically, not on purpose; such rows are
        capped at `MAX_UNKEPT_PEERS` (the oldest go) until `keep_peer`.
        """
        with self._tx():
            row = self.db.execute("SELECT addresses FROM peers WHERE id = ?", [peer_id]).fetchone()
            known = json.loads(row[0]) if row else []
            merged = list(dict.fromkeys([*addresses, *known]))
            if row:
                self.db.execute("UPDATE peers SET addresses = ?, kept = max(kept, ?) WHERE id = ?",
                                [json.dumps(merged), int(kept), peer_id])
            else:
                self.db.execute("INSERT INTO peers (id, addresses, added, kept) VALUES (?, ?, ?, ?)",
                                [peer_id, json.dumps(merged), time.time(), int(kept)])
            if not kept and not row:
                self.db.execute(
                    "DELETE FROM peers WHERE kept = 0 AND added <= (SELECT added FROM peers WHERE kept = 0 "
                    "ORDER BY added DESC LIMIT 1 OFFSET ?)", [MAX_UNKEPT_PEERS])

    @_write
    def keep_peer(self, peer_id: str, addresses: Sequence[str] = ()) -> None:
        """Remember a peer for good: it shared a document with us."""
        self.add_peer(peer_id, addresses, kept=True)

    @_write
    def update_peer(self, peer_id: str, **values: Any) -> None:
        allowed = {"state", "failures", "last_seen", "banned_until", "ban_reason"}
        if not values.keys() <= allowed:
            raise ValueError(f"unknown peer fields {set(values) - allowed}")
        sets = ", ".join(f"{k} = ?" for k in values)
        with self._tx():
            self.db.execute(f"UPDATE peers SET {sets} WHERE id = ?", [*values.values(), peer_id])

    # --- joins ------------------------------------------------------------------------

    @_write
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

    @_write
    def finish_join(self, document: str, peer: str) -> None:
        with self._tx():
            self.db.execute("UPDATE joins SET done = ? WHERE document = ? AND peer = ?",
                            [time.time(), document, peer])

    # --- status snapshot ---------------------------------------------------------------

    @_write
    def publish_status(self, key: str, value: Any) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO status (key, value, updated) VALUES (?, ?, ?)",
                            [key, json.dumps(value), time.time()])

    def read_status(self, key: str) -> tuple[Any, float] | None:
        """(value, age in seconds) of a published snapshot, or None."""
        row = self.db.execute("SELECT value, updated FROM status WHERE key = ?", [key]).fetchone()
        return (json.loads(row[0]), time.time() - row[1]) if row else None
