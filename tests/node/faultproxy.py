"""A fault-injecting TCP proxy, as its own process, controlled through stdin.

Usage: python -m tests.node.faultproxy TARGET_PORT
Prints "listening PORT", then obeys one command per stdin line and answers
"ok COMMAND" once it is in force:

  delay MS         hold every chunk MS milliseconds before forwarding it
  cut P            close a connection after any chunk with probability P
  dup on|off       open a duplicate connection to the target for every new
                   client and replay the client's bytes into it (answers dropped)
  partition        close every connection and refuse new ones
  heal             accept and forward again
"""

from __future__ import annotations

import random
import sys

import trio


class Proxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.delay = 0.0
        self.cut = 0.0
        self.dup = False
        self.partitioned = False
        self.scopes: set[trio.CancelScope] = set()
        self.rng = random.Random(42)

    async def handle(self, client: trio.SocketStream) -> None:
        if self.partitioned:
            await client.aclose()
            return
        with trio.CancelScope() as scope:
            self.scopes.add(scope)
            try:
                server = await trio.open_tcp_stream("127.0.0.1", self.target_port)
                twin = await trio.open_tcp_stream("127.0.0.1", self.target_port) if self.dup else None
                async with server, trio.open_nursery() as nursery:
                    nursery.start_soon(self.pump, client, server, twin, scope)
                    nursery.start_soon(self.pump, server, client, None, scope)
                    if twin is not None:
                        nursery.start_soon(self.discard, twin)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            finally:
                self.scopes.discard(scope)
        await trio.aclose_forcefully(client)

    async def pump(self, source: trio.abc.Stream, sink: trio.abc.Stream, twin: trio.abc.Stream | None,
                   scope: trio.CancelScope) -> None:
        async for chunk in source:
            if self.delay:
                await trio.sleep(self.delay)
            await sink.send_all(chunk)
            if twin is not None:
                try:
                    await twin.send_all(chunk)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    twin = None  # the target hung up on the replay, as it should
            if self.cut and self.rng.random() < self.cut:
                scope.cancel()
        scope.cancel()

    async def discard(self, stream: trio.abc.Stream) -> None:
        try:
            async for _ in stream:
                pass
        except trio.BrokenResourceError:
            pass

    def command(self, line: str) -> None:
        name, _, arg = line.partition(" ")
        if name == "delay":
            self.delay = float(arg) / 1000
        elif name == "cut":
            self.cut = float(arg)
        elif name == "dup":
            self.dup = arg == "on"
        elif name == "partition":
            self.partitioned = True
            for scope in list(self.scopes):
                scope.cancel()
        elif name == "heal":
            self.partitioned = False
        else:
            raise SystemExit(f"unknown command {line!r}")


async def main(target_port: int) -> None:
    proxy = Proxy(target_port)
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.serve_listeners, proxy.handle, listeners)
        print("listening", listeners[0].socket.getsockname()[1], flush=True)
        stdin = trio.wrap_file(sys.stdin)
        async for line in stdin:
            proxy.command(line.strip())
            print("ok", line.strip(), flush=True)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]))
