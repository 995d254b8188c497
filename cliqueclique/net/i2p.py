"""I2P transport over a router's SAM v3 bridge.

Typical use by a node (the session takes ~20 s to come up, so start it in the
background and add the transport when it is ready)::

    keys = await load_or_create_keys(home / "i2p.keys", bridge)
    session = await SamSession.create(bridge, keys)
    transport = I2PTransport(session)
    address = await nursery.start(transport.serve, handler)   # i2p:<base64>
"""

from __future__ import annotations

from pathlib import Path

import trio

from .address import Address, I2PAddress
from .errors import ConnectFailed
from .i2p_keys import I2PKeys, read_keys, write_keys
from .sam_client import SamBridgeAddress, SamConnection, SamSession, dest_generate
from .transport import StreamHandler, run_handler

DEFAULT_ACCEPTORS = 2


async def load_or_create_keys(path: Path, bridge: SamBridgeAddress) -> I2PKeys:
    """The destination kept in `path`, or a new one from the bridge saved there (mode 0600).

    Raises:
        I2PKeyFileError: the file exists but is unreadable, too open or malformed.
        SamError, SamBridgeUnavailable: no file and the bridge could not make keys.
    """
    if path.exists():
        return read_keys(path)
    keys = await dest_generate(bridge)
    write_keys(path, keys)
    return keys


class I2PTransport:
    """The `Transport` for ``i2p:`` addresses, on one existing `SamSession`.

    Args:
        session: the session to dial from and serve on (not closed by the transport).
        acceptors: STREAM ACCEPT sockets kept armed at once, so a second caller
            arriving while the first is handed over does not wait.
    """

    scheme = "i2p"

    def __init__(self, session: SamSession, acceptors: int = DEFAULT_ACCEPTORS) -> None:
        self.session = session
        self.acceptors = max(1, acceptors)

    @property
    def address(self) -> I2PAddress:
        """This node's I2P address."""
        return self.session.address

    async def connect(self, address: Address) -> trio.abc.Stream:
        """Open a stream through the session.

        Raises:
            ConnectFailed: not an I2P address.
            SamCantReachPeer: not reachable (yet); SamError subclasses for other refusals.
        """
        if not isinstance(address, I2PAddress):
            raise ConnectFailed(f"the I2P transport cannot reach {address}")
        return await self.session.connect(address)

    async def serve(
        self,
        handler: StreamHandler,
        *,
        task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept incoming streams until cancelled; started once the first ACCEPT is armed.

        Raises:
            SamInvalidId: the session is gone (router restarted): recreate it. Raised
                plainly when found at start; later failures arrive in an ExceptionGroup,
                as usual for a trio service.
            SamBridgeUnavailable: the bridge stopped answering.
        """
        first = await self.session.arm_accept()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._accept_loop, handler, nursery, first)
            for _ in range(self.acceptors - 1):
                await nursery.start(self._accept_loop, handler, nursery, None)
            task_status.started(self.address)

    async def _accept_loop(
        self, handler: StreamHandler, handlers: trio.Nursery, conn: SamConnection | None,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        if conn is None:
            conn = await self.session.arm_accept()
        task_status.started()
        while True:
            stream = await self.session.wait_caller(conn)
            handlers.start_soon(run_handler, handler, stream)
            conn = await self.session.arm_accept()
