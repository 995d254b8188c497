"""A link-shaping TCP proxy (delay and bandwidth per direction), as its own process.

Usage: python -m tests.node.shapingproxy TARGET_PORT [--delay-ms MS] [--kbps K]
       [--up-delay-ms MS] [--down-delay-ms MS] [--up-kbps K] [--down-kbps K]
       [--buffer-bytes B]

"up" is client -> target, "down" target -> client. `--delay-ms` is the one-way
delay of both directions (a round trip is twice it), `--kbps` the bandwidth of
both in kilobits per second (800 = 100,000 bytes/s; 0 = unlimited); the
per-direction flags override them. It prints "listening PORT", then answers
each stdin line "stats" with "stats {json}" (see `ShapingProxy.stats`) and
exits at the end of stdin.

Each direction is modelled like a real link, shared by every connection
through the proxy (one I2P tunnel pair, one access line):

- bytes read from the sender queue for the wire; a chunk leaves (is
  serialised) `len / bandwidth` after the one before it has left, then
  arrives `delay` later. Delay and bandwidth are independent, so a whole
  bandwidth-delay product is in flight at once, as on a long fat pipe;
- at most `buffer_bytes` wait to leave; beyond, the proxy stops reading, and
  TCP pushes back on the sender (a router's queue, without drops).

A connection costs a round trip before its first byte passes, as TCP's (or
I2P streaming's) SYN and SYN-ACK do: the proxy connects to the target
`up.delay + down.delay` after it accepts the client.

Round trips: the proxy counts each time the data flow waits on a request,
without reading the (encrypted) bytes:

- each new connection is one (its setup, above);
- an upstream chunk reaching the target starts a wait when the downstream
  would run dry before any answer to it could arrive: everything the target
  sent before will have been delivered earlier than `down.delay` from now.
  The wait ends when the target sends again; upstream chunks meanwhile (a
  request in pieces, an ack the target does not answer) count with it. While
  the downstream stays full (a stream, and the acks and requests that keep it
  going) nothing is counted, nor is anything the target sends on its own;
- round trips are sequential: a request that depends on the answer to
  another reaches the target a whole round trip (`up.delay + down.delay`)
  after it at the earliest, so a wait starting sooner than that after the
  last one counted is a parallel one (fifty documents asked for at once, a
  resend crossing its answer) and counts with it.

The start of each is recorded on `time.monotonic()` (one clock for every
process of the machine), so a client can tell which came before some moment
of its own.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[2]
#: the largest piece read and scheduled at once: small enough that one chunk's
#: serialisation (4 KiB at 100 KB/s: 41 ms) does not stall other connections long
SHAPED_CHUNK = 4096
OPEN_CHUNK = 65536  # ... and on an unlimited link


def kbps_to_rate(kbps: float) -> float | None:
    """Kilobits per second to bytes per second; 0 (or less) is unlimited (None)."""
    return kbps * 1000 / 8 if kbps > 0 else None


@dataclass
class Direction:
    """One direction of the link: its shape, its wire schedule and its counters."""

    delay: float = 0.0  # one-way, seconds
    rate: float | None = None  # bytes per second; None: unlimited
    buffer_bytes: int = 65536  # what may wait to leave before the sender is held back
    next_free: float = -math.inf  # when the wire has finished sending what is queued
    last_arrival: float = -math.inf  # when what is queued and in flight has all arrived
    bytes: int = 0  # read from the sender
    delivered: int = 0  # written to the receiver
    chunks: int = 0
    serialised: float = 0.0  # seconds of wire time the bytes took (bytes / rate)

    @property
    def outstanding(self) -> int:
        """Bytes read from the sender and not yet delivered (queued or in flight)."""
        return self.bytes - self.delivered

    def hold_back(self, now: float) -> float:
        """Seconds to wait before reading more: the queue to leave is full."""
        if self.rate is None:
            return 0.0
        return max(0.0, self.next_free - self.buffer_bytes / self.rate - now)

    def schedule(self, size: int, now: float) -> float:
        """Queue `size` bytes read at `now`; when they arrive at the far end."""
        self.bytes += size
        self.chunks += 1
        if self.rate is None:
            self.last_arrival = max(self.last_arrival, now + self.delay)
            return self.last_arrival
        wire = size / self.rate
        self.serialised += wire
        self.next_free = max(now, self.next_free) + wire
        self.last_arrival = self.next_free + self.delay
        return self.last_arrival


@dataclass
class ShapingProxy:
    """Forwards every connection to `target_port` through the two shaped directions."""

    target_port: int
    up: Direction = field(default_factory=Direction)
    down: Direction = field(default_factory=Direction)
    target_host: str = "127.0.0.1"
    connections: int = 0
    waits: list[float] = field(default_factory=list)  # time.monotonic() at each wait's start
    waiting: bool = False
    last_wait: float = -math.inf  # when the last counted round trip started (trio clock)
    first_down: float | None = None  # time.monotonic() of the first and last downstream delivery
    last_down: float | None = None

    async def handle(self, client: trio.SocketStream) -> None:
        self.connections += 1
        self._wait()
        self.waiting = False
        try:
            await trio.sleep(self.up.delay + self.down.delay)  # SYN, SYN-ACK
            server = await trio.open_tcp_stream(self.target_host, self.target_port)
        except OSError:
            await trio.aclose_forcefully(client)
            return
        async with server, client, trio.open_nursery() as nursery:
            for source, sink, direction in ((client, server, self.up), (server, client, self.down)):
                send, receive = trio.open_memory_channel[tuple[float, bytes]](math.inf)
                nursery.start_soon(self._read, source, direction, send, nursery.cancel_scope)
                nursery.start_soon(self._deliver, sink, direction, receive, nursery.cancel_scope)

    async def _read(self, source: trio.abc.Stream, direction: Direction,
                    queue: trio.MemorySendChannel[tuple[float, bytes]], scope: trio.CancelScope) -> None:
        size = SHAPED_CHUNK if direction.rate is not None else OPEN_CHUNK
        async with queue:
            try:
                while True:
                    await trio.sleep(direction.hold_back(trio.current_time()))
                    chunk = await source.receive_some(size)
                    if not chunk:
                        return  # the connection ends once the last byte is delivered
                    if direction is self.down:
                        self.waiting = False  # it sends again: whatever wait there was is over
                    queue.send_nowait((direction.schedule(len(chunk), trio.current_time()), chunk))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                scope.cancel()

    async def _deliver(self, sink: trio.abc.Stream, direction: Direction,
                       queue: trio.MemoryReceiveChannel[tuple[float, bytes]], scope: trio.CancelScope) -> None:
        try:
            async for arrive, chunk in queue:
                await trio.sleep_until(arrive)
                await sink.send_all(chunk)
                direction.delivered += len(chunk)
                self._delivered(direction)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()

    def _delivered(self, direction: Direction) -> None:
        if direction is self.down:
            self.last_down = time.monotonic()
            if self.first_down is None:
                self.first_down = self.last_down
        elif not self.waiting and self.down.last_arrival < trio.current_time() + self.down.delay:
            self.waiting = True
            self._wait()

    def _wait(self) -> None:
        now = trio.current_time()
        if now >= self.last_wait + self.up.delay + self.down.delay - 1e-6:
            self.last_wait = now
            self.waits.append(time.monotonic())

    def stats(self) -> dict[str, Any]:
        """Counters so far: bytes per direction (read from the sender), chunks,
        the wire seconds the bytes needed at the configured rate, connections,
        and the round trips (connections included) with the monotonic start of each."""
        return {
            "up_bytes": self.up.bytes, "down_bytes": self.down.bytes,
            "up_chunks": self.up.chunks, "down_chunks": self.down.chunks,
            "up_serialised_s": self.up.serialised, "down_serialised_s": self.down.serialised,
            "connections": self.connections, "round_trips": len(self.waits), "waits": self.waits,
            "first_down": self.first_down, "last_down": self.last_down,
        }


class ShapingProxyProcess:
    """The proxy as a child process (a context manager): `.port`, `.stats()`.

    Args:
        target_port: where every connection is forwarded.
        delay_ms: one-way delay of each direction (a round trip is twice it).
        kbps: bandwidth of each direction in kilobits per second (0: unlimited).
    """

    def __init__(self, target_port: int, delay_ms: float = 0.0, kbps: float = 0.0,
                 extra: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.node.shapingproxy", str(target_port),
             "--delay-ms", str(delay_ms), "--kbps", str(kbps), *(extra or [])],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if line[:1] != ["listening"]:
            self.close()
            raise RuntimeError(f"shaping proxy did not start: {line}")
        self.port = int(line[1])

    def stats(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        name, _, payload = self.proc.stdout.readline().partition(" ")
        assert name == "stats", name
        return dict(json.loads(payload))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> ShapingProxyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target_port", type=int)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, both directions")
    parser.add_argument("--kbps", type=float, default=0.0,
                        help="bandwidth in kilobits/s (800 = 100,000 bytes/s), both directions; 0: unlimited")
    for side in ("up", "down"):
        parser.add_argument(f"--{side}-delay-ms", type=float)
        parser.add_argument(f"--{side}-kbps", type=float)
    parser.add_argument("--buffer-bytes", type=int, default=65536,
                        help="bytes that may wait to leave before the sender is held back")
    return parser.parse_args(argv)


def from_args(args: argparse.Namespace) -> ShapingProxy:
    def side(name: str) -> Direction:
        delay = getattr(args, f"{name}_delay_ms")
        kbps = getattr(args, f"{name}_kbps")
        return Direction(delay=(args.delay_ms if delay is None else delay) / 1000,
                         rate=kbps_to_rate(args.kbps if kbps is None else kbps),
                         buffer_bytes=args.buffer_bytes)
    return ShapingProxy(args.target_port, up=side("up"), down=side("down"))


async def main(argv: list[str]) -> None:
    proxy = from_args(parse_args(argv))
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, proxy.handle, listeners)
        print("listening", listeners[0].socket.getsockname()[1], flush=True)
        async for line in trio.wrap_file(sys.stdin):
            if line.strip() == "stats":
                print("stats", json.dumps(proxy.stats()), flush=True)
            elif line.strip():
                raise SystemExit(f"unknown command {line.strip()!r}")
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main, sys.argv[1:])
