"""The trio side of SAM v3: bridge sockets, sessions, and the streams they open.

A `SamSession` owns one control socket for as long as the session lives
(closing it ends the session on the router). Each `connect` / `accept` opens a
fresh socket, says HELLO, sends its STREAM command and, once the bridge has
answered, hands the socket over as a `SamStream` together with any bytes the
line reader had already buffered past the last line.

`SESSION CREATE` takes about 20 s on i2pd 2.45.1 (a fixed readiness check
interval), so `SamSession.create` is a plain coroutine that callers run in
parallel nursery tasks (or through `create_sessions`), and a session is meant
to be created once and reused for every stream.
"""

from __future__ import annotations

import operator
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import trio

from . import sam
from .address import I2PAddress, parse_i2p_destination
from .errors import BadAddress, SamBridgeUnavailable, SamProtocolError, SamTimeout
from .i2p_keys import I2PKeys

DEFAULT_SAM_HOST = "127.0.0.1"
DEFAULT_SAM_PORT = 7656
HELLO_TIMEOUT = 15.0
SESSION_CREATE_TIMEOUT = 180.0
STREAM_CONNECT_TIMEOUT = 90.0
_RECV = 16 * 1024


@dataclass(frozen=True)
class SamBridgeAddress:
    """Where the router's SAM bridge listens."""

    host: str = DEFAULT_SAM_HOST
    port: int = DEFAULT_SAM_PORT

    @classmethod
    def parse(cls, text: str) -> SamBridgeAddress:
        """Parse ``HOST:PORT`` (or ``PORT`` alone, meaning 127.0.0.1).

        Raises:
            BadAddress: not HOST:PORT with a port from 1 to 65535.
        """
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = DEFAULT_SAM_HOST, text
        if not port.isdigit() or not 1 <= int(port) <= 65535 or (sep and not host):
            raise BadAddress(text, "expected a SAM bridge as HOST:PORT")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class SamConnection:
    """One socket to the bridge, after a successful HELLO."""

    def __init__(self, stream: trio.SocketStream, bridge: SamBridgeAddress) -> None:
        self.stream = stream
        self.bridge = bridge
        self._lines = sam.LineBuffer()

    @classmethod
    async def open(cls, bridge: SamBridgeAddress) -> SamConnection:
        """Connect and negotiate SAM 3.1.

        Raises:
            SamBridgeUnavailable: nothing answers at the bridge address, or it hung up.
            SamNoVersion: the bridge does not speak SAM 3.1.
            SamTimeout: no HELLO REPLY in time.
        """
        try:
            stream = await trio.open_tcp_stream(bridge.host, bridge.port)
        except OSError as e:
            raise SamBridgeUnavailable(f"no SAM bridge at {bridge}: {e.strerror or e}") from e
        conn = cls(stream, bridge)
        try:
            await conn.command(sam.hello(), HELLO_TIMEOUT, "HELLO", "REPLY")
        except BaseException:
            await trio.aclose_forcefully(stream)
            raise
        return conn

    async def read_line(self) -> str:
        """The next complete line from the bridge.

        Raises:
            SamBridgeUnavailable: the bridge closed the socket or it broke.
            SamProtocolError: an over-long or non-ASCII line.
        """
        while (line := self._lines.next_line()) is None:
            try:
                data = await self.stream.receive_some(_RECV)
            except trio.BrokenResourceError as e:
                raise SamBridgeUnavailable(f"SAM bridge {self.bridge} connection broke") from e
            if not data:
                raise SamBridgeUnavailable(f"SAM bridge {self.bridge} closed the connection")
            self._lines.feed(data)
        return line

    async def command(self, line: bytes, timeout: float, topic: str, kind: str) -> sam.SamReply:
        """Send one command and parse the reply, which must be `topic kind` with RESULT OK.

        Raises:
            SamError: the bridge answered with an error RESULT (one subclass per code).
            SamTimeout: no reply within `timeout` seconds.
            SamProtocolError, SamBridgeUnavailable: as in `read_line`.
        """
        try:
            await self.stream.send_all(line)
        except trio.BrokenResourceError as e:
            raise SamBridgeUnavailable(f"SAM bridge {self.bridge} connection broke") from e
        with trio.move_on_after(timeout):
            return sam.parse_reply(await self.read_line()).expect(topic, kind)
        verb = line.split(b" ", 2)[:2]
        raise SamTimeout(f"no reply to {b' '.join(verb).decode()} within {timeout:g}s")

    def into_stream(self, peer: I2PAddress) -> SamStream:
        """Hand the socket over as the byte stream of an I2P connection to `peer`."""
        return SamStream(self.stream, self._lines.take_rest(), peer)

    async def aclose(self) -> None:
        """Close the socket (ending whatever SAM object it carries)."""
        await self.stream.aclose()


class SamStream(trio.abc.Stream):
    """An I2P stream: the SAM socket after its status lines, plus bytes already read."""

    def __init__(self, stream: trio.SocketStream, pending: bytes, peer: I2PAddress) -> None:
        self._stream = stream
        self._pending = pending
        self._closed = False
        self.peer = peer  # the remote destination (full base64 for accepted streams)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send bytes to the peer (see `trio.abc.SendStream.send_all`)."""
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        """See `trio.abc.SendStream.wait_send_all_might_not_block`."""
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Receive bytes, first those the line reader had buffered past the status lines."""
        if not self._pending:
            return await self._stream.receive_some(max_bytes)
        if max_bytes is not None:
            max_bytes = operator.index(max_bytes)
            if max_bytes < 1:
                raise ValueError("max_bytes must be >= 1")
        if self._closed:
            raise trio.ClosedResourceError("this stream was closed")
        await trio.lowlevel.checkpoint()
        size = len(self._pending) if max_bytes is None else max_bytes
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk

    async def aclose(self) -> None:
        """Close the socket; the bridge then closes the I2P stream."""
        self._closed = True
        self._pending = b""
        await self._stream.aclose()


class SamSession(trio.abc.AsyncResource):
    """A STREAM session bound to one destination; reuse it for every stream."""

    def __init__(self, control: SamConnection, keys: I2PKeys, nickname: str) -> None:
        self._control = control
        self._control_lock = trio.Lock()
        self.keys = keys
        self.nickname = nickname
        self.bridge = control.bridge

    @property
    def address(self) -> I2PAddress:
        """This session's own destination (b32 and full base64)."""
        return self.keys.address

    @classmethod
    async def create(
        cls, bridge: SamBridgeAddress, keys: I2PKeys, *, nickname: str | None = None,
        options: Mapping[str, str | int] | None = None, timeout: float = SESSION_CREATE_TIMEOUT,
    ) -> SamSession:
        """Create a STREAM session for `keys` (about 20 s on i2pd 2.45.1).

        Args:
            bridge: the SAM bridge.
            keys: the destination's private keys (see `load_or_create_keys`).
            nickname: session id on the bridge; a random ``clq-...`` one by default.
            options: I2CP/tunnel options (e.g. ``{"inbound.length": 1}``); router defaults if None.
            timeout: give up after this many seconds.

        Raises:
            SamDuplicatedDest: the destination already has a session on this router.
            SamDuplicatedId: the nickname is taken.
            SamInvalidKey: the router rejects the keys.
            SamTimeout, SamBridgeUnavailable, SamProtocolError: see `SamConnection`.
        """
        nickname = nickname or f"clq-{secrets.token_hex(6)}"
        line = sam.session_create(nickname, keys.private_base64, options)
        control = await SamConnection.open(bridge)
        try:
            await control.command(line, timeout, "SESSION", "STATUS")
        except BaseException:
            await trio.aclose_forcefully(control.stream)
            raise
        return cls(control, keys, nickname)

    async def connect(
        self, destination: I2PAddress, timeout: float = STREAM_CONNECT_TIMEOUT,
    ) -> SamStream:
        """Open a stream to a destination.

        Raises:
            SamCantReachPeer: no LeaseSet found or no route (often temporary: retry later).
            SamInvalidKey: the destination is not valid.
            SamInvalidId: this session no longer exists on the bridge.
            SamTimeout, SamBridgeUnavailable, SamProtocolError: see `SamConnection`.
        """
        conn = await SamConnection.open(self.bridge)
        try:
            line = sam.stream_connect(self.nickname, destination.sam_target)
            await conn.command(line, timeout, "STREAM", "STATUS")
        except BaseException:
            await trio.aclose_forcefully(conn.stream)
            raise
        return conn.into_stream(destination)

    async def arm_accept(self) -> SamConnection:
        """Open a socket waiting for the next incoming stream (returns once the bridge agreed).

        Raises:
            SamInvalidId: this session no longer exists on the bridge.
            SamTimeout, SamBridgeUnavailable, SamProtocolError: see `SamConnection`.
        """
        conn = await SamConnection.open(self.bridge)
        try:
            await conn.command(sam.stream_accept(self.nickname), HELLO_TIMEOUT, "STREAM", "STATUS")
        except BaseException:
            await trio.aclose_forcefully(conn.stream)
            raise
        return conn

    async def wait_caller(self, conn: SamConnection) -> SamStream:
        """Wait on an armed socket until a peer connects; return the stream from it.

        Raises:
            SamBridgeUnavailable: the bridge dropped the waiting socket.
            SamProtocolError: the first line does not name a valid destination.
        """
        try:
            dest, _ = sam.parse_accept_line(await conn.read_line())
            try:
                peer = parse_i2p_destination(dest)
            except BadAddress as e:
                raise SamProtocolError(f"accepted stream names a bad destination: {e}") from e
        except BaseException:
            await trio.aclose_forcefully(conn.stream)
            raise
        return conn.into_stream(peer)

    async def accept(self) -> SamStream:
        """Wait for the next incoming stream (arm an ACCEPT, then wait for a caller)."""
        return await self.wait_caller(await self.arm_accept())

    async def lookup(self, name: str, timeout: float = STREAM_CONNECT_TIMEOUT) -> I2PAddress:
        """Resolve a name (``<b32>.b32.i2p`` or ``ME``) to a full destination.

        Runs on the session's control socket, so the LeaseSet lookup goes through
        this session's own tunnels.

        Raises:
            SamKeyNotFound, SamInvalidKey: the name does not resolve.
            SamTimeout, SamBridgeUnavailable, SamProtocolError: see `SamConnection`.
        """
        async with self._control_lock:
            reply = await self._control.command(sam.naming_lookup(name), timeout, "NAMING", "REPLY")
        try:
            return parse_i2p_destination(reply.require("VALUE"))
        except BadAddress as e:
            raise SamProtocolError(f"NAMING REPLY holds a bad destination: {e}") from e

    async def aclose(self) -> None:
        """End the session on the router (streams already open are closed by the router)."""
        await self._control.aclose()


async def dest_generate(bridge: SamBridgeAddress) -> I2PKeys:
    """Ask the bridge for a fresh ed25519 destination.

    Raises:
        SamError, SamTimeout, SamBridgeUnavailable, SamProtocolError: the bridge failed.
    """
    conn = await SamConnection.open(bridge)
    try:
        reply = await conn.command(sam.dest_generate(), HELLO_TIMEOUT, "DEST", "REPLY")
    finally:
        await trio.aclose_forcefully(conn.stream)
    return I2PKeys.from_base64(reply.require("PRIV"))


async def create_sessions(
    requests: Sequence[tuple[SamBridgeAddress, I2PKeys]],
    options: Mapping[str, str | int] | None = None,
    timeout: float = SESSION_CREATE_TIMEOUT,
) -> list[SamSession]:
    """Create several sessions at once (each takes ~20 s; together they take ~20 s too).

    Returns:
        The sessions, in the order of `requests`. If any creation fails, the ones
        already created are closed and the error propagates.
    """
    sessions: list[SamSession | None] = [None] * len(requests)

    async def one(i: int, bridge: SamBridgeAddress, keys: I2PKeys) -> None:
        sessions[i] = await SamSession.create(bridge, keys, options=options, timeout=timeout)

    try:
        async with trio.open_nursery() as nursery:
            for i, (bridge, keys) in enumerate(requests):
                nursery.start_soon(one, i, bridge, keys)
    except BaseException:
        for s in sessions:
            if s is not None:
                await trio.aclose_forcefully(s)
        raise
    return [s for s in sessions if s is not None]
