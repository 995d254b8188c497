"""Whether the node can write to its disk, said once per change, not once per write.

A full disk (or any failing write) must not kill a running node: it keeps
serving reads and keeps every event it acknowledged (the log commits each
batch or nothing), refuses new writes with a clear error, and picks up again
when space returns. Every writer (the log writer, the node-state tables, the
status publisher) reports here; the operator sees one line when writes start
failing and one when they work again, however often they are tried meanwhile.
On a full disk a small write can succeed while it is still full (it fits in
pages SQLite had freed), so writes count as working again only once there is
room on the disk too (`RECOVERED_FREE_BYTES`), not at the first such write.
"""

from __future__ import annotations

import errno
import logging
import shutil
from pathlib import Path

log = logging.getLogger("cliqueclique.node")

#: free space that ends a full-disk episode (a full disk has less than a write's worth)
RECOVERED_FREE_BYTES = 256 * 1024


class WriteHealth:
    """Tracks whether writes fail; logs the transitions only."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory  # where the files are written (for the free space)
        self.failing: str | None = None  # why writes fail, while they do
        self.full = False  # ... because the disk is full
        self.refused = 0  # writes refused since they started failing

    def failed(self, what: str, error: BaseException) -> None:
        """A write of `what` failed with `error`."""
        self.refused += 1
        if self.failing is None:
            self.failing = str(error)
            self.full = _disk_full(error)
            log.error("%s: refusing writes (%s failed); reads still work, retrying until space returns",
                      error, what)

    def ok(self) -> None:
        """A write succeeded."""
        if self.failing is None or (self.full and not self._room()):
            return
        log.warning("writes work again (%d refused while failing: %s)", self.refused, self.failing)
        self.failing, self.full, self.refused = None, False, 0

    def _room(self) -> bool:
        if self.directory is None:
            return True
        try:
            return shutil.disk_usage(self.directory).free >= RECOVERED_FREE_BYTES
        except OSError:
            return True  # cannot tell: the write that worked is the best evidence there is


def _disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error).lower()
    return "full" in text or "no space" in text
