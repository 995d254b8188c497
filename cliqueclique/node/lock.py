"""One running node per local node: an advisory lock file in its directory.

`flock` is released by the kernel when the holding process dies, however it
dies, so a stale lock from a killed `serve` never blocks a restart; the file
keeps the holder's pid only to name it in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import NodeError
from ..home import LocalNode

LOCK_FILE = "running.lock"


class NodeRunning(NodeError):
    """Another process already runs this node."""


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    pid = os.read(fd, 32).decode(errors="replace").strip()
    return pid or "?"


@contextmanager
def run_lock(local: LocalNode) -> Iterator[None]:
    """Hold the node's lock for the block.

    Raises:
        NodeRunning: another process holds it (named by its pid).
    """
    fd = os.open(local.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NodeRunning(f"node {local.name} is already running in process {_holder(fd)} "
                              "(stop that one first)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # releases the lock


def running_pid(local: LocalNode) -> int | None:
    """The pid of the process running this node, or None if none does."""
    path = local.directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            return int(holder) if holder.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
