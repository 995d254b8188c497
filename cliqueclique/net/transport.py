"""The small interface every transport offers, and a dispatcher over several.

A transport opens outgoing byte streams to addresses of its scheme and serves
incoming ones. Everything it yields is a plain `trio.abc.Stream`; the secure
handshake and framing run on top and do not care which transport carried them.

`serve` follows trio's `serve_listeners`: it runs until cancelled, calls
`task_status.started(address)` with the address peers can reach once it is
accepting, and runs each `handler(stream)` in its own task. As in trio, the
stream is closed when the handler returns, and an exception escaping a handler
propagates out of `serve`, so handlers should catch what they expect.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import trio

from .address import Address
from .errors import NoTransport

StreamHandler = Callable[[trio.abc.Stream], Awaitable[Any]]


async def run_handler(handler: StreamHandler, stream: trio.abc.Stream) -> None:
    """Run one connection's handler, then close its stream (trio's `serve_listeners` rule)."""
    try:
        await handler(stream)
    finally:
        await trio.aclose_forcefully(stream)


@runtime_checkable
class Transport(Protocol):
    """What the node driver needs from a transport."""

    scheme: str

    async def connect(self, address: Address) -> trio.abc.Stream:
        """Open a stream to `address` (raises a `NetError` subclass on failure)."""
        ...

    async def serve(
        self,
        handler: StreamHandler,
        *,
        task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept streams until cancelled; report the reachable address via `task_status`."""
        ...


class Transports:
    """Dispatches `connect` to the transport registered for the address's scheme."""

    def __init__(self, transports: Iterable[Transport] = ()) -> None:
        self._by_scheme: dict[str, Transport] = {}
        for transport in transports:
            self.add(transport)

    def add(self, transport: Transport) -> None:
        """Register (or replace) the transport for its scheme."""
        self._by_scheme[transport.scheme] = transport

    def get(self, scheme: str) -> Transport:
        """The transport for `scheme`.

        Raises:
            NoTransport: none is registered for it.
        """
        try:
            return self._by_scheme[scheme]
        except KeyError:
            known = ", ".join(sorted(self._by_scheme)) or "none"
            raise NoTransport(f"no {scheme}: transport configured (have: {known})") from None

    async def connect(self, address: Address) -> trio.abc.Stream:
        """Open a stream to `address` through the transport of its scheme.

        Raises:
            NoTransport: no transport handles that scheme.
            NetError: the transport's own failure (e.g. `ConnectFailed`, a `SamError`).
        """
        return await self.get(address.scheme).connect(address)

    @property
    def schemes(self) -> list[str]:
        """The schemes this dispatcher can connect to, sorted."""
        return sorted(self._by_scheme)
