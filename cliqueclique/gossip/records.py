"""Records the gossip machine hands around: events on their way to the log,
counters, and the progress and state it reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..eventlog import Event, Kind

NO_IDS: frozenset[str] = frozenset()


def deletes_document(ev: Event) -> bool:
    return ev.kind is Kind.DELETION and ev.ref == ev.network


@dataclass(slots=True)
class Pending:
    """An event on its way to the log: the document and peer it came with."""

    event: Event
    doc: str
    peer: str
    hops: int


@dataclass
class GossipStats:
    """Counters for benchmarks and status pages (frames are the wire unit)."""

    frames: int = 0
    bytes: int = 0
    payload_frames: int = 0
    payload_sent: Counter[str] = field(default_factory=Counter)  # event id -> transmissions


@dataclass(frozen=True, slots=True)
class PeerProgress:
    held: int  # events of the document the peer is known to hold
    we_lack: int  # ... that we do not hold
    they_lack: int  # events we hold that the peer is not known to hold


@dataclass(frozen=True, slots=True)
class Progress:
    held: int
    known: int  # held plus events we know exist but do not hold
    peers: dict[str, PeerProgress]


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    doc: str
    state: str
    subscribed: bool
    bookmarked: bool
    center: str
    center_subscribed: bool
    distance: int
    upstream: str | None
    peers: tuple[str, ...]
    downstream: tuple[str, ...]
    wanters: int
    subscribers: int
