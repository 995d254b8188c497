"""Ids as people type them: a full id, a unique prefix of at least four hex
characters, or (for nodes) a local node's name. Shared by the command line
and the web UI, so both accept the same forms and refuse with the same words."""

from __future__ import annotations

from .errors import AmbiguousId, UnknownEvent
from .eventlog.codec import is_hex_id
from .eventlog.events import Kind
from .eventlog.store import SQLiteStore
from .home import Home
from .nodestate import NodeState

MIN_PREFIX = 4


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
