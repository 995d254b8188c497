"""Materialized views over the event log: documents (with their editors and
reactions), threads and forums, local flags, directories and full-text
search, kept in step with every append and rebuildable from the log alone
(`replay`).

Open a store with `open_views(SQLiteStore(path))` (or `LocalNode.open_store()`)
and query it with the functions below.
"""

from .batch import DIRECTORY_PROPERTY, PREFIX_PROPERTY, TYPE_PROPERTY
from .crdt import Change
from .deletion import retract
from .directory import (
    DirectoryMatch,
    DirectorySearch,
    add_entries,
    add_entry,
    create_directory,
    key,
    search_directory,
)
from .documents import DocumentState, document_state, edit_document, state_bytes
from .editorship import change_editors, editors
from .forums import ForumSummary, forums
from .local import Flags, flags, mark
from .projector import Views, current, open_views
from .reacting import react, reactions
from .replay import replay
from .schema import dump
from .search import DocumentSummary, Filters, find
from .signer import BatchSigner
from .threads import ThreadEntry, thread

__all__ = [
    "DIRECTORY_PROPERTY", "PREFIX_PROPERTY", "TYPE_PROPERTY", "BatchSigner", "Change", "DirectoryMatch",
    "DirectorySearch", "DocumentState", "DocumentSummary", "Filters", "Flags", "ForumSummary", "ThreadEntry",
    "Views", "add_entries", "add_entry", "change_editors", "create_directory", "current", "document_state",
    "dump", "edit_document", "editors", "find", "flags", "forums", "key", "mark", "open_views", "react",
    "reactions", "replay", "retract", "search_directory", "state_bytes", "thread",
]
