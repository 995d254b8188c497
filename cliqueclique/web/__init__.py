"""The local web UI: the forum in the browser, served by the running node.

`run_web(node, options)` serves it in the node's own nursery (see
`server.py`); `WebOptions` / `parse_web` say where. The heavy imports
(Starlette, hypercorn) wait until a UI is actually served, so command-line
tools that open a node without a UI do not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from .errors import WebError
from .options import WebOptions, is_loopback, parse_web

if TYPE_CHECKING:
    from ..node import Node


async def run_web(node: Node, options: WebOptions, *,
                  task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve `node`'s web UI until cancelled; `task_status.started(url)` once it listens."""
    from . import server

    await server.run_web(node, options, task_status=task_status)


__all__ = ["WebError", "WebOptions", "is_loopback", "parse_web", "run_web"]
