"""The node switcher: the other local nodes of this home and where their UIs run.

Each local node is served by its own `serve` process (its own key, log and
peers), so switching nodes means going to another process's web UI. Every
web UI publishes its URL in its node's state table; the switcher reads the
other nodes' tables and links to the URLs of those whose node is running.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..errors import CliqueError
from ..home import Home, LocalNode
from ..nodestate import NodeState

WEB_STATUS = "web"
FRESH = 5.0  # seconds: a node whose last status is older is not running
CACHE_SECONDS = 2.0


@dataclass(frozen=True)
class LocalEntry:
    id: str
    name: str
    current: bool
    url: str | None  # None: not running (or running without a web UI)


def _running_url(node: LocalNode) -> str | None:
    try:
        state = NodeState(node.log_path)
    except CliqueError:
        return None
    try:
        status, web = state.read_status("node"), state.read_status(WEB_STATUS)
    finally:
        state.close()
    if status is None or web is None:
        return None
    value, age = status
    if not value.get("running") or age > FRESH or not web[0].get("url"):
        return None
    try:
        os.kill(int(value["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(web[0]["url"])


class Switcher:
    """The home's local nodes with their UI URLs, re-read at most every few seconds."""

    def __init__(self, home: Home, current: str, own_url: str) -> None:
        self.home = home
        self.current = current
        self.own_url = own_url
        self._cached: tuple[float, list[LocalEntry]] | None = None

    def entries(self) -> list[LocalEntry]:
        """Every local node of the home (call from a worker thread: it opens SQLite files)."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < CACHE_SECONDS:
            return self._cached[1]
        entries = []
        for node in self.home.nodes():
            mine = node.id == self.current
            url = self.own_url if mine else _running_url(node)
            entries.append(LocalEntry(node.id, node.name, mine, url))
        self._cached = (now, entries)
        return entries
