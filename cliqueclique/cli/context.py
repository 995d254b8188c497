"""What every command shares: the home and node chosen by the global options,
and (from ids.py) turning what a user types (id prefixes, names) into full ids."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..eventlog.store import SQLiteStore
from ..home import Home, LocalNode
from ..ids import resolve_id, resolve_node_id  # noqa: F401 - the commands' id resolution, re-exported
from ..nodestate import NodeState


class Context:
    def __init__(self, home: Path, node: str | None) -> None:
        self.home = Home(home)
        self.node_name = node

    def node(self) -> LocalNode:
        return self.home.node(self.node_name)

    @contextmanager
    def store(self) -> Iterator[tuple[LocalNode, SQLiteStore]]:
        node = self.node()
        store = node.open_store()
        try:
            yield node, store
        finally:
            store.close()

    @contextmanager
    def state(self) -> Iterator[tuple[LocalNode, NodeState]]:
        node = self.node()
        state = NodeState(node.log_path)
        try:
            yield node, state
        finally:
            state.close()


pass_context = click.make_pass_decorator(Context)
