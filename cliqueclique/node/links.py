"""Peer links: admitting incoming connections, running each link, punishing misbehaviour.

Part of `Node` (a mixin, like `Dialing`). A link that comes up takes up at
once the joins waiting for it. Anyone can open a connection, so
handshakes in progress are capped overall and per source, and accepted links
in all (`BudgetConfig`); refusals are logged a few lines per source and
minute. A link reads frames within its peer's budget and pauses reading while
the log writer is behind (TCP back-pressure); a peer that floods, sends a bad
frame or misbehaves in the gossip machine is cut off and banned, each offence
doubling the ban.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from ..net import SamStream, SecureChannel, TcpAddress, secure_accept, stream_source
from ..net.errors import TruncatedFrame
from ..net.loglimit import LimitedLog
from .budget import AddressBans, Admission, PeerBudget, ban_duration
from .dialing import _LINK_ERRORS
from .joins import JoinWatch

if TYPE_CHECKING:
    from ..nodestate import NodeState
    from .writer import LogWriter

log = logging.getLogger("cliqueclique.node")
#: connections refused for being too many are logged a few per source and minute
refused_connections = LimitedLog(log, "connections refused as too many")
refused_sources = LimitedLog(log, "links refused from a banned source")
WRITER_BACKLOG = 5_000  # events waiting for the writer before we stop reading peers
#: peers whose offence count we remember for escalating bans (the oldest go)
MAX_OFFENDERS = 10_000


@dataclass(eq=False)
class _Link:
    peer: str
    channel: SecureChannel
    address: str
    source: str  # where it connects from (a TCP host, an I2P destination): see AddressBans
    outbox: trio.MemorySendChannel[bytes]
    budget: PeerBudget
    stored: bool = False  # it has a row in the peer table
    kept: bool = False  # ... kept for good (added on purpose, or it shared a document)
    queued_bytes: int = 0
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)


class Links:
    """The peer-link half of `Node` (see the module doc)."""

    id: str
    key: Any
    gossip: Any
    state: NodeState
    writer: LogWriter
    options: Any
    links: dict[str, _Link]
    tcp_port: int
    admission: Admission
    address_bans: AddressBans
    _incoming_links: int
    _dialing: set[str]
    _next_dial: dict[str, float]
    _joins: dict[str, JoinWatch]
    _offences: OrderedDict[str, int]
    _suggested: OrderedDict[str, tuple[str, str]]

    def _input(self, fn: Callable[[float], None]) -> None:
        raise NotImplementedError  # Node's

    async def _accept(self, stream: trio.abc.Stream) -> None:
        source = stream_source(stream)
        budget = self.options.budget
        if self._incoming_links >= budget.max_incoming_links or not self.admission.begin(source):
            refused_connections.warning(source, "incoming connection from %s refused: too many connections "
                                        "(%d handshakes, %d incoming links)", source, self.admission.total,
                                        self._incoming_links)
            await trio.aclose_forcefully(stream)
            return
        try:
            channel = await secure_accept(stream, self.key)
        except _LINK_ERRORS as e:
            log.info("incoming connection refused: %s", e)
            return
        finally:
            self.admission.end(source)
        # An I2P caller's destination is also where it listens (one session dials
        # and accepts), so it is an address to dial back, needed should its old
        # address be lost; a TCP caller's source port is not.
        address = str(stream.peer) if isinstance(stream, SamStream) else ""
        self._incoming_links += 1
        try:
            await self._run_link(channel, address=address)
        finally:
            self._incoming_links -= 1

    async def _run_link(self, channel: SecureChannel, address: str, *, dialled: bool = False) -> None:
        peer = channel.peer_id
        known = self.state.peer(peer)
        source = stream_source(channel.stream)
        if peer == self.id or peer in self.links or (known and known.banned(time.time())):
            await trio.aclose_forcefully(channel.stream)
            return
        if self.address_bans.banned(source, time.time()) and not (
                known is not None and known.kept and peer not in self._offences):
            refused_sources.warning(source, "link from %s refused: its source %s is banned", peer[:16], source)
            await trio.aclose_forcefully(channel.stream)
            return
        outbox, queued = trio.open_memory_channel[bytes](math.inf)
        link = _Link(peer, channel, address, source, outbox, PeerBudget(self.options.budget),
                     stored=known is not None, kept=known is not None and known.kept)
        self.links[peer] = link
        # A peer that dialled us and never met us stays in memory only, until it
        # shares a document (`_keep_sharing`): fresh keys must not grow the table.
        if link.stored or dialled:
            self.state.add_peer(peer, [address] if address else [], kept=False)
            self.state.update_peer(peer, state="connected", failures=0, last_seen=time.time())
            link.stored = True
        port = self.tcp_port if isinstance(channel.stream, trio.SocketStream) else 0
        self._input(lambda now: self.gossip.peer_connected(peer, now, address, port))
        self._take_up_joins(peer)  # now, beside the handshake's last message, not at the next dial round
        log.info("link up: %s %s", peer[:16], address[:60])
        try:
            with link.scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._send_loop, link, queued)
                    nursery.start_soon(self._receive_loop, link)
        except Exception:  # a bug must cost one link, never the node
            log.exception("link to %s failed", peer[:16])
        finally:
            self._punish_bad_frame(link)
            self._keep_sharing([link])  # before the gossip machine forgets its links
            del self.links[peer]
            self._input(lambda now: self.gossip.peer_lost(peer, now))
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(channel.stream)
            if link.stored:
                current = self.state.peer(peer)
                if current is not None and not current.banned(time.time()):
                    self.state.update_peer(peer, state="known", last_seen=time.time())

    def _take_up_joins(self, through: str | None = None) -> None:
        """Hand the gossip machine the joins waiting for a link that is up (all,
        or those `through` one peer, as its link comes up: on a 2 s round trip
        the dial loop's half second is a quarter of a round trip lost); a
        peer another join waits for loses its back-off (the loop dials it next)."""
        now = trio.current_time()
        for document, peer, requested in self.state.pending_joins():
            if through is not None and peer != through:
                continue
            watch = self._joins.get(document)
            if watch is None or watch.requested < requested:  # asked by the CLI
                self._joins[document] = JoinWatch(document, peer, requested)
            if peer in self.links:
                self._input(lambda t, d=document, p=peer: self.gossip.join(d, p, t))
                self.state.finish_join(document, peer)
            elif peer not in self._dialing and self._next_dial.get(peer, 0.0) > now:
                self._next_dial.pop(peer, None)  # a join is waiting: try now, not after back-off

    def _punish_bad_frame(self, link: _Link) -> None:
        """An oversized, malformed, replayed or forged frame after a valid handshake
        is misbehaviour; a frame cut short by a broken connection is not."""
        failure = link.channel.failure
        if failure is not None and not isinstance(failure, TruncatedFrame):
            self._punish(link.peer, f"bad frame: {type(failure).__name__}: {failure}")

    def _keep_sharing(self, links: Iterable[_Link]) -> None:
        """Keep for good the peers of `links` that share a document with us."""
        waiting = [link for link in links if not link.kept]
        if not waiting:
            return
        sharing: set[str] = set()
        for doc in self.gossip.held_documents():
            proto = self.gossip.protocol(doc)
            if proto is not None:
                sharing.update(proto.links)
        for link in waiting:
            if link.peer in sharing:
                self.state.keep_peer(link.peer, [link.address] if link.address else [])
                self.state.update_peer(link.peer, state="connected", failures=0, last_seen=time.time())
                link.stored = link.kept = True

    def _reachable(self, peer: str, port: int) -> None:
        """A peer that dialled in told us its TCP port: others may dial it at that
        port of the host it connects from (never a host it names, so it cannot
        point them at a third party). Only for suggestions: we do not store it,
        since the way the peer chose to reach us (say, through a proxy) is its
        own business and our redials keep to the addresses we were given."""
        link = self.links.get(peer)
        if link is None or link.address or not isinstance(link.channel.stream, trio.SocketStream):
            return  # it has an address already, or the link is not TCP (I2P, in-memory)
        address = str(TcpAddress(link.source, port))  # the host as the socket saw it; port 1-65535 (u16, not 0)
        self._input(lambda now: self.gossip.set_hint(peer, address, now))

    async def _receive_loop(self, link: _Link) -> None:
        try:
            async for data in link.channel:
                if not link.budget.allow(len(data), trio.current_time()):
                    self._punish(link.peer, "flood: over its frame or byte budget")
                    return
                self._input(lambda now, data=data: self._receive(link, data, now))
                # Backpressure: stop reading (TCP pushes back on the peer) while
                # the log writer is behind, so memory stays bounded.
                await self.writer.wait_for_room(WRITER_BACKLOG)
        except (*_LINK_ERRORS, trio.EndOfChannel) as e:  # a bad frame: see `_punish_bad_frame`
            log.info("link to %s closed: %s", link.peer[:16], e or type(e).__name__)
        finally:
            link.scope.cancel()

    def _receive(self, link: _Link, data: bytes, now: float) -> None:
        if not link.scope.cancel_called:  # frames queued before a ban are dropped
            self.gossip.receive(link.peer, data, now)

    async def _send_loop(self, link: _Link, queued: trio.MemoryReceiveChannel[bytes]) -> None:
        try:
            async for frame in queued:
                await link.channel.send(frame)
                link.queued_bytes -= len(frame)
        except _LINK_ERRORS as e:
            log.info("link to %s closed while sending: %s", link.peer[:16], e)
        finally:
            link.scope.cancel()

    def _punish(self, peer: str, reason: str, manual: bool = False) -> None:
        """Cut `peer` off and ban it; each offence doubles the ban."""
        self._offences[peer] = self._offences.get(peer, 0) + 1
        self._offences.move_to_end(peer)
        while len(self._offences) > MAX_OFFENDERS:
            self._offences.popitem(last=False)
        seconds = 10 * 365 * 86400.0 if manual else ban_duration(self._offences[peer], self.options.budget)
        log.warning("banning %s for %.0fs: %s", peer[:16], seconds, reason)
        if self.state.peer(peer) is None:
            self.state.add_peer(peer, [], kept=manual)  # a ban by the protocol is capped with the rest
        self.state.update_peer(peer, state="banned", banned_until=time.time() + seconds, ban_reason=reason)
        for suggested, (_, source) in list(self._suggested.items()):
            if source == peer:  # what it suggested goes with it
                del self._suggested[suggested]
        link = self.links.get(peer)
        if link is not None:
            if not manual:
                self.address_bans.ban(link.source, seconds, time.time())
            link.stored = True
            link.scope.cancel()
