"""Signature checks in helper processes, so big batches use every core.

Decoding and validating events is Python code that holds the GIL nearly all
the time, which starves verifier *threads* even though pynacl releases the
GIL; so big chunks go to helper *processes* instead. They are plain
subprocesses running `verify_helper.py`, not multiprocessing, so embedding
programs need no `__main__` guard.

No thread of ours waits on the pipes: a request is written straight into the
helper's pipe (enlarged, so a whole batch fits without blocking) and its reply
is read when the caller needs the verdicts. Threads that shuttle bytes would
each wait up to a GIL switch interval (5 ms) at every step while the decoding
thread holds the GIL, which left the helpers idle.

If a helper cannot be started or dies, callers fall back to checking in
process: correctness never depends on the helpers.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from .codec import signature_holds
from .verify_helper import encode_request, read_exact

_HELPER_SCRIPT = str(Path(__file__).with_name("verify_helper.py"))
PIPE_SIZE = 1 << 20  # a 2,000-event batch is about 1 MB of requests over all helpers
#: Requests in flight per helper: its replies (a few hundred bytes each) must fit
#: in its output pipe, or it would block writing while we block writing to it.
MAX_IN_FLIGHT = 64

Items = Sequence[tuple[str, bytes, bytes]]  # (author hex, header, signature)


class Ticket:
    """The verdicts of one submitted chunk, once `VerifierPool.result` has them."""

    def __init__(self, items: Items) -> None:
        self.items = items
        self.verdicts: list[bool] | None = None
        self.helper: _Helper | None = None  # the helper that will answer it


class _Helper:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, _HELPER_SCRIPT],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdin and self.proc.stdout
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux; elsewhere writes may wait for the helper
            try:
                fcntl.fcntl(self.stdin.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            except OSError:
                pass  # above the system's pipe-max-size: the default pipe still works
        self.in_flight: deque[Ticket] = deque()
        self.load = 0  # signatures in flight

    def send(self, ticket: Ticket) -> None:
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            self.receive()
        self.stdin.write(encode_request([(bytes.fromhex(a), h, s) for a, h, s in ticket.items]))
        self.stdin.flush()
        self.in_flight.append(ticket)
        self.load += len(ticket.items)

    def receive(self) -> None:
        """Read the oldest request's reply (replies come in request order)."""
        (size,) = struct.unpack(">I", read_exact(self.stdout, 4))
        reply = read_exact(self.stdout, size)
        ticket = self.in_flight.popleft()
        self.load -= len(ticket.items)
        if len(reply) != len(ticket.items):
            raise ValueError("helper reply does not match its request")
        ticket.verdicts = [bool(b) for b in reply]

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait()
        self.stdout.close()


class VerifierPool:
    """Helper processes: `submit` a chunk, later take its `result`."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or os.cpu_count() or 2
        self._helpers: list[_Helper] = []
        self._lock = threading.Lock()  # one thread at a time talks to the helpers
        self.broken = False

    def _start(self) -> None:
        if not self._helpers and not self.broken:
            try:
                self._helpers = [_Helper() for _ in range(self.size)]
            except OSError:
                self.broken = True

    def submit(self, items: Items) -> Ticket:
        """Send a chunk to the least busy helper; waits only if that helper
        already has `MAX_IN_FLIGHT` requests unanswered."""
        ticket = Ticket(items)
        with self._lock:
            self._start()
            if not self.broken:
                helper = min(self._helpers, key=lambda h: h.load)
                try:
                    helper.send(ticket)
                    ticket.helper = helper
                except (OSError, EOFError, ValueError, struct.error):
                    self._break()
        return ticket

    def result(self, ticket: Ticket) -> list[bool]:
        """The chunk's verdicts: waits for its helper, or checks here if none."""
        with self._lock:
            try:
                while ticket.verdicts is None and ticket.helper is not None and not self.broken:
                    ticket.helper.receive()
            except (OSError, EOFError, ValueError, struct.error):
                self._break()
        if ticket.verdicts is None:
            ticket.verdicts = [signature_holds(*item) for item in ticket.items]
        return ticket.verdicts

    def _break(self) -> None:
        """Never retry a broken pool: unanswered chunks are checked here from now on."""
        self.broken = True
        for helper in self._helpers:
            helper.proc.kill()
            helper.in_flight.clear()

    def close(self) -> None:
        with self._lock:
            for helper in self._helpers:
                try:
                    helper.close()
                except OSError:
                    pass
            self._helpers = []


_pool: VerifierPool | None = None


def shared_pool() -> VerifierPool:
    global _pool
    if _pool is None:
        _pool = VerifierPool()
        atexit.register(_pool.close)
    return _pool
