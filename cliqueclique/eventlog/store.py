"""The SQLite event log: the source of truth of one local node.

One append-only table, `events`, ordered by a local, increasing `position`.
The header, body and signature are stored exactly as received; the other
columns are indexes over the header. Durability: WAL with synchronous=FULL,
and every batch is one transaction, so an append that returned survives
kill -9 (and power loss), and an interrupted one leaves no trace.

A document deletion purges the bodies of the document and its edits in the
same transaction (secure_delete overwrites the freed bytes); the headers stay,
so ids, signatures and chains still verify.

Views register as *projectors*: they are called inside the append
transaction with the newly stored events, so a view can never be ahead of or
behind the log.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from ..errors import StoreError
from .base import MAX_EVIDENCE, MAX_FORGET_RECORDS, EventStore, ForgetRecord
from .codec import decode_wire
from .events import Event, Kind, StoredEvent
from .signatures import SignatureCache
from .validation import PURGEABLE

migrations = sqlite_utils.Migrations("cliqueclique.eventlog")
# `heads_many` of at least this many networks asks the chain index once per
# author when the log has at most MAX_AUTHORS_BY_AUTHOR of them.
HEADS_BY_AUTHOR = 1000
MAX_AUTHORS_BY_AUTHOR = 64


@migrations()
def m001_events(db: sqlite_utils.Database) -> None:
    db.execute(
        """
        CREATE TABLE events (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            author TEXT NOT NULL,
            network TEXT NOT NULL,
            seq INTEGER NOT NULL,
            prev TEXT,
            timestamp INTEGER NOT NULL,
            ref TEXT,           -- link child, deletion target, subscription document
            header BLOB NOT NULL,
            body BLOB,          -- NULL once purged by a deletion
            signature BLOB NOT NULL
        )"""
    )
    # The chain index doubles as the author index (author is its first column).
    db.execute("CREATE UNIQUE INDEX events_chain ON events(author, network, seq)")
    db.execute("CREATE INDEX events_network ON events(network, position)")
    db.execute("CREATE INDEX events_kind ON events(kind, position)")
    db.execute("CREATE INDEX events_ref ON events(ref)")
    db.execute(
        """
        CREATE TABLE equivocations (
            id TEXT PRIMARY KEY,
            wire BLOB NOT NULL,
            conflicts_with TEXT,
            recorded_at INTEGER NOT NULL
        )"""
    )


@migrations()
def m002_network_kind(db: sqlite_utils.Database) -> None:
    # Without it, a query by network and kind (a network's links, the local
    # subscriptions, a document's deletions) walks every event of that kind in
    # the whole log through events_kind: export and link indexing went quadratic.
    db.execute("CREATE INDEX events_network_kind ON events(network, kind, position)")


@migrations()
def m003_garbage_collection(db: sqlite_utils.Database) -> None:
    # Not the log and not views (replay keeps them): what garbage collection
    # (gc.py) remembers. gc_unwanted: since when each network is unwanted (ms,
    # wall clock), so the retention survives restarts; gc_forgotten: what it
    # removed, and when (ids and counts only, never content).
    db.execute("CREATE TABLE gc_unwanted (network TEXT PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID")
    db.execute(
        """CREATE TABLE gc_forgotten (
            network TEXT NOT NULL,
            document INTEGER NOT NULL,
            events INTEGER NOT NULL,
            unwanted_since INTEGER NOT NULL,
            forgotten_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX gc_forgotten_at ON gc_forgotten(forgotten_at)")


class Projector(Protocol):
    """A view kept in step with the log inside each append transaction."""

    def apply(self, db: sqlite_utils.Database, events: Sequence[StoredEvent]) -> None: ...


_COLUMNS = "position, id, kind, author, network, seq, prev, timestamp, ref, header, body, signature"


def last_position(db: sqlite_utils.Database) -> int:
    """The highest position the log ever gave (AUTOINCREMENT: never reused)."""
    (position,) = db.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return int(position)


def _row_to_stored(row: Sequence[Any]) -> StoredEvent:
    position, event_id, kind, author, network, seq, prev, ts, ref, header, body, signature = row
    fields = json.loads(header)  # trusted: it was validated when appended
    return StoredEvent(
        position,
        Event(
            id=event_id, version=1, kind=Kind(kind), author=author, network=network, seq=seq,
            prev=prev, timestamp=ts, body_hash=fields["body"], body_size=fields["size"],
            header=bytes(header), body=None if body is None else bytes(body),
            signature=bytes(signature), ref=ref,
        ),
    )


class _SQLiteWriter:
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.rolled_back = False
        self.purged = False

    def write(self, events: list[Event]) -> list[int]:
        positions = self.store._insert(events)
        self.purged |= self.store._purge_deleted(events)
        return positions

    def rollback(self) -> None:
        self.rolled_back = True


class SQLiteStore(EventStore):
    """An event log in one SQLite file (created on first open)."""

    def __init__(
        self,
        path: str | Path,
        *,
        signature_cache: SignatureCache | None = None,
        projectors: Iterable[Projector] = (),
    ) -> None:
        self.path = Path(path)
        self.signature_cache = signature_cache
        self.projectors = list(projectors)
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # A new log gives freed pages back to the file (garbage collection runs
            # an incremental vacuum); only possible before the first table exists.
            # Only then: on an existing log the pragma writes, and a read on a full
            # disk must still open.
            if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA cache_size=-16384")  # 16 MiB: keep the hot indexes cached
            # Checkpoint every 16 MiB of WAL rather than 4: each checkpoint costs an
            # fsync of the database inside some commit, and big batches hit it often.
            conn.execute("PRAGMA wal_autocheckpoint=4096")
            self.db = sqlite_utils.Database(conn)
            migrations.apply(self.db)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open log {self.path}: {e}") from e

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"log query failed: {e}") from e

    def _query_in(self, sql: str, values: Iterable[str], params: Sequence[Any] = ()) -> Iterator[Any]:
        """Rows of `sql` with its ``IN ({})`` filled with `values`, 500 at a
        time (SQLite limits bound variables), so ORDER BY holds per 500;
        `params` bind the placeholders before the ``IN``."""
        wanted = list(values)
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            yield from self._query(sql.format(",".join("?" * len(chunk))), [*params, *chunk])

    # --- lookups ------------------------------------------------------------------

    def get(self, event_id: str) -> Event | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM events WHERE id = ?", [event_id])
        return _row_to_stored(rows[0]).event if rows else None

    def position_of(self, event_id: str) -> int | None:
        rows = self._query("SELECT position FROM events WHERE id = ?", [event_id])
        return rows[0][0] if rows else None

    def head(self, author: str, network: str) -> tuple[int, str] | None:
        rows = self._query(
            "SELECT seq, id FROM events WHERE author = ? AND network = ? ORDER BY seq DESC LIMIT 1",
            [author, network],
        )
        return (rows[0][0], rows[0][1]) if rows else None

    def heads_many(self, networks: Iterable[str]) -> dict[str, dict[str, int]]:
        networks = list(networks)
        found: dict[str, dict[str, int]] = {}
        authors = self._few_authors() if len(networks) >= HEADS_BY_AUTHOR else None
        if authors is not None:
            # Many networks, few authors (a big log's start-up): the chain index
            # answers each (author, network) by itself, where events_network
            # reads every event's row (10,000 forums of 1M events: 1.6 s -> 0.5 s).
            sql = "SELECT network, max(seq) FROM events WHERE author = ? AND network IN ({}) GROUP BY network"
            for author in authors:
                for network, seq in self._query_in(sql, networks, (author,)):
                    found.setdefault(network, {})[author] = seq
            return found
        sql = "SELECT network, author, max(seq) FROM events WHERE network IN ({}) GROUP BY network, author"
        for network, author, seq in self._query_in(sql, networks):
            found.setdefault(network, {})[author] = seq
        return found

    def _few_authors(self) -> list[str] | None:
        """Every author in the log, if there are at most MAX_AUTHORS_BY_AUTHOR
        (one seek of the chain index each), else None."""
        authors: list[str] = []
        last = ""
        while len(authors) <= MAX_AUTHORS_BY_AUTHOR:
            rows = self._query("SELECT author FROM events WHERE author > ? ORDER BY author LIMIT 1", [last])
            if not rows:
                return authors
            last = rows[0][0]
            authors.append(last)
        return None

    def link_networks(self, children: Iterable[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        # '+kind': by events_ref; events_kind would walk every link in the log per chunk.
        sql = ("SELECT ref, network FROM events WHERE ref IN ({}) AND +kind = 'link' "
               "AND body IS NOT NULL")
        for child, network in self._query_in(sql, children):
            found.setdefault(child, set()).add(network)
        return found

    def link_children(self, networks: Iterable[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        sql = ("SELECT network, ref FROM events WHERE network IN ({}) AND kind = 'link' "
               "AND ref IS NOT NULL AND body IS NOT NULL")
        for network, child in self._query_in(sql, networks):
            found.setdefault(network, set()).add(child)
        return found

    def events_in(self, networks: Iterable[str]) -> list[Event]:
        sql = f"SELECT {_COLUMNS} FROM events WHERE network IN ({{}}) ORDER BY position"
        return [_row_to_stored(row).event for row in self._query_in(sql, networks)]

    def chain_after(self, author: str, network: str, seq: int) -> list[Event]:
        rows = self._query(f"SELECT {_COLUMNS} FROM events WHERE author = ? AND network = ? AND seq > ? "
                           "ORDER BY seq", [author, network, seq])
        return [_row_to_stored(row).event for row in rows]

    def at(self, author: str, network: str, seq: int) -> str | None:
        rows = self._query(
            "SELECT id FROM events WHERE author = ? AND network = ? AND seq = ?", [author, network, seq]
        )
        return rows[0][0] if rows else None

    def is_deleted(self, document_id: str) -> bool:
        return bool(self._query(
            "SELECT 1 FROM events WHERE ref = ? AND kind = 'deletion' AND network = ? LIMIT 1",
            [document_id, document_id],
        ))

    def editor_grants(self, document_id: str, author: str) -> list[Event]:
        # The chain index (author, network, seq) finds them among the author's own events.
        rows = self._query(f"SELECT {_COLUMNS} FROM events WHERE author = ? AND network = ? "
                           "AND kind = 'editors' ORDER BY seq", [author, document_id])
        return [_row_to_stored(row).event for row in rows]

    def present(self, event_ids: Iterable[str]) -> set[str]:
        return {row[0] for row in self._query_in("SELECT id FROM events WHERE id IN ({})", event_ids)}

    def ids_with_prefix(self, prefix: str, kind: Kind | None = None, limit: int = 2) -> list[str]:
        """Ids starting with `prefix` (for short ids typed by people)."""
        sql = "SELECT id FROM events WHERE id >= ? AND id < ?"
        params: list[Any] = [prefix, prefix + "g"]  # 'g' sorts after every hex digit
        if kind is not None:
            sql += " AND +kind = ?"  # '+': filter only; events_kind would walk every event of the kind
            params.append(kind.value)
        return [r[0] for r in self._query(sql + f" LIMIT {int(limit)}", params)]

    def events(
        self,
        *,
        network: str | None = None,
        author: str | None = None,
        kind: Kind | str | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> Iterator[StoredEvent]:
        where, params = ["position > ?"], list[Any]([after])
        # By network: events_network or events_network_kind. By author alone: the
        # chain index, with the kind only a filter ('+kind' keeps the planner off
        # events_kind, which would walk every event of that kind in the log).
        kind_column = "+kind" if network is None and author is not None else "kind"
        for column, value in (("network", network), ("author", author), (kind_column, kind)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY position"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        try:
            for row in self.db.execute(sql, params):
                yield _row_to_stored(row)
        except sqlite3.Error as e:
            raise StoreError(f"log query failed: {e}") from e

    def positions_after(self, position: int) -> list[int]:
        """Log positions after `position` (an index-only scan: cheap even when long)."""
        return [r[0] for r in self._query("SELECT position FROM events WHERE position > ? ORDER BY position",
                                          [position])]

    def count(self, kind: Kind | None = None) -> int:
        """Events in the log (of one kind, if given)."""
        if kind is None:
            return int(self._query("SELECT count(*) FROM events")[0][0])
        return int(self._query("SELECT count(*) FROM events WHERE kind = ?", [kind.value])[0][0])

    def last_position(self) -> int:
        """The last position ever given (positions are never reused, even when
        garbage collection forgets the events that had them)."""
        return last_position(self.db)

    def equivocations(self) -> list[tuple[str, bytes, str | None]]:
        return [(r[0], bytes(r[1]), r[2]) for r in
                self._query("SELECT id, wire, conflicts_with FROM equivocations ORDER BY recorded_at")]

    # --- writes ---------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[_SQLiteWriter]:
        # IMMEDIATE takes the write lock up front, so positions read inside the
        # transaction stay valid even when the CLI and `serve` share the file.
        writer = _SQLiteWriter(self)
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield writer
            except BaseException:
                self.db.conn.rollback()
                raise
            if writer.rolled_back:
                self.db.conn.rollback()
            else:
                self.db.execute("COMMIT")
        except sqlite3.Error as e:
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            raise StoreError(f"append failed, nothing written: {e}") from e
        if writer.purged and not writer.rolled_back:
            self._checkpoint()

    def _insert(self, events: list[Event]) -> list[int]:
        """Insert rows, purge what they delete, run projectors (inside a transaction)."""
        rows = [
            (e.id, e.kind.value, e.author, e.network, e.seq, e.prev, e.timestamp, e.ref,
             e.header, e.body, e.signature)
            for e in events
        ]
        counter = last_position(self.db)
        self.db.conn.executemany(
            "INSERT INTO events (id, kind, author, network, seq, prev, timestamp, ref, "
            "header, body, signature) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        positions = list(range(counter + 1, counter + 1 + len(rows)))
        stored = [StoredEvent(p, e) for p, e in zip(positions, events)]
        for projector in self.projectors:
            projector.apply(self.db, stored)
        return positions

    def _purge_deleted(self, events: Sequence[Event]) -> bool:
        """Drop the content a document deletion retracts (document and edit bodies)."""
        documents = [e.network for e in events
                     if e.kind is Kind.DELETION and e.ref == e.network]
        for document in documents:
            kinds = ",".join(f"'{k.value}'" for k in PURGEABLE)
            self.db.execute(f"UPDATE events SET body = NULL WHERE network = ? AND kind IN ({kinds})",
                            [document])
        return bool(documents)

    def _checkpoint(self) -> None:
        """Move purged pages out of the WAL so old content leaves the disk too."""
        try:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass  # a reader holds the WAL; the next checkpoint completes the purge

    def _record_equivocation(self, event: Event, existing: str | None) -> None:
        try:
            with self.db.atomic():
                # Bounded: fresh keys can fork without end; the first forks are kept.
                if self.db.execute("SELECT count(*) FROM equivocations").fetchone()[0] >= MAX_EVIDENCE:
                    return
                self.db.execute(
                    "INSERT OR IGNORE INTO equivocations (id, wire, conflicts_with, recorded_at) "
                    "VALUES (?,?,?,?)",
                    [event.id, event.wire, existing, int(time.time() * 1000)],
                )
        except sqlite3.Error as e:
            raise StoreError(f"cannot record equivocation evidence: {e}") from e

    # --- garbage collection (gc.py) ------------------------------------------------------

    def networks(self) -> set[str]:
        return {r[0] for r in self._query("SELECT DISTINCT network FROM events")}

    def networks_by(self, author: str) -> set[str]:
        return {r[0] for r in self._query("SELECT DISTINCT network FROM events WHERE author = ?", [author])}

    def thread_parents(self, docs: Iterable[str]) -> dict[str, set[str]]:
        if not any(hasattr(p, "forget") for p in self.projectors):  # no views: no edges table
            return super().thread_parents(docs)
        found: dict[str, set[str]] = {}
        for below, above in self._query_in("SELECT below, above FROM edges WHERE below IN ({})", docs):
            found.setdefault(below, set()).add(above)
        return found

    @contextmanager
    def gc_transaction(self, *, write: bool = True) -> Iterator[None]:
        try:
            self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield
            except BaseException:
                self.db.conn.rollback()
                raise
            if write:
                self.db.execute("COMMIT")
            else:
                self.db.conn.rollback()
        except sqlite3.Error as e:
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            raise StoreError(f"garbage collection failed, nothing forgotten: {e}") from e

    def gc_marks(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._query("SELECT network, since FROM gc_unwanted")}

    def set_gc_marks(self, add: Mapping[str, int], remove: Iterable[str]) -> None:
        removed = list(remove)
        for i in range(0, len(removed), 500):
            chunk = removed[i : i + 500]
            self.db.execute(f"DELETE FROM gc_unwanted WHERE network IN ({','.join('?' * len(chunk))})", chunk)
        self.db.conn.executemany("INSERT OR REPLACE INTO gc_unwanted (network, since) VALUES (?, ?)",
                                 list(add.items()))

    def forget(self, networks: Mapping[str, int], at: int) -> dict[str, int]:
        nets = list(networks)
        if not nets:
            return {}
        counts = {net: 0 for net in nets}
        counts.update({r[0]: int(r[1]) for r in self._query_in(
            "SELECT network, count(*) FROM events WHERE network IN ({}) GROUP BY network", nets)})
        documents = {r[0] for r in self._query_in(
            "SELECT id FROM events WHERE id IN ({}) AND kind = 'document'", nets)}
        for projector in self.projectors:
            forget = getattr(projector, "forget", None)
            if forget is not None:
                forget(self.db, nets)  # the views first: they read the rows that go
        gone = set(nets)
        evidence = [event_id for event_id, wire, _ in self.equivocations()
                    if decode_wire(wire).network in gone]
        for i in range(0, len(nets), 500):
            chunk = nets[i : i + 500]
            marks = ",".join("?" * len(chunk))
            self.db.execute(f"DELETE FROM events WHERE network IN ({marks})", chunk)
            self.db.execute(f"DELETE FROM gc_unwanted WHERE network IN ({marks})", chunk)
        self.db.conn.executemany("DELETE FROM equivocations WHERE id = ?", [(i,) for i in evidence])
        self.db.conn.executemany(
            "INSERT INTO gc_forgotten (network, document, events, unwanted_since, forgotten_at) "
            "VALUES (?,?,?,?,?)",
            [(net, int(net in documents), counts[net], networks[net], at) for net in nets])
        self.db.execute("DELETE FROM gc_forgotten WHERE rowid <= (SELECT max(rowid) FROM gc_forgotten) - ?",
                        [MAX_FORGET_RECORDS])
        return counts

    def forgotten(self, limit: int | None = None) -> list[ForgetRecord]:
        sql = ("SELECT network, document, events, unwanted_since, forgotten_at FROM gc_forgotten "
               "ORDER BY forgotten_at DESC, rowid DESC")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [ForgetRecord(r[0], bool(r[1]), r[2], r[3], r[4]) for r in self._query(sql)]

    def checkpoint(self) -> None:
        """Copy the WAL into the database and empty it (if no reader is in the way)."""
        self._checkpoint()

    def file_bytes(self) -> int:
        """Bytes of the log's files on disk (the database and its WAL)."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def reclaim(self) -> None:
        """Give freed pages back to the file system: an incremental vacuum (a
        whole VACUUM, once, for a log created before auto_vacuum was set), then
        a checkpoint that empties the WAL. Call outside any transaction.

        Raises:
            StoreError: SQLite failed (nothing is lost: the space stays free inside the file).
        """
        try:
            if self.db.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:  # 2: INCREMENTAL
                self.db.execute("PRAGMA auto_vacuum=INCREMENTAL")
                self.db.execute("VACUUM")
            else:
                # executescript steps it to the end (one sqlite3_step frees one page)
                self.db.conn.executescript("PRAGMA incremental_vacuum;")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"cannot give the freed space back: {e}") from e
