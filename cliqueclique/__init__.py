"""cliqueclique: a peer-to-peer forum and a signed, replicated, auditable data layer.

The library API: open a `Home`, run a `Node` (async, trio) or work on the
event log directly (`SQLiteStore`, `Author`); see README.md.
"""

__version__ = "0.1.0"

from .errors import CliqueError  # noqa: E402
from .eventlog import Action, Author, Event, Kind, MemoryStore, SQLiteStore  # noqa: E402
from .home import Home, LocalNode  # noqa: E402
from .invite import Invite, parse_invite  # noqa: E402
from .node import Node, NodeOptions  # noqa: E402

__all__ = [
    "Action", "Author", "CliqueError", "Event", "Home", "Invite", "Kind", "LocalNode",
    "MemoryStore", "Node", "NodeOptions", "SQLiteStore", "__version__", "parse_invite",
]
