"""Dialling: keep known peers connected, act on suggestions, back off per address.

Part of `Node` (a mixin, so the driver stays one object). Known peers with
an address are dialled again whenever lost, with exponential back-off per
peer. A suggested peer (`PeerSuggested`) is not stored: it waits in memory
(at most `MAX_SUGGESTED_PEERS`) to be dialled once, and gets a row only if
reached. Back-off is also kept per ADDRESS: a thousand made-up peer ids at
one address cost one dial per back-off period, not a thousand.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from ..errors import CliqueError
from ..gossip.outputs import PeerSuggested
from ..net import parse_address, secure_connect
from .joins import JoinWatch

if TYPE_CHECKING:
    from ..net import SecureChannel, Transports
    from ..nodestate import NodeState

log = logging.getLogger("cliqueclique.node")
#: What a peer or the network can make a link fail with (expected, logged, not fatal).
_LINK_ERRORS = (CliqueError, OSError, trio.BrokenResourceError, trio.ClosedResourceError)
MAX_DIAL_BACKOFF = 60.0
#: suggested peers (not in the peer table) waiting to be dialled once; the oldest go
MAX_SUGGESTED_PEERS = 64
#: addresses whose dial back-off we remember (least recently failed go first)
MAX_DIAL_ADDRESSES = 4_096


class Dialing:
    """The dialling half of `Node` (see the module doc)."""

    id: str
    key: Any
    gossip: Any
    state: NodeState
    transports: Transports
    links: dict[str, Any]
    options: Any
    _nursery: trio.Nursery | None
    _dialing: set[str]
    _next_dial: dict[str, float]
    _dial_errors: dict[str, str]
    _joins: dict[str, JoinWatch]
    _suggested: OrderedDict[str, tuple[str, str]]
    _address_backoff: OrderedDict[str, tuple[float, int]]

    def _input(self, fn: Callable[[float], None]) -> None:
        raise NotImplementedError  # Node's

    async def _run_link(self, channel: SecureChannel, address: str, *, dialled: bool = False) -> None:
        raise NotImplementedError  # Node's

    def _take_up_joins(self, through: str | None = None) -> None:
        raise NotImplementedError  # Links'

    def _suggestion(self, event: PeerSuggested) -> None:
        """Dial a suggested peer once; it is stored only if reached (`_run_link`)."""
        if event.peer in self.links or event.peer in self._dialing or event.peer == self.id:
            return
        if self.state.peer(event.peer) is None:
            try:
                address = str(parse_address(event.hint))
            except CliqueError:
                return  # nowhere to dial
            self._suggested[event.peer] = (address, event.source)
            self._suggested.move_to_end(event.peer)
            while len(self._suggested) > MAX_SUGGESTED_PEERS:
                self._suggested.popitem(last=False)
        self._start_dial(event.peer)


    def _start_dial(self, peer: str) -> None:
        if self._nursery is not None and peer not in self.links and peer not in self._dialing:
            self._dialing.add(peer)
            self._nursery.start_soon(self._dial, peer)

    async def _dial(self, peer: str) -> None:
        try:
            known = self.state.peer(peer)
            suggested = self._suggested.pop(peer, None)
            if known is None and suggested is None:
                return
            if known is not None and known.banned(time.time()):
                return
            addresses = known.addresses if known is not None else [suggested[0]]  # type: ignore[index]
            now, waits = trio.current_time(), []
            for text in addresses:
                allowed_at = self._address_backoff.get(text, (0.0, 0))[0]
                if allowed_at > now:  # failed lately, perhaps for another peer id: not again yet
                    waits.append(allowed_at)
                    continue
                try:
                    address = parse_address(text)
                    stream = await self.transports.connect(address)
                    channel = await secure_connect(stream, self.key, peer)
                except _LINK_ERRORS as e:
                    self._address_failed(text)
                    log.info("cannot reach %s at %s: %s", peer[:16], text, e)
                    if known is not None:
                        self._dial_errors[peer] = str(e) if text in str(e) else f"{text}: {e}"
                    continue
                self._address_backoff.pop(text, None)
                self._dial_errors.pop(peer, None)
                self._dialing.discard(peer)
                await self._run_link(channel, text, dialled=True)
                return
            if known is None:
                return  # a suggestion is dialled once
            if len(waits) == len(addresses) and waits:
                self._next_dial[peer] = min(waits)  # nothing tried: no failure of its own
                return
            failures = known.failures + 1
            self.state.update_peer(peer, failures=failures)
            self._next_dial[peer] = trio.current_time() + min(MAX_DIAL_BACKOFF, 0.5 * 2**failures)
        finally:
            self._dialing.discard(peer)

    def _address_failed(self, address: str) -> None:
        """Back off from `address` (doubling, capped), whichever peer we meant to reach."""
        failures = self._address_backoff.pop(address, (0.0, 0))[1] + 1
        self._address_backoff[address] = (trio.current_time() + min(MAX_DIAL_BACKOFF, 0.5 * 2**failures),
                                          failures)
        while len(self._address_backoff) > MAX_DIAL_ADDRESSES:
            self._address_backoff.popitem(last=False)

    async def _dial_loop(self) -> None:
        while True:
            self._take_up_joins()
            now, wall = trio.current_time(), time.time()
            for peer in self.state.banned_among(list(self.links), wall):  # banned by hand (`peer ban`)
                self.links[peer].scope.cancel()
            for known in self.state.dial_candidates(wall):  # only peers with an address, not banned
                if known.id not in self.links and self._next_dial.get(known.id, 0.0) <= now:
                    self._start_dial(known.id)
            await trio.sleep(self.options.dial_interval)

