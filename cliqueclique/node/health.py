"""Whether the node can write to its disk, said once per change, not once per write.

A full disk (or any failing write) must not kill a running node: it keeps
serving reads and keeps every event it acknowledged (the log commits each
batch or nothing), refuses new writes with a clear error, and picks up again
when space returns. Every writer (the log writer, the node-state tables, the
status publisher) reports here; the operator sees one line when writes start
failing and one when they work again, however often they are tried meanwhile.
"""

from __future__ import annotations

import logging

log = logging.getLogger("cliqueclique.node")


class WriteHealth:
    """Tracks whether writes fail; logs the transitions only."""

    def __init__(self) -> None:
        self.failing: str | None = None  # why writes fail, while they do
        self.refused = 0  # writes refused since they started failing

    def failed(self, what: str, error: BaseException) -> None:
        """A write of `what` failed with `error`."""
        self.refused += 1
        if self.failing is None:
            self.failing = str(error)
            log.error("%s: refusing writes (%s failed); reads still work, retrying until space returns",
                      error, what)

    def ok(self) -> None:
        """A write succeeded."""
        if self.failing is not None:
            log.warning("writes work again (%d refused while failing: %s)", self.refused, self.failing)
            self.failing, self.refused = None, 0
