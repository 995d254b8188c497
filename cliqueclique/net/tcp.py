"""Plain TCP transport (trio's `open_tcp_stream` / `serve_listeners`)."""

from __future__ import annotations

import trio

from .address import Address, TcpAddress
from .errors import ConnectFailed, ListenFailed
from .transport import StreamHandler

DEFAULT_CONNECT_TIMEOUT = 30.0


class TcpTransport:
    """Dials TCP addresses and serves on one host/port.

    Args:
        host: interface to listen on (127.0.0.1 by default: local only).
        port: port to listen on; 0 picks a free one (see the address `serve` reports).
        connect_timeout: seconds before an unanswered connect fails.
    """

    scheme = "tcp"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout

    async def connect(self, address: Address) -> trio.abc.Stream:
        """Open a TCP stream (with TCP_NODELAY, as trio sets it).

        Raises:
            ConnectFailed: not a TCP address, refused, unreachable, or timed out.
        """
        if not isinstance(address, TcpAddress):
            raise ConnectFailed(f"the TCP transport cannot reach {address}")
        try:
            with trio.fail_after(self.connect_timeout):
                return await trio.open_tcp_stream(address.host, address.port)
        except trio.TooSlowError:
            raise ConnectFailed(f"{address}: no answer in {self.connect_timeout:g}s") from None
        except OSError as e:
            raise ConnectFailed(f"{address}: {e.strerror or e}") from e

    async def serve(
        self,
        handler: StreamHandler,
        *,
        task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen and run `handler` per connection until cancelled.

        Reports the bound address (with the real port when `port` was 0).

        Raises:
            ListenFailed: the port cannot be bound (in use, no permission).
        """
        try:
            listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        except OSError as e:
            raise ListenFailed(f"cannot listen on {self.host}:{self.port}: {e.strerror or e}") from e
        sockname = listeners[0].socket.getsockname()
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, handler, listeners)
            task_status.started(TcpAddress(self.host, sockname[1]))
