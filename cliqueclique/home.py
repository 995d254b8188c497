"""A home directory holding one or more local nodes.

Layout::

    HOME/
      default            id of the node used when none is named
      nodes/<node id>/
        key              ed25519 seed, mode 0600
        node.json        {"name": ..., "created": ms}
        log.sqlite       this node's event log (+ views)

Each local node is fully independent: its own key, log, subscriptions, peers.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from nacl.signing import SigningKey

from .errors import AmbiguousId, NodeError
from .eventlog.keys import node_id, read_key, write_key
from .eventlog.store import SQLiteStore
from .eventlog.writer import Author, now_ms
from .views import open_views

ENV_HOME = "CLIQUECLIQUE_HOME"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def default_home() -> Path:
    """$CLIQUECLIQUE_HOME, else the platform's per-user data directory
    (e.g. ~/.local/share/cliqueclique on Linux)."""
    env = os.environ.get(ENV_HOME)
    return Path(env) if env else Path(platformdirs.user_data_dir("cliqueclique", appauthor=False))


@dataclass
class LocalNode:
    """One local identity and the paths of its files."""

    id: str
    name: str
    directory: Path

    @property
    def log_path(self) -> Path:
        return self.directory / "log.sqlite"

    def key(self) -> SigningKey:
        return read_key(self.directory / "key")

    def open_store(self) -> SQLiteStore:
        """The node's log with its views attached and up to date."""
        return open_views(SQLiteStore(self.log_path))

    def author(self, store: SQLiteStore) -> Author:
        return Author(self.key(), store)


class Home:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def nodes_dir(self) -> Path:
        return self.path / "nodes"

    def nodes(self) -> list[LocalNode]:
        """Local nodes, oldest first."""
        found = []
        if self.path.exists() and not self.path.is_dir():
            raise NodeError(f"the home {self.path} is not a directory")
        if self.nodes_dir.is_dir():
            for directory in self.nodes_dir.iterdir():
                meta_path = directory / "node.json"
                if (directory / "key").exists() and meta_path.exists():
                    try:
                        meta = json.loads(meta_path.read_text())
                        name, created = str(meta["name"]), int(meta.get("created", 0))
                    except (ValueError, KeyError, TypeError) as e:
                        raise NodeError(f"cannot read {meta_path}: {e}") from None
                    found.append((created, LocalNode(directory.name, name, directory)))
        return [node for _, node in sorted(found, key=lambda t: (t[0], t[1].id))]

    def create_node(self, name: str | None = None, key: SigningKey | None = None) -> LocalNode:
        """Create a node with a new key; the first one becomes the default.

        Raises:
            NodeError: bad or duplicate name, or the home is not writable.
        """
        existing = self.nodes()
        if name is None:
            name = f"node{len(existing) + 1}"
        if not _NAME.match(name):
            raise NodeError(f"bad node name {name!r}: use letters, digits, '_', '.', '-' (max 64)")
        if any(n.name == name for n in existing):
            raise NodeError(f"a node named {name!r} already exists in {self.path}")
        key = key or SigningKey.generate()
        directory = self.nodes_dir / node_id(key)
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.nodes_dir.mkdir(mode=0o700, exist_ok=True)
            directory.mkdir(mode=0o700)
            write_key(directory / "key", key)
            (directory / "node.json").write_text(json.dumps({"name": name, "created": now_ms()}))
            if not existing:
                (self.path / "default").write_text(node_id(key) + "\n")
        except OSError as e:
            raise NodeError(f"cannot create node in {self.path}: {e.strerror or e}") from None
        node = LocalNode(node_id(key), name, directory)
        node.open_store().close()  # create the log now, so a fresh node is complete
        return node

    def default_id(self) -> str | None:
        try:
            return (self.path / "default").read_text().strip() or None
        except OSError:
            return None

    def node(self, which: str | None = None) -> LocalNode:
        """The node named by `which` (its name, the start of its name, or an
        id prefix, tried in that order), else the default node.

        Raises:
            NodeError: no such node, or no node at all.
            AmbiguousId: the prefix matches several nodes.
        """
        nodes = self.nodes()
        if not nodes:
            raise NodeError(f"no node in {self.path}: run 'cliqueclique init' first")
        if which is None:
            which = self.default_id() or nodes[0].id
            matches = [n for n in nodes if n.id == which] or nodes[:1]
        else:
            # a name, else the start of one name, else an id prefix
            matches = ([n for n in nodes if n.name == which]
                       or [n for n in nodes if n.name.startswith(which)]
                       or [n for n in nodes if n.id.startswith(which.lower())])
        if not matches:
            raise NodeError(f"no node named or starting with {which!r} in {self.path}")
        if len(matches) > 1:
            raise AmbiguousId(f"{which!r} matches several nodes: " + ", ".join(n.name for n in matches))
        return matches[0]
