"""Garbage collection in the running node, and `gc` requests from the CLI.

The running node sweeps every `GcConfig.interval` (gc.py says what a sweep
keeps and forgets): the gossip machine says which networks it needs, the
writer runs the sweep (one transaction, then the vacuum that gives the space
back), and the machine is told what was forgotten. Nothing else writes the
log meanwhile: the writer is its only writer, and the node's lock keeps any
other process from running it.

`cliqueclique gc` run while `serve` runs must not write the log behind the
node's back, so it leaves a request in `gc_requests` (in the log's file) and
waits; the node answers it within a second with the report, as JSON, in the
same row. Without a running node the CLI takes the node's lock and sweeps
itself (`collect_offline`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils
import trio

from ..errors import NodeError, StoreError
from ..gc import GcConfig, GcReport, collect
from ..home import LocalNode
from .lock import run_lock, running_pid

if TYPE_CHECKING:
    from .core import Node

log = logging.getLogger("cliqueclique.node")
REQUEST_POLL = 0.25  # seconds between the node's (and the waiting CLI's) looks at requests
ANSWER_TIMEOUT = 120.0  # seconds the CLI waits for the running node's answer

migrations = sqlite_utils.Migrations("cliqueclique.gc")


@migrations()
def m001_gc_requests(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE gc_requests (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            dry_run INTEGER NOT NULL,
            retention REAL,            -- seconds; NULL: the node's own
            requested REAL NOT NULL,
            answered REAL,
            report TEXT,               -- JSON of the GcReport
            error TEXT
        )"""
    )


class GcRequests:
    """The `gc_requests` table (its own connection to the log's file)."""

    def __init__(self, path: str | Path) -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=10000")
            self.db = sqlite_utils.Database(conn)
            migrations.apply(self.db)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the gc requests in {path}: {e}") from e

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"gc request failed: {e}") from e

    def ask(self, dry_run: bool, retention: float | None) -> int:
        with self._errors():
            cursor = self.db.execute(
                "INSERT INTO gc_requests (dry_run, retention, requested) VALUES (?, ?, ?)",
                [int(dry_run), retention, time.time()])
            # old answers are of no use to anyone
            self.db.execute("DELETE FROM gc_requests WHERE answered IS NOT NULL AND answered < ?",
                            [time.time() - 3600])
        return int(cursor.lastrowid or 0)

    def open(self) -> list[tuple[int, bool, float | None]]:
        """(id, dry_run, retention) of each unanswered request, oldest first."""
        with self._errors():
            return [(r[0], bool(r[1]), r[2]) for r in self.db.execute(
                "SELECT id, dry_run, retention FROM gc_requests WHERE answered IS NULL ORDER BY id")]

    def answer(self, request: int, report: GcReport | None, error: str | None = None) -> None:
        with self._errors():
            self.db.execute("UPDATE gc_requests SET answered = ?, report = ?, error = ? WHERE id = ?",
                            [time.time(), None if report is None else json.dumps(report.as_json()),
                             error, request])

    def answer_of(self, request: int) -> tuple[dict[str, Any] | None, str | None] | None:
        """(report, error) once the node answered, else None."""
        with self._errors():
            row = self.db.execute("SELECT answered, report, error FROM gc_requests WHERE id = ?",
                                  [request]).fetchone()
        if row is None or row[0] is None:
            return None
        return (json.loads(row[1]) if row[1] else None), row[2]

    def withdraw(self, request: int) -> None:
        with self._errors():
            self.db.execute("DELETE FROM gc_requests WHERE id = ? AND answered IS NULL", [request])


def report_from_json(data: dict[str, Any]) -> GcReport:
    return GcReport(**data)


async def collect_now(node: Node, config: GcConfig, *, dry_run: bool = False) -> GcReport:
    """Sweep the running node's log now (see the module doc)."""
    await node.catch_up()  # a `gc` right after an `unsubscribe`: the machine knows of it
    needed = node.gossip.needed_networks()  # read between inputs: the machine is consistent
    now = int(time.time() * 1000)

    def run(store: Any) -> GcReport:
        return collect(store, node.id, now=now, retention=config.retention, needed=needed,
                       dry_run=dry_run, limit=config.max_per_sweep)

    report: GcReport = await node.writer.call(run)
    if report.forgotten and not dry_run:
        gone = list(report.forgotten)
        node._input(lambda t: node.gossip.forget(gone, t))
        log.info("garbage collection: %s documents, %s events forgotten, %s bytes reclaimed",
                 report.documents, report.events, report.bytes_reclaimed)
    return report


async def gc_loop(node: Node, config: GcConfig) -> None:
    """Sweep every `config.interval`; answer the CLI's requests as they come."""
    requests = GcRequests(node.local.log_path)
    next_sweep = trio.current_time() + config.interval
    try:
        while True:
            for request, dry_run, retention in await trio.to_thread.run_sync(requests.open):
                asked = config if retention is None else replace(config, retention=retention)
                try:
                    report = await collect_now(node, asked, dry_run=dry_run)
                except StoreError as e:
                    await trio.to_thread.run_sync(requests.answer, request, None, str(e))
                else:
                    await trio.to_thread.run_sync(requests.answer, request, report)
            if trio.current_time() >= next_sweep:
                next_sweep = trio.current_time() + config.interval
                try:
                    await collect_now(node, config)
                except StoreError as e:
                    log.warning("garbage collection failed (tried again in %.0f s): %s", config.interval, e)
            await trio.sleep(REQUEST_POLL)
    finally:
        requests.close()


def ask_running_node(local: LocalNode, dry_run: bool, retention: float | None,
                     timeout: float = ANSWER_TIMEOUT) -> GcReport:
    """Leave a request for the running node and wait for its answer.

    Raises:
        NodeError: it failed, stopped, or did not answer within `timeout`.
    """
    requests = GcRequests(local.log_path)
    try:
        request = requests.ask(dry_run, retention)
        deadline = time.monotonic() + timeout
        while True:
            answer = requests.answer_of(request)
            if answer is not None:
                report, error = answer
                if error is not None or report is None:
                    raise NodeError(f"garbage collection failed in the running node: {error}")
                return report_from_json(report)
            if running_pid(local) is None:
                requests.withdraw(request)
                raise NodeError("the running node stopped before it collected the garbage")
            if time.monotonic() > deadline:
                requests.withdraw(request)
                raise NodeError(f"the running node did not answer within {timeout:.0f} s")
            time.sleep(REQUEST_POLL)
    finally:
        requests.close()


def collect_offline(local: LocalNode, dry_run: bool, retention: float) -> GcReport:
    """Sweep with no node running, holding the node's lock (a `serve` starting
    meanwhile is refused until it is done).

    Raises:
        NodeRunning: a node started running meanwhile (ask it instead).
    """
    with run_lock(local):
        store = local.open_store()
        try:
            return collect(store, local.id, now=int(time.time() * 1000), retention=retention,
                           dry_run=dry_run)
        finally:
            store.close()
