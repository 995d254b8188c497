"""Warnings a remote party can trigger, rate-limited per source and overall.

Every failed handshake is worth a line to the operator, but a peer (or many)
opening thousands of bad connections must not fill the disk with them
(2,000 connections in 0.1 s wrote 248 KB). Within each window a source gets
`per_source` lines and all sources together `overall`; what is held back is
counted and summarised once the window is over ("N more refused handshakes
from X in the last 60s"), when the next line of that kind comes. Pure
bookkeeping with an injectable clock.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable

#: lines one source may write per window
LINES_PER_SOURCE = 3
#: lines all sources together may write per window
LINES_OVERALL = 20
#: seconds of one window
LOG_WINDOW = 60.0
#: sources counted one by one per window; the others only in one sum ("other sources")
MAX_LOG_SOURCES = 1_024
#: sources named in a window's summary (the busiest); the rest are one sum line
SUMMARY_SOURCES = 5


class LimitedLog:
    """`warning(source, msg, *args)`: log it unless `source` or everyone said too much lately."""

    def __init__(self, logger: logging.Logger, what: str, *, per_source: int = LINES_PER_SOURCE,
                 overall: int = LINES_OVERALL, window: float = LOG_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger, self.what = logger, what
        self.per_source, self.overall, self.window, self.clock = per_source, overall, window, clock
        self._started = clock()
        self._written: Counter[str] = Counter()
        self._held: Counter[str] = Counter()
        self._lines = 0
        self._uncounted = 0  # held back from sources beyond MAX_LOG_SOURCES

    def warning(self, source: str, msg: str, *args: object) -> None:
        now = self.clock()
        if now - self._started >= self.window:
            self._summarise()
            self._started = now
        if self._written[source] < self.per_source and self._lines < self.overall:
            if source in self._written or len(self._written) < MAX_LOG_SOURCES:
                self._written[source] += 1
            self._lines += 1
            self.logger.warning(msg, *args)
            return
        if source in self._held or len(self._held) < MAX_LOG_SOURCES:
            self._held[source] += 1
        else:
            self._uncounted += 1

    def _summarise(self) -> None:
        busiest = self._held.most_common(SUMMARY_SOURCES)
        for source, count in busiest:
            self.logger.warning("%d more %s from %s in the last %.0fs", count, self.what, source, self.window)
        rest = self._uncounted + sum(self._held.values()) - sum(count for _, count in busiest)
        if rest:
            self.logger.warning("%d more %s from other sources in the last %.0fs", rest, self.what, self.window)
        self._written.clear()
        self._held.clear()
        self._lines = self._uncounted = 0
