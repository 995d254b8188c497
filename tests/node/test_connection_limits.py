"""Connections anyone can open are capped: handshakes in progress per source and
overall (`BudgetConfig.max_handshakes_per_source`, `max_handshakes`).

A real `serve`; the attacker is this test, opening plain TCP connections that
never say hello, from loopback addresses of its own (127.0.0.x), so the
honest peer (dialling from 127.0.0.1) is another source. What the victim
holds is counted in /proc: its open descriptors.
"""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path

import pytest
import trio

from cliqueclique.node import Node
from cliqueclique.node.budget import BudgetConfig

from .harness import DEADLINE, Serve, cli
from .test_node_inprocess import make_home, options

LIMITS = BudgetConfig()


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def silent_connections(address: str, sources: list[str]) -> list[socket.socket]:
    """One connection per entry of `sources` (a local address to connect from), saying nothing."""
    host, port = address.removeprefix("tcp:").rsplit(":", 1)
    opened = []
    for source in sources:
        sock = socket.socket()
        sock.bind((source, 0))
        sock.connect((host, int(port)))
        opened.append(sock)
    return opened


def wait_until_closed_by_peer(socks: list[socket.socket], count: int) -> set[socket.socket]:
    """Block until `count` of `socks` were closed by the other end; those."""
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + DEADLINE
    while len(closed) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {len(closed)} of {count} connections were closed"
        readable, _, _ = select.select([s for s in socks if s not in closed], [], [], left)
        for sock in readable:
            try:
                if sock.recv(1) == b"":
                    closed.add(sock)
            except ConnectionResetError:
                closed.add(sock)
    return closed


def still_open(socks: list[socket.socket]) -> list[socket.socket]:
    readable, _, _ = select.select(socks, [], [], 0)
    return [s for s in socks if s not in readable]


@pytest.fixture
def pair(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A serves a forum; B has joined it and both are connected."""
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    cli(a_home, "init")
    cli(b_home, "init")
    a, b = Serve(a_home), Serve(b_home)
    try:
        root = cli(a_home, "post", "-s", "forum", "-b", "hi").stdout.strip()
        yield a_home, a, b_home, b, root
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
def test_silent_connections_from_one_host_get_a_few_slots_and_an_honest_peer_joins(pair) -> None:  # type: ignore[no-untyped-def]
    a_home, a, b_home, b, root = pair
    before = descriptors(a.proc.pid)
    flood = silent_connections(a.address, ["127.0.0.9"] * 200)
    try:
        refused = wait_until_closed_by_peer(flood, 200 - LIMITS.max_handshakes_per_source)
        held = still_open(flood)
        assert len(held) == LIMITS.max_handshakes_per_source and not set(held) & refused
        # what the victim holds for them: the few connections in handshake
        assert descriptors(a.proc.pid) <= before + LIMITS.max_handshakes_per_source + 4
        # another source is not affected: B joins while the flood holds its slots
        cli(b_home, "join", cli(a_home, "invite", root).stdout.strip())
        b.wait_for({root})
        reply = cli(a_home, "post", "-s", "re", "-b", "during the flood", "--parent", root).stdout.strip()
        b.wait_for({reply})
    finally:
        for sock in flood:
            sock.close()
    a.stop()
    refusals = [line for line in a.stderr if "too many connections" in line]
    assert 1 <= len(refusals) <= 5, refusals  # rate-limited per source (one summary at most)


@pytest.mark.slow
def test_silent_connections_from_many_hosts_are_capped_overall_and_links_keep_working(pair) -> None:  # type: ignore[no-untyped-def]
    a_home, a, b_home, b, root = pair
    cli(b_home, "join", cli(a_home, "invite", root).stdout.strip())
    b.wait_for({root})
    before = descriptors(a.proc.pid)
    sources = [f"127.0.0.{10 + i // 2}" for i in range(2 * LIMITS.max_handshakes)]  # 2 per host
    flood = silent_connections(a.address, sources)
    try:
        wait_until_closed_by_peer(flood, len(flood) - LIMITS.max_handshakes)
        assert len(still_open(flood)) == LIMITS.max_handshakes
        assert descriptors(a.proc.pid) <= before + LIMITS.max_handshakes + 4
        # the link B already has keeps replicating both ways
        reply = cli(a_home, "post", "-s", "re", "-b", "from a", "--parent", root).stdout.strip()
        b.wait_for({reply})
        answer = cli(b_home, "post", "-s", "re", "-b", "from b", "--parent", root).stdout.strip()
        a.wait_for({answer})
    finally:
        for sock in flood:
            sock.close()


async def test_incoming_links_beyond_the_cap_are_refused_until_one_closes(tmp_path: Path) -> None:
    """`max_incoming_links`: in-process nodes over loopback TCP, A accepting two links."""
    capped = options()
    capped.budget = BudgetConfig(max_incoming_links=2)
    homes = {name: make_home(tmp_path, name) for name in "abcd"}

    async def linked(node: Node, peer: str) -> None:
        with trio.fail_after(DEADLINE):
            while peer not in node.links:
                await trio.sleep(0.05)

    async with Node.open(homes["a"], options=capped) as a, Node.open(homes["c"], options=options()) as c, \
            Node.open(homes["d"], options=options()) as d:
        async with Node.open(homes["b"], options=options()) as b:
            for other in (b, c):
                await other.connect(str(a.addresses[0]), a.id)
                await linked(a, other.id)
            await d.connect(str(a.addresses[0]), a.id)
            with trio.fail_after(DEADLINE):  # its dial is refused (and retried with back-off)
                while d.state.peer(a.id).failures == 0:  # type: ignore[union-attr]
                    await trio.sleep(0.05)
            assert set(a.links) == {b.id, c.id}
        await linked(a, d.id)  # B stopped: its slot went to D
        assert set(a.links) == {c.id, d.id}
