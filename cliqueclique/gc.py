"""Garbage collection: forgetting documents nobody here wants any more.

The gossip machine stops replicating a document nobody wants (gossip/
protocol.py, `gc_delay`); this module takes it off the disk once it has been
unwanted for longer than a retention (30 days by default). A *network* (a
document's, with its links, edits, reactions, moderation) is kept while

- the node is subscribed to or bookmarked the document (its own
  subscription events, the log's truth after any restart);
- the node signed any event in it (its own posts, replies, edits,
  reactions): forgetting those would lose what maybe only it holds, and a
  later event of its own there would restart the chain at seq 1, a fork;
- the running gossip machine needs it (`GossipNode.needed_networks`: it
  replicates it for a downstream peer, carries it as a subscribed document's
  child, is joining it, or has its events on the way to the log);
- a subscribed document links it (a child, carried again after a restart);
- it is above a kept document in a thread (its parent, transitively), so a
  followed reply keeps the forum it lives in.

Everything else is unwanted. A sweep (`sweep`) records when it first found
each network unwanted (`gc_unwanted`, in the log's file: survives restarts),
clears that mark when the network is wanted again, and forgets the networks
unwanted for at least the retention: every event of the network goes from
the log, the views and the fork evidence, in the same transaction as the
marks (a crash leaves all of it or none), and a record (`gc_forgotten`) says
what went and when. Chains go whole, so `verify` still holds; links in
other networks naming a forgotten document stay (threads show it missing).
The log then answers as if it had never held the document: a joiner asking
through this node is refused, and the document can be joined (received)
again later like any other.

`collect` runs a sweep on a SQLite log and gives the freed pages back to the
file system (incremental vacuum, checkpoint), reporting the bytes the files
shrank by.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import asdict, dataclass, field
from typing import Any

from .eventlog import Action, EventStore, Kind, SQLiteStore

DAY = 86_400.0
#: how long a document stays unwanted before it is forgotten (seconds)
DEFAULT_RETENTION = 30 * DAY
#: networks forgotten per sweep at most (one transaction: it holds the write lock)
MAX_PER_SWEEP = 1000


@dataclass(frozen=True)
class GcConfig:
    """When documents are forgotten. Times are seconds."""

    retention: float = DEFAULT_RETENTION
    interval: float = 3600.0  # between the running node's sweeps
    max_per_sweep: int = MAX_PER_SWEEP


@dataclass
class GcReport:
    """What a sweep forgot (or, dry, would forget)."""

    dry_run: bool
    documents: int = 0  # forgotten networks whose document was held
    networks: int = 0
    events: int = 0
    bytes_reclaimed: int = 0  # how much the log's files shrank (SQLite), or the events' bytes (memory)
    forgotten: list[str] = field(default_factory=list)  # the networks, sorted
    unwanted: int = 0  # networks unwanted and not forgotten yet (retention not over)
    next_due: int | None = None  # ms: when the next of those is due
    kept: int = 0  # networks held and wanted

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def own_interest(store: EventStore, node_id: str) -> tuple[set[str], set[str]]:
    """(subscribed, bookmarked) documents, from the node's own subscription events."""
    subscribed: set[str] = set()
    bookmarked: set[str] = set()
    for stored in store.events(network=node_id, kind=Kind.SUBSCRIPTION):
        body = stored.event.content()
        if not isinstance(body, dict) or stored.event.author != node_id:
            continue
        doc, action = body["document"], body["action"]
        if action == Action.SUBSCRIBE:
            subscribed.add(doc)
        elif action == Action.UNSUBSCRIBE:
            subscribed.discard(doc)
        elif action == Action.BOOKMARK:
            bookmarked.add(doc)
        elif action == Action.UNBOOKMARK:
            bookmarked.discard(doc)
        elif action == Action.BLOCK:
            subscribed.discard(doc)
            bookmarked.discard(doc)
    return subscribed, bookmarked


def wanted(store: EventStore, node_id: str, needed: Iterable[str] = ()) -> set[str]:
    """The networks to keep (see the module doc); `needed`: the running machine's."""
    subscribed, bookmarked = own_interest(store, node_id)
    keep = {node_id} | subscribed | bookmarked | set(needed) | store.networks_by(node_id)
    for children in store.link_children(subscribed).values():
        keep |= children
    frontier = set(keep)
    while frontier:  # the thread parents of everything kept, up to the roots
        above = set().union(*store.thread_parents(frontier).values()) if frontier else set()
        frontier = above - keep
        keep |= frontier
    return keep


def sweep(store: EventStore, node_id: str, *, now: int, retention: float = DEFAULT_RETENTION,
          needed: Set[str] = frozenset(), dry_run: bool = False,
          limit: int = MAX_PER_SWEEP) -> GcReport:
    """One garbage collection sweep, in one transaction.

    Args:
        store: the log.
        node_id: the local node whose log it is.
        now: wall clock, ms (virtual in the simulator).
        retention: seconds a network stays unwanted before it is forgotten.
        needed: the networks the running gossip machine needs (empty offline:
            then no peer relies on this node).
        dry_run: report what would be forgotten now; change nothing.
        limit: networks forgotten at most (the next sweep takes the rest).

    Returns:
        The report (`bytes_reclaimed`: the forgotten events' bytes; `collect`
        measures the files instead).
    """
    report = GcReport(dry_run)
    with store.gc_transaction(write=not dry_run):
        held = store.networks()
        keep = wanted(store, node_id, needed)
        unwanted = held - keep
        marks = store.gc_marks()
        since = {net: marks.get(net, now) for net in unwanted}
        due = sorted(net for net in unwanted if now - since[net] >= retention * 1000)[:limit]
        waiting = [since[net] for net in unwanted if net not in due]
        report.kept = len(held & keep)
        report.unwanted = len(waiting)
        report.next_due = min(waiting) + int(retention * 1000) if waiting else None
        report.forgotten = due
        report.networks = len(due)
        documents = store.present(due)
        report.documents = len(documents)
        if due:
            events = store.events_in(due)
            report.events = len(events)
            report.bytes_reclaimed = sum(len(e.wire) for e in events)
        if not dry_run:
            store.set_gc_marks({net: now for net in unwanted if net not in marks},
                               [net for net in marks if net not in unwanted])
            store.forget({net: since[net] for net in due}, now)
    return report


def collect(store: SQLiteStore, node_id: str, *, now: int, retention: float = DEFAULT_RETENTION,
            needed: Set[str] = frozenset(), dry_run: bool = False,
            limit: int = MAX_PER_SWEEP) -> GcReport:
    """`sweep` a SQLite log, then shrink its files; `bytes_reclaimed` is what
    the database and its WAL shrank by (after a checkpoint on both sides, so
    the WAL's own growth is not counted), or, dry, the forgotten events' bytes.

    Raises:
        StoreError: SQLite failed (nothing was forgotten, or the space stays
            free inside the file).
    """
    if dry_run:
        return sweep(store, node_id, now=now, retention=retention, needed=needed, dry_run=True, limit=limit)
    store.checkpoint()
    before = store.file_bytes()
    report = sweep(store, node_id, now=now, retention=retention, needed=needed, limit=limit)
    if report.networks:
        store.reclaim()
        report.bytes_reclaimed = max(0, before - store.file_bytes())
    else:
        report.bytes_reclaimed = 0
    return report


def describe(report: GcReport) -> str:
    """One line for people."""
    verb = "would forget" if report.dry_run else "forgot"
    line = (f"{verb} {report.documents} document{'s' * (report.documents != 1)} "
            f"({report.events} event{'s' * (report.events != 1)}")
    if report.networks != report.documents:
        line += f", {report.networks - report.documents} stray network{'s' * (report.networks - report.documents != 1)}"
    line += ")"
    if not report.dry_run:
        line += f", reclaimed {report.bytes_reclaimed} bytes"
    elif report.networks:
        line += f", about {report.bytes_reclaimed} bytes of events"
    if report.unwanted:
        line += f"; {report.unwanted} more unwanted, kept until their retention ends"
    return line


__all__ = ["DEFAULT_RETENTION", "GcConfig", "GcReport", "collect", "describe", "own_interest", "sweep",
           "wanted"]
