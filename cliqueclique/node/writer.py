"""The node's single SQLite writer: group commit off the event loop.

Everyone who wants to write (gossip storage requests, local posts, joins)
queues a job; the writer task takes every job queued so far, runs them in one
worker thread, and merges consecutive appends into one `append_many` call, so
a burst of incoming events costs one transaction. The event loop never waits
on SQLite, and a job that was acknowledged is committed (synchronous=FULL).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from ..errors import NodeError, StoreError
from ..eventlog import AppendResult, Event, SQLiteStore

MAX_BATCH_EVENTS = 20_000  # bound one transaction (and the memory it holds)
#: seconds before a failed append of peers' events (a full disk) is tried again; the
#: events stay queued meanwhile, so `wait_for_room` keeps slowing the peers down
RETRY_DELAY = 1.0


@dataclass(eq=False)
class _Job:
    events: Sequence[Event | bytes] = ()
    call: Callable[[SQLiteStore], Any] | None = None
    on_done: Callable[[_Job], None] | None = None
    on_failure: Callable[[BaseException], None] | None = None  # given: retried, not failed
    results: list[AppendResult] = field(default_factory=list)
    value: Any = None
    error: BaseException | None = None
    done: trio.Event = field(default_factory=trio.Event)


class LogWriter:
    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self._send, self._receive = trio.open_memory_channel[_Job](math.inf)
        self.batches = 0  # transactions run (for status and tests)
        self.backlog = 0  # events queued or being written
        self._drained = trio.Event()
        #: positions this writer filled that `new_from_others` has not passed yet
        #: (touched only in the writer thread, so no race with other processes' appends)
        self._own: set[int] = set()
        self._seen_position = store.last_position()
        self._retries: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            async with trio.open_nursery() as nursery:
                self._retries = nursery
                await self._serve()
        finally:
            self._fail_queued()

    def _fail_queued(self) -> None:
        """The writer is gone (cancelled): wake everyone still waiting, with an error."""
        self._send.close()
        while True:
            try:
                job = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            job.error = NodeError("the node is stopping: not written")
            job.done.set()

    async def _serve(self) -> None:
        async for first in self._receive:
            jobs, size = [first], len(first.events)
            while size < MAX_BATCH_EVENTS:
                try:
                    job = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                jobs.append(job)
                size += len(job.events)
            # Not abandoned on cancellation: a started transaction always finishes.
            await trio.to_thread.run_sync(self._execute, jobs)
            self.batches += 1
            self.backlog -= size
            self._drained.set()
            self._drained = trio.Event()
            for job in jobs:
                if isinstance(job.error, StoreError) and job.on_failure is not None:
                    assert self._retries is not None
                    job.on_failure(job.error)
                    job.error = None
                    self.backlog += len(job.events)  # still queued: peers keep being slowed down
                    self._retries.start_soon(self._retry, job)
                    continue
                job.done.set()
                if job.on_done is not None:
                    job.on_done(job)

    def _execute(self, jobs: list[_Job]) -> None:
        """Runs in the worker thread: consecutive appends share one transaction."""
        i = 0
        while i < len(jobs):
            if jobs[i].call is not None:
                job = jobs[i]
                try:
                    job.value = job.call(self.store)  # type: ignore[misc]
                except Exception as e:  # handed back to the caller, not lost
                    job.error = e
                i += 1
                continue
            group = []
            while i < len(jobs) and jobs[i].call is None:
                group.append(jobs[i])
                i += 1
            self._append_group(group)

    def _append_group(self, group: list[_Job]) -> None:
        try:
            results = self.store.append_many([e for job in group for e in job.events])
        except Exception as e:
            for job in group:
                job.error = e
            return
        self._own.update(r.position for r in results if r.position is not None)
        offset = 0
        for job in group:
            job.results = results[offset : offset + len(job.events)]
            offset += len(job.events)

    async def _retry(self, job: _Job) -> None:
        await trio.sleep(RETRY_DELAY)
        try:
            self._send.send_nowait(job)
        except trio.ClosedResourceError:
            pass  # stopping: the peer will send these again next time

    def submit(self, events: Sequence[Event | bytes], on_done: Callable[[_Job], None],
               on_failure: Callable[[BaseException], None] | None = None) -> None:
        """Queue an append without waiting; `on_done(job)` runs in the event loop.

        `on_failure(error)`: given, a failed append (a full disk) is reported
        there and retried every `RETRY_DELAY` seconds instead of failing.
        """
        try:
            self._send.send_nowait(_Job(events=list(events), on_done=on_done, on_failure=on_failure))
            self.backlog += len(events)
        except trio.ClosedResourceError:
            pass  # stopping: the peer will send these again next time

    async def wait_for_room(self, limit: int) -> None:
        """Wait until at most `limit` events are queued: readers of the network
        call this so a fast peer cannot make us buffer more than we can write."""
        while self.backlog > limit:
            await self._drained.wait()

    async def append(self, events: Sequence[Event | bytes]) -> list[AppendResult]:
        """Append and wait for the commit."""
        job = _Job(events=list(events))
        return (await self._wait(job)).results

    def mark_own(self, events: Iterable[Event]) -> None:
        """Record events a `call` job appended itself (call from inside that job)."""
        self._own.update(p for p in map(self.store.position_of, (e.id for e in events)) if p)

    async def new_from_others(self) -> list[Event]:
        """Events other processes (the CLI) appended since the last call, in log order."""
        def scan(store: SQLiteStore) -> list[Event]:
            positions = store.positions_after(self._seen_position)
            if positions:
                self._seen_position = positions[-1]
            others = [p for p in positions if p not in self._own]
            self._own.difference_update(positions)
            return [s.event for p in others for s in store.events(after=p - 1, limit=1)]

        return await self.call(scan)  # type: ignore[no-any-return]

    async def call(self, fn: Callable[[SQLiteStore], Any]) -> Any:
        """Run `fn(store)` in the writer thread, in order with everything else queued.

        Raises:
            Whatever `fn` raised.
        """
        return (await self._wait(_Job(call=fn))).value

    async def _wait(self, job: _Job) -> _Job:
        try:
            await self._send.send(job)
            self.backlog += len(job.events)
        except trio.ClosedResourceError:
            raise NodeError("the node is stopping: not written") from None
        await job.done.wait()
        if job.error is not None:
            raise job.error
        return job

