"""The signed, append-only, content-addressed event log."""

from .base import AppendResult, EventStore, Status
from .codec import canonical_json, decode_wire, sign_event, verify_signature
from .events import MAX_EVENT_SIZE, Action, Direction, Event, Kind, ModAction, StoredEvent
from .keys import node_id
from .memory import MemoryStore
from .signatures import SignatureCache
from .store import SQLiteStore
from .writer import Author, BatchSigner

__all__ = [
    "MAX_EVENT_SIZE", "Action", "AppendResult", "Author", "BatchSigner", "Direction", "Event", "EventStore",
    "Kind", "MemoryStore", "ModAction", "SQLiteStore", "SignatureCache", "Status", "StoredEvent",
    "canonical_json", "decode_wire", "node_id", "sign_event", "verify_signature",
]
