"""A small in-process SAM v3.1 bridge for fast tests (a stand-in for i2pd, not our code).

It speaks the subset the client uses (HELLO, DEST GENERATE, SESSION CREATE
STYLE=STREAM, STREAM CONNECT/ACCEPT, NAMING LOOKUP) with i2pd's reply shapes,
joins a connecting socket to a waiting acceptor of the target session and then
relays bytes both ways, closing both sockets when either side closes. Every
reply line is written in small pieces so the client's line reassembly is
exercised on every command. Real I2P is tested separately (test_i2p_testnet.py).
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field

import trio

_CERT = bytes([5, 0, 4, 0, 7, 0, 0])  # key certificate: ed25519 signing, ElGamal crypto

# The encoders below are written here on purpose rather than imported from
# cliqueclique.net: a stand-in bridge that shared the client's code could share its bugs.


def _b64(data: bytes) -> str:
    return base64.b64encode(data, altchars=b"-~").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, altchars=b"-~", validate=True)


def _b32(dest: bytes) -> str:
    return base64.b32encode(hashlib.sha256(dest).digest()).decode().rstrip("=").lower() + ".b32.i2p"


def new_private_keys() -> str:
    """Fake private keys shaped like i2pd's (destination then private part)."""
    return _b64(os.urandom(384) + _CERT + os.urandom(288))


@dataclass
class _Session:
    dest: bytes
    priv: str
    acceptors: list[tuple[trio.SocketStream, trio.Event]] = field(default_factory=list)


class FakeSamBridge:
    """Serve with ``port = await nursery.start(bridge.serve)``."""

    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.chunk = 7  # reply lines go out in pieces of this many bytes
        self.commands: list[str] = []

    async def serve(self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started(port)

    async def _send(self, stream: trio.SocketStream, line: str) -> None:
        data = (line + "\n").encode()
        for i in range(0, len(data), self.chunk):
            await stream.send_all(data[i:i + self.chunk])

    async def _handle(self, stream: trio.SocketStream) -> None:
        buf = b""
        owned: list[str] = []  # a session lives as long as the socket that created it
        try:
            while True:
                while b"\n" not in buf:
                    data = await stream.receive_some(4096)
                    if not data:
                        return
                    buf += data
                line, buf = buf.split(b"\n", 1)
                self.commands.append(line.decode())
                if not await self._dispatch(stream, line.decode(), owned):
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            for sid in owned:
                del self.sessions[sid]
            await trio.aclose_forcefully(stream)

    async def _dispatch(self, stream: trio.SocketStream, line: str, owned: list[str]) -> bool:
        """Answer one command; False once the socket has been handed over or closed."""
        words = line.split(" ")
        opts = dict(w.split("=", 1) for w in words[2:] if "=" in w)
        verb = " ".join(words[:2])
        if verb == "HELLO VERSION":
            await self._send(stream, "HELLO REPLY RESULT=OK VERSION=3.1")
        elif verb == "DEST GENERATE":
            priv = new_private_keys()
            await self._send(stream, f"DEST REPLY PUB={_b64(_unb64(priv)[:391])} PRIV={priv}")
        elif verb == "SESSION CREATE":
            return await self._session_create(stream, opts, owned)
        elif verb == "STREAM ACCEPT":
            return await self._accept(stream, opts)
        elif verb == "STREAM CONNECT":
            await self._connect(stream, opts)
            return False
        elif verb == "NAMING LOOKUP":
            await self._lookup(stream, opts)
        else:
            await self._send(stream, "SESSION STATUS RESULT=I2P_ERROR MESSAGE=Unknown command")
            return False
        return True

    async def _session_create(
        self, stream: trio.SocketStream, opts: dict[str, str], owned: list[str],
    ) -> bool:
        sid, priv = opts.get("ID", ""), opts.get("DESTINATION", "")
        if sid in self.sessions:
            await self._send(stream, "SESSION STATUS RESULT=DUPLICATED_ID")
            return False
        try:
            dest = _unb64(priv)[:391]
        except ValueError:
            await self._send(stream, "SESSION STATUS RESULT=INVALID_KEY")
            return False
        if any(s.dest == dest for s in self.sessions.values()):
            await self._send(stream, "SESSION STATUS RESULT=DUPLICATED_DEST")
            return False
        self.sessions[sid] = _Session(dest, priv)
        owned.append(sid)
        await self._send(stream, f"SESSION STATUS RESULT=OK DESTINATION={priv}")
        return True

    async def _accept(self, stream: trio.SocketStream, opts: dict[str, str]) -> bool:
        session = self.sessions.get(opts.get("ID", ""))
        if session is None:
            await self._send(stream, "STREAM STATUS RESULT=INVALID_ID")
            return False
        await self._send(stream, "STREAM STATUS RESULT=OK")
        done = trio.Event()
        session.acceptors.append((stream, done))
        try:
            await done.wait()  # the connecting side relays on this socket, then sets `done`
        finally:
            if (stream, done) in session.acceptors:
                session.acceptors.remove((stream, done))
        return False

    def _find(self, target: str) -> _Session | None:
        for session in self.sessions.values():
            if target in (_b32(session.dest), _b64(session.dest)):
                return session
        return None

    async def _connect(self, stream: trio.SocketStream, opts: dict[str, str]) -> None:
        own = self.sessions.get(opts.get("ID", ""))
        if own is None:
            await self._send(stream, "STREAM STATUS RESULT=INVALID_ID")
            return
        target = self._find(opts.get("DESTINATION", ""))
        if target is None or not target.acceptors:
            await self._send(stream, 'STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE="no route"')
            return
        peer, done = target.acceptors.pop(0)
        try:
            await self._send(stream, "STREAM STATUS RESULT=OK")
            await self._send(peer, _b64(own.dest))
            await _relay(stream, peer)
        finally:
            done.set()

    async def _lookup(self, stream: trio.SocketStream, opts: dict[str, str]) -> None:
        name = opts.get("NAME", "")
        session = self._find(name)
        if session is None:
            await self._send(stream, f"NAMING REPLY RESULT=KEY_NOT_FOUND NAME={name}")
        else:
            await self._send(stream, f"NAMING REPLY RESULT=OK NAME={name} VALUE={_b64(session.dest)}")


async def _relay(a: trio.SocketStream, b: trio.SocketStream) -> None:
    """Copy bytes both ways; when either side ends, close both (SAM has no half-close)."""

    async def pump(src: trio.SocketStream, dst: trio.SocketStream, cancel: trio.CancelScope) -> None:
        try:
            while data := await src.receive_some(65536):
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        cancel.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(pump, a, b, nursery.cancel_scope)
        nursery.start_soon(pump, b, a, nursery.cancel_scope)
    await trio.aclose_forcefully(a)
    await trio.aclose_forcefully(b)
