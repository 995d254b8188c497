"""Signature checks in helper processes, so big batches use every core.

Decoding and validating events is Python code that holds the GIL nearly all
the time, which starves verifier *threads* even though pynacl releases the
GIL; so big chunks go to helper *processes* instead. They are plain
subprocesses (`python -m cliqueclique.eventlog.verifier`), not
multiprocessing, so embedding programs need no `__main__` guard.

Pipe protocol, both directions length-prefixed (4 bytes, big endian):
request = records of 32-byte key | 64-byte signature | 2-byte length | header;
reply = one byte per record, 1 if the signature holds.

If a helper cannot be started or dies, callers fall back to checking in
process: correctness never depends on the helpers.
"""

from __future__ import annotations

import atexit
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import BinaryIO

from .codec import signature_holds


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise EOFError
    return data


def _encode_request(items: Sequence[tuple[str, bytes, bytes]]) -> bytes:
    parts = []
    for author, header, signature in items:
        parts.append(bytes.fromhex(author) + signature + len(header).to_bytes(2, "big") + header)
    payload = b"".join(parts)
    return struct.pack(">I", len(payload)) + payload


def _check_request(payload: bytes) -> bytes:
    verdicts = bytearray()
    offset = 0
    while offset < len(payload):
        key, signature = payload[offset : offset + 32], payload[offset + 32 : offset + 96]
        size = int.from_bytes(payload[offset + 96 : offset + 98], "big")
        header = payload[offset + 98 : offset + 98 + size]
        offset += 98 + size
        verdicts.append(signature_holds(key.hex(), header, signature))
    return bytes(verdicts)


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The helper's loop: answer requests until the parent closes the pipe."""
    try:
        while True:
            (size,) = struct.unpack(">I", _read_exact(stdin, 4))
            reply = _check_request(_read_exact(stdin, size))
            stdout.write(struct.pack(">I", len(reply)) + reply)
            stdout.flush()
    except EOFError:
        return


class _Helper:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cliqueclique.eventlog.verifier"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.lock = threading.Lock()  # one request/reply at a time per pipe pair

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


class VerifierPool:
    """Helper processes; `start(items)` sends a chunk and returns a waiter."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or os.cpu_count() or 2
        self._helpers: list[_Helper] = []
        self._next = 0
        self._lock = threading.Lock()
        self.broken = False

    def _helper(self) -> _Helper:
        with self._lock:
            if not self._helpers:
                self._helpers = [_Helper() for _ in range(self.size)]
            self._next = (self._next + 1) % len(self._helpers)
            return self._helpers[self._next]

    def check(self, items: Sequence[tuple[str, bytes, bytes]]) -> list[bool]:
        """Verify in a helper (blocking); falls back to this process on failure."""
        if not self.broken:
            try:
                helper = self._helper()
                with helper.lock:
                    assert helper.proc.stdin and helper.proc.stdout
                    helper.proc.stdin.write(_encode_request(items))
                    helper.proc.stdin.flush()
                    (size,) = struct.unpack(">I", _read_exact(helper.proc.stdout, 4))
                    reply = _read_exact(helper.proc.stdout, size)
                if len(reply) == len(items):
                    return [bool(b) for b in reply]
            except (OSError, EOFError, ValueError, struct.error):
                self.broken = True  # never retry a broken pool: check here from now on
        return [signature_holds(*item) for item in items]

    def close(self) -> None:
        with self._lock:
            for helper in self._helpers:
                helper.close()
            self._helpers = []


_pool: VerifierPool | None = None


def shared_pool() -> VerifierPool:
    global _pool
    if _pool is None:
        _pool = VerifierPool()
        atexit.register(_pool.close)
    return _pool


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
