"""The running node: the trio driver of the sans-IO gossip machine.

One `Node` owns a nursery with:

- the gossip task, the only code that touches the `GossipNode`: it takes
  inputs from one channel (frames, peers up/down, storage results, local
  events), and after each input sends every pending frame and re-arms the
  single protocol timer (aioquic's transmit rhythm);
- the writer (`LogWriter`), the one task that commits to SQLite, in batches,
  off the event loop;
- listeners (TCP, and I2P when a SAM bridge answers) and one task per peer
  link, each with a token-bucket budget: a peer that floods or misbehaves is
  cut off and banned with exponential back-off, the others are unaffected;
- a dialer (`dialing.py`) that keeps known peers connected (back-off per peer
  and per address; suggested peers dialled once, from memory) and acts
  on joins requested by the CLI, a poller that publishes events other
  processes (the CLI) appended to the log, and a status publisher (progress,
  peers, and what became of each join: see `joins.py`), and garbage
  collection (`gc.py`: periodic sweeps, and the CLI's `gc` requests).

One process runs a node at a time (`lock.py`). The web UI is not part of the
node: `serve` runs it beside the node, in one nursery.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import trio

from ..errors import NodeError
from ..eventlog import Action, Author, Event, SQLiteStore
from ..gc import GcConfig
from ..gossip.errors import LocalProtocolError
from ..gossip.node import GossipNode
from ..gossip.outputs import (
    DocumentDropped,
    EventAccepted,
    EventCodec,
    ForkSeen,
    GossipConfig,
    PeerMisbehaved,
    PeerReachable,
    PeerSuggested,
    StoreEvents,
)
from ..home import Home, LocalNode
from ..invite import Invite, parse_invite
from ..net import (
    Address,
    MemoryNetwork,
    TcpAddress,
    TcpTransport,
    Transports,
    parse_address,
)
from ..nodestate import NodeState
from ..views import flags, thread
from .budget import AddressBans, Admission, BudgetConfig
from .dialing import Dialing
from .follow import follow_threads
from .gc import gc_loop
from .governance import FloodConfig, Governance
from .health import WriteHealth
from .i2p import start_i2p
from .joins import JoinWatch
from .links import Links, _Link
from .lock import run_lock
from .writer import LogWriter

log = logging.getLogger("cliqueclique.node")
T = TypeVar("T")
LINK_QUEUE_BYTES = 256 * 1024 * 1024  # queued for one peer before it counts as stuck
CODEC_CACHE = 5_000  # decoded events the gossip machine keeps (bounds memory)
ALL = "*"  # watch key for every event
STATUS_DOCS_PER_SNAPSHOT = 500  # documents whose status one snapshot refreshes (see `_snapshot`)


@dataclass
class NodeOptions:
    """How a node runs. Addresses are `HOST:PORT` for TCP."""

    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:0"])
    i2p: bool | None = None  # None: use I2P if a SAM bridge answers
    sam: str = "127.0.0.1:7656"
    #: SAM tunnel options, e.g. {"inbound.length": 0} for a private test network
    i2p_tunnels: dict[str, str | int] = field(default_factory=dict)
    memory: MemoryNetwork | None = None  # tests: serve on an in-process network too
    gossip: GossipConfig | None = None
    max_peers: int = GossipConfig.max_peers  # links kept per document (unless `gossip` is given)
    min_peers: int = GossipConfig.min_peers  # ... and the fewest a node is helped to
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    flood: FloodConfig = field(default_factory=FloodConfig)  # new posts per (author, forum)
    gc: GcConfig = field(default_factory=GcConfig)  # when unwanted documents leave the disk (gc.py)
    poll_interval: float = 0.2  # how often to look for events the CLI appended
    dial_interval: float = 0.5
    status_interval: float = 1.0


class Node(Links, Dialing):
    """A local node, running. Create with `Node.open(...)` (an async context manager)."""

    def __init__(self, local: LocalNode, options: NodeOptions) -> None:
        self.local = local
        self.id = local.id
        self.options = options
        self.key = local.key()
        self.store = local.open_store()  # the writer's connection (views attached)
        self.reader = local.open_store()  # the event loop's connection: reads only
        # A full disk: one line, writes refused, reads served.
        self.health = WriteHealth(local.log_path.parent)
        self.admission = Admission(options.budget)  # handshakes in progress, per source
        self.address_bans = AddressBans()  # sources of banned peers (links.py)
        self._incoming_links = 0
        self.state = NodeState(local.log_path, on_write=self._written)
        self.writer = LogWriter(self.store)
        config = options.gossip or GossipConfig(codec=EventCodec(limit=CODEC_CACHE, verify=False),
                                                max_peers=options.max_peers, min_peers=options.min_peers)
        self.gossip = GossipNode(self.id, self.reader, random.Random(os.urandom(16)), config,
                                 policy=Governance(self.reader, self.id, options.flood))
        self.transports = Transports()
        self.addresses: list[Address] = []
        self.tcp_port = 0  # where we accept TCP links, told to TCP peers (`Reachable`)
        self.links: dict[str, _Link] = {}
        self._dialing: set[str] = set()
        self._next_dial: dict[str, float] = {}
        self._offences: OrderedDict[str, int] = OrderedDict()
        #: suggested peer -> (address, suggesting peer): dialled once, not stored unless reached
        self._suggested: OrderedDict[str, tuple[str, str]] = OrderedDict()
        #: address -> (next dial allowed at, failures in a row): many peer ids may share one
        self._address_backoff: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._watchers: dict[str, set[trio.MemorySendChannel[Event]]] = {}
        self._inputs_send, self._inputs = trio.open_memory_channel[Callable[[float], None]](math.inf)
        self._nursery: trio.Nursery | None = None
        self._polled = 0
        self._joins: dict[str, JoinWatch] = {}
        self._dial_errors: dict[str, str] = {}  # peer -> why the last dial failed
        # The status' documents, refreshed for those the gossip machine touched
        # (a few hundred per interval: a big log holds thousands), see `_snapshot`.
        self._doc_status: dict[str, dict[str, Any]] = {}
        self._doc_status_due: set[str] = set()
        self.started = time.time()

    # ================================================================ lifecycle

    @classmethod
    @asynccontextmanager
    async def open(cls, home: Home | str | os.PathLike[str], node: str | None = None,
                   options: NodeOptions | None = None) -> AsyncIterator[Node]:
        """Run a node of `home` (the default node, or the one named) until the block ends.

        Raises:
            NodeError: no such node; NodeRunning: another process runs it;
            NetError: a listen address cannot be bound.
        """
        home = home if isinstance(home, Home) else Home(home)
        local = home.node(node)
        with run_lock(local):
            async with cls._run(local, options or NodeOptions()) as self:
                yield self

    @classmethod
    @asynccontextmanager
    async def _run(cls, local: LocalNode, options: NodeOptions) -> AsyncIterator[Node]:
        self = cls(local, options)
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(self.writer.run)
                await nursery.start(self._gossip_loop)
                await self._start_listeners(nursery)
                nursery.start_soon(self._dial_loop)
                nursery.start_soon(self._poll_loop)
                nursery.start_soon(self._status_loop)
                nursery.start_soon(follow_threads, self)
                nursery.start_soon(gc_loop, self, options.gc)
                # Before anyone is told the node runs ("ready"): a `join` or `post`
                # started then finds its status, not a node that seems stopped.
                # Without documents: their progress over a big log takes seconds.
                self._write_status(self.state, self._snapshot(refresh=False))
                try:
                    yield self
                finally:
                    await self._shutdown(nursery)
        finally:
            self.reader.close()
            self.store.close()
            self.state.close()

    async def _shutdown(self, nursery: trio.Nursery) -> None:
        """Stop networking, then let the writer commit everything queued."""
        with trio.CancelScope(shield=True):
            for link in list(self.links.values()):
                link.scope.cancel()
            try:
                await self.writer.call(lambda store: None)  # a barrier: earlier jobs are committed
            except NodeError:
                pass  # the writer already stopped (a task crashed): nothing more to wait for
            self._publish_status(stopped=True)
        nursery.cancel_scope.cancel()

    async def _start_listeners(self, nursery: trio.Nursery) -> None:
        for text in self.options.listen:
            transport = TcpTransport(*parse_listen(text))
            self.transports.add(transport)
            self.addresses.append(await nursery.start(transport.serve, self._accept))
        self.tcp_port = next((a.port for a in self.addresses if isinstance(a, TcpAddress)), 0)
        if self.options.memory is not None:
            transport = self.options.memory.transport(f"node-{self.id[:12]}")
            self.transports.add(transport)
            self.addresses.append(await nursery.start(transport.serve, self._accept))
        if self.options.i2p is not False:
            nursery.start_soon(start_i2p, self, nursery)  # ~20 s on i2pd: not awaited
        self.state.publish_status("addresses", [str(a) for a in self.addresses])

    # ================================================================ public API

    async def write(self, fn: Callable[[Author, SQLiteStore], T]) -> T:
        """Run `fn(author, store)` in the writer and replicate what it appended.

        Raises:
            CliqueError: whatever `fn` raised (nothing it had not appended is kept).
        """
        def run(store: SQLiteStore) -> tuple[T, list[Event]]:
            author = Author(self.key, store)
            try:
                return fn(author, store), author.appended
            finally:
                self.writer.mark_own(author.appended)

        value, events = await self.writer.call(run)
        self._local_events(events)
        return value  # type: ignore[no-any-return]

    async def post(self, subject: str, text: str, *, parent: str | None = None) -> Event:
        """Post a document (a new forum when `parent` is None, else a reply)."""
        return await self.write(lambda author, store: author.post(subject, text, parent=parent)[0])

    async def mark(self, document: str, action: Action, note: str | None = None) -> Event:
        """Record a local decision (subscribe, bookmark, read, ...)."""
        return await self.write(lambda author, store: author.subscription(document, action, note))

    async def connect(self, address: str, peer: str) -> None:
        """Remember a peer and dial it now (and whenever it is lost)."""
        self.state.add_peer(peer, [str(parse_address(address))])
        self._address_backoff.pop(str(parse_address(address)), None)  # on purpose: try now
        self._next_dial.pop(peer, None)
        self._start_dial(peer)

    async def join(self, invite: Invite | str) -> None:
        """Subscribe to a forum through the peer named in the invite.

        Raises:
            BadInvite: the invite does not parse.
        """
        invite = parse_invite(invite) if isinstance(invite, str) else invite
        if invite.peer == self.id:
            raise NodeError("that invite is this node's own")
        self.state.add_peer(invite.peer, [str(a) for a in invite.addresses])
        requested = self.state.request_join(invite.document, invite.peer)
        if requested is None:
            raise NodeError(f"cannot record the join: {self.health.failing or 'the node state is not writable'}")
        self._joins[invite.document] = JoinWatch(invite.document, invite.peer, requested)
        await self.mark(invite.document, Action.SUBSCRIBE)
        for address in invite.addresses:
            self._address_backoff.pop(str(address), None)  # on purpose: try now
        self._next_dial.pop(invite.peer, None)
        self._start_dial(invite.peer)
        if invite.peer in self.links:
            self._take_up_joins(invite.peer)

    def invite(self, document: str) -> Invite:
        """An invite to `document` through this node."""
        if not self.addresses:
            raise NodeError("this node has no reachable address")
        return Invite(document, self.id, tuple(self.addresses))

    def watch(self, document: str) -> Watch:
        """New events of `document`'s network as they are accepted (an async iterator)."""
        send, receive = trio.open_memory_channel[Event](math.inf)
        self._watchers.setdefault(document, set()).add(send)
        return Watch(self, document, send, receive)

    def watch_all(self) -> Watch:
        """Every event this node accepts or publishes."""
        return self.watch(ALL)

    def progress(self, document: str) -> Any:
        return self.gossip.progress(document)

    def join_report(self, document: str, progress: Any = None) -> dict[str, Any] | None:
        """What became of the latest join of `document` (see `joins.py`), or None.

        `progress`: the document's `gossip.progress`, if the caller has it already.
        """
        watch = self._joins.get(document)
        if watch is None:
            return None
        if watch.done and watch.last is not None:
            return watch.last
        progress = progress or self.gossip.progress(document)
        # the full check only once nothing known is missing (cheap while syncing)
        caught_up = progress.held >= progress.known and self._caught_up(watch)
        return watch.report(
            root_held=self.reader.get(document) is not None, caught_up=caught_up,
            connected=watch.peer in self.links, dial_error=self._dial_errors.get(watch.peer),
            held=progress.held, known=progress.known)

    def ban(self, peer: str, reason: str = "banned by the user") -> None:
        self._punish(peer, reason, manual=True)

    # ================================================================ gossip task

    def _input(self, fn: Callable[[float], None]) -> None:
        self._inputs_send.send_nowait(fn)

    async def _gossip_loop(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            deadline = self.gossip.get_timer()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                item = await self._inputs.receive()
                self._step(item)
                continue
            self._step(self.gossip.handle_timer)

    def _step(self, item: Callable[[float], None]) -> None:
        try:
            item(trio.current_time())
        except LocalProtocolError as e:  # e.g. a join whose peer left meanwhile
            log.info("gossip refused a local request: %s", e)
        self._flush()

    def _flush(self) -> None:
        for peer, frame in self.gossip.messages_to_send():
            link = self.links.get(peer)
            if link is None:
                continue
            link.outbox.send_nowait(frame)
            link.queued_bytes += len(frame)
            if link.queued_bytes > LINK_QUEUE_BYTES:
                log.warning("peer %s is not reading; closing the link", peer[:16])
                link.scope.cancel()
        for event in self.gossip.events():
            if isinstance(event, StoreEvents):
                self.writer.submit(event.events, self._stored, on_failure=self._store_failed)
            elif isinstance(event, EventAccepted):
                self._notify(event.doc, event.event)
            elif isinstance(event, PeerMisbehaved):
                self._punish(event.peer, event.reason)
            elif isinstance(event, PeerSuggested):
                self._suggestion(event)
            elif isinstance(event, PeerReachable):
                self._reachable(event.peer, event.port)
            elif isinstance(event, DocumentDropped):
                self._join_dropped(event)
            elif isinstance(event, ForkSeen):
                log.warning("fork: %s signed two versions of its chain in %s at seq %d (one came from %s; "
                            "its author's fault): that chain is no longer taken or passed on",
                            event.author[:16], event.network[:16], event.seq, event.peer[:16])
            else:
                log.debug("gossip: %s", event)

    def _caught_up(self, watch: JoinWatch) -> bool:
        """The root and every conversation below it (the replies with replies
        of their own, which the node follows: `follow.py`) hold what the
        inviting peer advertised."""
        if not self.gossip.caught_up_with(watch.document, watch.peer):
            return False
        now = time.monotonic()
        if now < watch.next_deep_check:
            return False
        watch.next_deep_check = now + 1.0  # a thread walk: at most once a second
        tree = thread(self.reader, watch.document, node=self.id)
        deeper = [e.id for _, e, parent in tree.walk() if parent is not None and e.replies and e.status == "ok"]
        return all(flags(self.reader, self.id, doc).subscribed and self.gossip.caught_up_with(doc, watch.peer)
                   for doc in deeper)

    def _join_dropped(self, event: DocumentDropped) -> None:
        watch = self._joins.get(event.doc)
        if watch is None or watch.done:
            return
        if event.reason == "join refused":
            watch.refused = True
        elif event.reason == "join peer lost":  # ask again once it is back
            self.state.request_join(event.doc, watch.peer)

    def _written(self, what: str, error: Exception | None) -> None:
        if error is None:
            self.health.ok()
        else:
            self.health.failed(what, error)

    def _store_failed(self, error: BaseException) -> None:
        self.health.failed("storing peers' events (retried)", error)

    def _stored(self, job: Any) -> None:
        if job.error is not None:  # nothing of the batch was kept: peers send it again later
            self.health.failed(f"storing {len(job.events)} events", job.error)
            return
        self.health.ok()
        self._input(lambda now: self.gossip.events_stored(job.results, now))

    def _local_events(self, events: Iterable[Event]) -> None:
        events = list(events)
        if not events:
            return
        self._input(lambda now: self.gossip.publish(events, now))
        for event in events:
            self._notify(event.network, event)

    def _notify(self, document: str, event: Event) -> None:
        for key in {document, event.network, ALL}:
            for channel in list(self._watchers.get(key, ())):
                channel.send_nowait(event)

    # ================================================================ other processes

    async def _poll_loop(self) -> None:
        """Publish events that another process (the CLI) appended to our log."""
        while True:
            await trio.sleep(self.options.poll_interval)
            if self.reader.last_position() <= self._polled:
                continue  # the cheap check first: nothing new at all
            self._polled = self.reader.last_position()
            await self._publish_foreign()

    async def _publish_foreign(self) -> None:
        foreign = await self.writer.new_from_others()
        if foreign:
            self._input(lambda now: self.gossip.publish(foreign, now))
            for event in foreign:
                self._notify(event.network, event)

    async def catch_up(self) -> None:
        """Return once the gossip machine has taken every event other processes
        appended so far (garbage collection asks before it reads the machine)."""
        await self._publish_foreign()
        taken = trio.Event()
        self._input(lambda now: taken.set())  # inputs are taken in order
        await taken.wait()

    async def _status_loop(self) -> None:
        """Publish a snapshot every interval, written from a thread with its own
        connection: the write may wait for the log writer's lock, the loop must not."""
        state = NodeState(self.local.log_path, on_write=self._written)
        try:
            while True:
                self._keep_sharing(list(self.links.values()))
                snapshot = self._snapshot()
                await trio.to_thread.run_sync(self._write_status, state, snapshot)
                await trio.sleep(self.options.status_interval)
        finally:
            state.close()

    def _publish_status(self, stopped: bool = False) -> None:
        self._write_status(self.state, self._snapshot(stopped))

    def _write_status(self, state: NodeState, snapshot: dict[str, Any]) -> None:
        state.publish_status("node", snapshot)
        state.publish_status("addresses", snapshot["addresses"])

    def _snapshot(self, stopped: bool = False, *, refresh: bool = True) -> dict[str, Any]:
        """The status. Its documents are refreshed incrementally: those the gossip
        machine touched since the last snapshot, at most STATUS_DOCS_PER_SNAPSHOT
        of them (the rest at the next ones), so that a node holding thousands of
        documents does not hold up the event loop every interval (`refresh=False`:
        none, for the first status, written before the node says it is ready)."""
        self._doc_status_due |= self.gossip.changed_documents()
        due = self._doc_status_due
        if not refresh:
            batch: set[str] = set()
        elif len(due) > STATUS_DOCS_PER_SNAPSHOT and not stopped:
            batch = set(sorted(due)[:STATUS_DOCS_PER_SNAPSHOT])
            due -= batch
        else:
            batch, self._doc_status_due = due, set()
        progresses = {}
        for doc in batch:
            info = self.gossip.info(doc) if self.gossip.holds(doc) else None
            if info is None or not (info.subscribed or info.bookmarked):
                self._doc_status.pop(doc, None)  # carried replies are counted in their forum's progress
                continue
            progress = progresses[doc] = self.gossip.progress(doc)
            self._doc_status[doc] = {
                "held": progress.held, "known": progress.known,
                "peers": {p: {"held": v.held, "we_lack": v.we_lack, "they_lack": v.they_lack}
                          for p, v in progress.peers.items()},
            }
        documents = dict(sorted(self._doc_status.items()))
        return {
            "id": self.id, "name": self.local.name, "pid": os.getpid(), "running": not stopped,
            "addresses": [str(a) for a in self.addresses], "started": self.started,
            "connected": sorted(self.links), "documents": documents,
            "joins": {doc: self.join_report(doc, progresses.get(doc)) for doc in self._joins},
            "admission": self.gossip.admission_report(),
        }


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` to listen on (port 0: any free port).

    Raises:
        NodeError: not HOST:PORT.
    """
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise NodeError(f"cannot listen on {text!r}: expected HOST:PORT, e.g. 127.0.0.1:7000")
    return host, int(port)


class Watch:
    """`with node.watch(doc) as events: async for event in events: ...`"""

    def __init__(self, node: Node, document: str, send: trio.MemorySendChannel[Event],
                 receive: trio.MemoryReceiveChannel[Event]) -> None:
        self._node, self._document, self._send, self._receive = node, document, send, receive

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._node._watchers.get(self._document, set()).discard(self._send)
        self._send.close()


__all__ = ["Node", "NodeOptions", "Watch"]
