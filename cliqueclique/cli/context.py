"""What every command shares: the home and node chosen by the global options,
and turning what a user types (id prefixes, names) into full ids."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import AmbiguousId, UnknownEvent
from ..eventlog.codec import is_hex_id
from ..eventlog.events import Kind
from ..eventlog.store import SQLiteStore
from ..home import Home, LocalNode
from ..nodestate import NodeState

MIN_PREFIX = 4


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


def _prefix(text: str, what: str) -> str:
    prefix = text.strip().lower()
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        raise UnknownEvent(f"{text!r} is not a {what} id (hex, at least {MIN_PREFIX} characters)")
    return prefix


def _one(text: str, what: str, matches: list[str]) -> str:
    if not matches:
        raise UnknownEvent(f"no {what} {text} in this node's log")
    if len(matches) > 1:
        raise AmbiguousId(f"{text} matches several {what}s ({', '.join(m[:12] for m in matches)}); "
                          "give more characters")
    return matches[0]


def resolve_id(store: SQLiteStore, text: str, kind: Kind | None = Kind.DOCUMENT) -> str:
    """A full id from a full id or a unique prefix (at least 4 hex characters).

    Raises:
        UnknownEvent, AmbiguousId.
    """
    what = kind.value if kind else "event"
    return _one(text, what, store.ids_with_prefix(_prefix(text, what), kind))


def resolve_node_id(home: Home, store: SQLiteStore, text: str, state: NodeState | None = None) -> str:
    """A full node id from a local node's name, a full id, or a unique prefix of a
    node id this node knows of (authors in its log, its peers, the home's nodes).

    Raises:
        UnknownEvent, AmbiguousId.
    """
    named = [n.id for n in home.nodes() if n.name == text]
    if named:
        return named[0]
    if is_hex_id(text.strip().lower()):
        return text.strip().lower()
    prefix = _prefix(text, "node")
    upper = prefix + "g"  # just above every hex continuation of the prefix
    known = {row[0] for row in store.db.execute(
        "SELECT DISTINCT author FROM docs WHERE author >= ? AND author < ? LIMIT 3", [prefix, upper])}
    known |= {n.id for n in home.nodes() if n.id.startswith(prefix)}
    if state is not None:
        known |= {p.id for p in state.peers() if p.id.startswith(prefix)}
    return _one(text, "node", sorted(known))
