"""In-process transport: nodes listen on names of a `MemoryNetwork` object.

Each network is its own object (no module-level registry, unlike py-ipv8's
`internet` dict), so tests never leak listeners into each other. Streams are
trio's in-memory stream pairs, so the driver runs unchanged over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio
import trio.testing

from .address import Address, MemoryAddress
from .errors import ConnectFailed, ListenFailed
from .transport import StreamHandler, run_handler


@dataclass
class _Listener:
    handler: StreamHandler
    nursery: trio.Nursery


class MemoryNetwork:
    """A namespace of listening names; connect to a name to reach its handler."""

    def __init__(self) -> None:
        self._listeners: dict[str, _Listener] = {}

    def transport(self, name: str) -> MemoryTransport:
        """A transport that serves as `name` on this network and can dial any other name."""
        return MemoryTransport(self, name)

    def listening(self) -> list[str]:
        """Names currently accepting connections, sorted."""
        return sorted(self._listeners)

    def _check_free(self, name: str) -> None:
        if name in self._listeners:
            raise ListenFailed(f"mem:{name} is already served on this network")

    def _open(self, name: str) -> trio.abc.Stream:
        listener = self._listeners.get(name)
        if listener is None:
            raise ConnectFailed(f"nothing listens on mem:{name}")
        client, server = trio.testing.memory_stream_pair()
        listener.nursery.start_soon(run_handler, listener.handler, server)
        return client


class MemoryTransport:
    """The `Transport` of one node on a `MemoryNetwork`."""

    scheme = "mem"

    def __init__(self, network: MemoryNetwork, name: str) -> None:
        self.network = network
        self.address = MemoryAddress(name)

    async def connect(self, address: Address) -> trio.abc.Stream:
        """Open a stream to the handler serving `address`.

        Raises:
            ConnectFailed: the address is not a memory address, or nothing serves it.
        """
        await trio.lowlevel.checkpoint()
        if not isinstance(address, MemoryAddress):
            raise ConnectFailed(f"the memory transport cannot reach {address}")
        return self.network._open(address.name)

    async def serve(
        self,
        handler: StreamHandler,
        *,
        task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve this transport's name until cancelled.

        Raises:
            ListenFailed: another transport already serves this name.
        """
        name = self.address.name
        self.network._check_free(name)
        async with trio.open_nursery() as nursery:
            self.network._listeners[name] = _Listener(handler, nursery)
            try:
                task_status.started(self.address)
                await trio.sleep_forever()
            finally:
                del self.network._listeners[name]
