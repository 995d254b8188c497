"""SAM streams over a real private I2P network; run inside the test net's namespace.

    python i2p_sam_scenario.py SAM_PORT_A CONSOLE_PORT_A SAM_PORT_B WORKDIR

Router A hosts a server destination and a "restarting" destination, router B
the client; every key is persisted in WORKDIR. The three sessions are created
in parallel. Then, at the same time:
  * trio's `check_two_way_stream` runs over client(B) -> server(A) streams;
  * the restarting destination answers the client's echo, is closed like a node
    going down, reopened from its key file at once (a quick restart: i2pd still
    holds the destination), then closed again, and once router A has dropped
    the destination (its web console no longer lists it) reopened again (a full
    restart: new tunnels and LeaseSet while the client still caches the old
    one), where it first dials the client as a restarted node dials its peers;
    each time it must have the same address and answer the echo.
Prints one JSON object (the last stdout line) for the test to check; any
failure raises, exits non-zero, and leaves its traceback on stderr.
"""

from __future__ import annotations

import json
import math
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
import trio.testing
from i2p_testnet import SESSION_OPTIONS  # this script's directory is on sys.path

from cliqueclique.net import (
    I2PAddress,
    I2PTransport,
    SamBridgeAddress,
    SamSession,
    SamStream,
    create_sessions,
    load_or_create_keys,
    parse_address,
    read_keys,
)
from cliqueclique.net.errors import SamCantReachPeer, SamDuplicatedDest

REACH_TIMEOUT = 60.0
T0 = time.monotonic()


def log(*parts: object) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s]", *parts, file=sys.stderr, flush=True)


async def retry_reachable(attempt: Callable[[], Awaitable[Any]], what: str) -> tuple[Any, int]:
    """Retry while the peer is not reachable yet (LeaseSet not published or not found)."""
    tries = 0
    with trio.fail_after(REACH_TIMEOUT):
        while True:
            tries += 1
            try:
                return await attempt(), tries
            except SamCantReachPeer as e:
                log(f"{what}: attempt {tries}: {e}")
                await trio.sleep(1)  # back-off before asking the router again


async def echo(stream: trio.abc.Stream) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data)


async def echo_roundtrip(session: SamSession, address: I2PAddress, payload: bytes) -> bytes:
    """One stream: send `payload`, read it back (times out if the peer is not there)."""
    with trio.fail_after(20):
        async with await session.connect(address) as stream:
            await stream.send_all(payload)
            got = b""
            while len(got) < len(payload):
                chunk = await stream.receive_some()
                if not chunk:
                    break
                got += chunk
            return got


async def reopen(bridge: SamBridgeAddress, key_file: Path) -> SamSession:
    """Recreate a session from its key file, as a restarted node would."""
    keys = read_keys(key_file)
    with trio.fail_after(120):
        while True:
            try:
                return await SamSession.create(bridge, keys, options=SESSION_OPTIONS)
            except SamDuplicatedDest:  # the router may still be tearing the old one down
                log("restart: old destination not released yet")
                await trio.sleep(2)


async def released(console_port: int, b32: str) -> float:
    """Wait until the router's web console no longer lists `b32` as a local destination."""
    url = f"http://127.0.0.1:{console_port}/?page=local_destinations"

    def listed() -> bool:
        with urllib.request.urlopen(url, timeout=5) as page:
            return b32[:20] in page.read().decode("utf-8", "replace")

    t = time.monotonic()
    with trio.fail_after(60):
        while await trio.to_thread.run_sync(listed):
            await trio.sleep(0.5)  # polling another process's state: there is no event to wait on
    return round(time.monotonic() - t, 1)


async def restart_check(client: SamSession, restarting: SamSession, bridge: SamBridgeAddress,
                        console_port: int, key_file: Path) -> list[dict[str, Any]]:
    """Serve an echo; stop and reopen from the key file twice (quick, then full restart).

    After a full restart the client still caches the old LeaseSet (dead tunnels)
    and cannot reach the new one until it expires; a restarted node therefore
    dials its peers first, which hands them its new LeaseSet. The test does that.
    """
    address = parse_address(str(restarting.address))  # what a peer table would hold
    assert isinstance(address, I2PAddress)
    steps = []
    session = restarting
    for kind in ["first", "quick restart", "full restart"]:
        step: dict[str, Any] = {"kind": kind, "address": address.b32}
        if kind != "first":
            await session.aclose()
            if kind == "full restart":
                step["release_seconds"] = await released(console_port, address.b32)
            t = time.monotonic()
            session = await reopen(bridge, key_file)
            step.update(address=(await session.lookup("ME")).b32,
                        reopen_seconds=round(time.monotonic() - t, 1))
        async with trio.open_nursery() as nursery:
            await nursery.start(I2PTransport(session).serve, echo)
            if kind == "full restart":
                await nursery.start(I2PTransport(client).serve, echo)
                got, tries = await echo_until_answered(session, client.address, b"hello again")
                step.update(dialled_out=got == b"hello again", dial_tries=tries)
            t = time.monotonic()
            payload = b"echo %d" % len(steps)
            got, tries = await echo_until_answered(client, address, payload)
            step.update(echo=got == payload, tries=tries,
                        echo_seconds=round(time.monotonic() - t, 1))
            nursery.cancel_scope.cancel()
        log("restart step", step)
        steps.append(step)
    await session.aclose()
    return steps


async def echo_until_answered(
    client: SamSession, address: I2PAddress, payload: bytes,
) -> tuple[bytes, int]:
    """Retry the echo: after a restart the client may still hold the old LeaseSet."""
    tries = 0
    with trio.fail_after(REACH_TIMEOUT * 2):
        while True:
            tries += 1
            try:
                return await echo_roundtrip(client, address, payload), tries
            except (SamCantReachPeer, trio.TooSlowError, trio.BrokenResourceError) as e:
                log(f"echo {payload!r}: attempt {tries}: {type(e).__name__} {e}")
                await trio.sleep(1)


async def two_way_check(server: SamSession, client: SamSession) -> dict[str, Any]:
    send, receive = trio.open_memory_channel[trio.abc.Stream](math.inf)

    async def handler(stream: trio.abc.Stream) -> None:
        await send.send(stream)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        await nursery.start(I2PTransport(server).serve, handler)
        pairs = 0

        async def make() -> tuple[trio.abc.Stream, trio.abc.Stream]:
            nonlocal pairs
            near: SamStream = (await retry_reachable(
                lambda: client.connect(I2PAddress(server.address.b32)), "connect"))[0]
            with trio.fail_after(30):
                far = await receive.receive()
            pairs += 1
            return near, far

        t = time.monotonic()
        with trio.fail_after(150):
            await trio.testing.check_two_way_stream(make, None)
        nursery.cancel_scope.cancel()
    return {"two_way_stream": "passed", "stream_pairs": pairs,
            "check_seconds": round(time.monotonic() - t, 1)}


async def main(port_a: int, console_a: int, port_b: int, workdir: Path) -> dict[str, Any]:
    a, b = SamBridgeAddress("127.0.0.1", port_a), SamBridgeAddress("127.0.0.1", port_b)
    server_keys = await load_or_create_keys(workdir / "server.keys", a)
    restart_file = workdir / "restart.keys"
    restart_keys = await load_or_create_keys(restart_file, a)
    client_keys = await load_or_create_keys(workdir / "client.keys", b)
    t = time.monotonic()
    server, restarting, client = await create_sessions(
        [(a, server_keys), (a, restart_keys), (b, client_keys)], options=SESSION_OPTIONS)
    result: dict[str, Any] = {"sessions_seconds": round(time.monotonic() - t, 1)}
    log("three sessions up", result)
    lookup = await client.lookup(server.address.b32)
    result["lookup_ok"] = lookup == server.address
    async with server, client, trio.open_nursery() as nursery:
        async def restart() -> None:
            result["restart"] = await restart_check(client, restarting, a, console_a, restart_file)
            log("restart check done", result["restart"])

        nursery.start_soon(restart)
        result.update(await two_way_check(server, client))
        log("check_two_way_stream passed")
    result["seconds"] = round(time.monotonic() - T0, 1)
    return result


if __name__ == "__main__":
    port_a, console_a, port_b = (int(arg) for arg in sys.argv[1:4])
    print(json.dumps(trio.run(main, port_a, console_a, port_b, Path(sys.argv[4]))), flush=True)
