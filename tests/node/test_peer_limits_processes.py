"""Peer limits with real `serve` processes (peerlimits.py): eleven nodes join
one forum through the same inviter, which takes every joiner on (a joiner is
never turned away) and then sheds links beyond `max_peers` once things settle.
Afterwards the inviter is within `max_peers`, every node keeps `min_peers`
links (or all the others, when fewer), the forum's link graph is connected,
and a post from a joiner the inviter shed still reaches everyone.

This runs with the default limits (`serve --max-peers/--min-peers` can set
others) and enough joiners to exceed them. The links are read from the
status each node publishes (the document's peers, what `cliqueclique status
--json` prints), straight from its state database: a CLI call per node per
poll would be too slow for twelve nodes.

The joiners meet each other only through the inviter's suggestions: each
dialled the inviter, so the inviter knows where they listen only because
each link starts with a `Reachable` naming its TCP port.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cliqueclique.gossip import GossipConfig
from cliqueclique.home import Home
from cliqueclique.nodestate import NodeState

from .harness import Serve, cli

pytestmark = pytest.mark.slow

MAX_PEERS, MIN_PEERS = GossipConfig().max_peers, GossipConfig().min_peers
SETTLE = GossipConfig().settle_delay
JOINERS = MAX_PEERS + 3  # the inviter must shed at least three links
# Links unchanged this long count as settled: longer than one shed round
# (ask after `settle_delay`, a refusal noted after 2 * `settle_delay`) plus
# a status interval or two.
QUIET = 3 * SETTLE + 2.0
SETTLE_DEADLINE = 120.0  # seconds for the joins' links to settle


@pytest.fixture
def homes(tmp_path: Path, request: pytest.FixtureRequest) -> list[Path]:
    """The inviter's home and the joiners' (JOINERS of them unless parametrised)."""
    count = getattr(request, "param", JOINERS)
    homes = [tmp_path / f"n{i}" for i in range(count + 1)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda h: cli(h, "init", "--name", h.name), homes))
    return homes


@pytest.fixture
def nodes(homes: list[Path]) -> Iterator[list[Serve]]:
    pool = concurrent.futures.ThreadPoolExecutor(4)
    futures = [pool.submit(Serve, home, "--no-web") for home in homes]
    pool.shutdown(wait=True)
    try:
        yield [future.result() for future in futures]  # raises if one failed to start
    finally:
        for future in futures:
            if future.exception() is None:
                future.result().stop()


def forum_links(homes: list[Path], root: str) -> dict[str, set[str]]:
    """Node id -> the peers it has a link for `root` with, from the snapshot each
    running node publishes (the `documents` of `cliqueclique status --json`)."""
    links = {}
    for home in homes:
        snapshot = published(home)
        assert snapshot is not None, f"{home.name} publishes no status"
        links[snapshot["id"]] = set(snapshot["documents"].get(root, {}).get("peers", {}))
    return links


def asymmetric(links: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [(a, b) for a, peers in links.items() for b in peers if a not in links.get(b, set())]


def reachable(links: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(links.get(node, set()) - seen)
    return seen


def describe(links: dict[str, set[str]], names: dict[str, str]) -> str:
    return "; ".join(f"{names.get(n, n[:8])}: {sorted(names.get(p, p[:8]) for p in peers)}"
                     for n, peers in sorted(links.items(), key=lambda item: names.get(item[0], item[0])))


def settled_links(homes: list[Path], root: str, names: dict[str, str]) -> dict[str, set[str]]:
    """Poll the published links until every node holds a link for the forum,
    both ends of each link agree, and nothing changed for QUIET seconds."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    last: dict[str, set[str]] | None = None
    since = time.monotonic()
    while True:
        links = forum_links(homes, root)
        now = time.monotonic()
        if links != last:
            last, since = links, now
        elif all(links.values()) and not asymmetric(links) and now - since >= QUIET:
            return links
        if now > deadline:
            raise AssertionError(f"links never settled: {describe(links, names)}")
        time.sleep(0.25)  # poll interval, not a wait for any outcome


def check(links: dict[str, set[str]], inviter: str, names: dict[str, str]) -> None:
    shown = describe(links, names)
    assert len(links[inviter]) <= MAX_PEERS, f"the inviter kept {len(links[inviter])} links: {shown}"
    floor = min(MIN_PEERS, len(links) - 1)
    short = {names[n]: len(p) for n, p in links.items() if len(p) < floor}
    assert not short, f"below {floor} links: {short}; {shown}"
    assert not asymmetric(links), f"links only one end knows: {shown}"
    cut_off = set(links) - reachable(links, inviter)
    assert not cut_off, f"cut off from the inviter: {sorted(names[n] for n in cut_off)}; {shown}"


def published(home: Path) -> dict[str, Any] | None:
    """The status snapshot the node running in `home` last published, if running."""
    state = NodeState(Home(home).node().log_path)
    try:
        found = state.read_status("node")
    finally:
        state.close()
    return found[0] if found is not None and found[0]["running"] else None


def join_all(homes: list[Path], nodes: list[Serve]) -> str:
    """The first node posts a forum; every other joins it through its invite. The forum."""
    # Straight after "ready": a node's status is written before it says so.
    root = cli(homes[0], "post", "-s", "The crowded forum", "-b", "everyone joins here").stdout.strip()
    invite = cli(homes[0], "invite", root).stdout.strip()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda home: cli(home, "join", "--timeout", "60", invite), homes[1:]))
    for node in nodes[1:]:
        node.wait_for({root})
    return root


def test_joiners_through_one_inviter_leave_it_within_max_peers(homes: list[Path], nodes: list[Serve]) -> None:
    names = {node.node_id: home.name for node, home in zip(nodes, homes, strict=True)}
    inviter = nodes[0].node_id
    root = join_all(homes, nodes)

    links = settled_links(homes, root, names)
    print(f"\nsettled: {describe(links, names)}")
    check(links, inviter, names)

    # The status the CLI prints agrees (it reads the same snapshot).
    shown = json.loads(cli(homes[0], "status", "--json", root).stdout)
    assert set(shown[root]["peers"]) == links[inviter]

    # A post from a joiner the inviter shed reaches every node.
    shed = [n for n in nodes[1:] if n.node_id not in links[inviter]]
    assert shed, f"the inviter shed nobody: {describe(links, names)}"  # JOINERS > MAX_PEERS
    author = homes[nodes.index(shed[0])]
    reply = cli(author, "post", "-s", "after the shedding", "-b", "still reaches everyone",
                "--parent", root).stdout.strip()
    for node in nodes:
        node.wait_for({reply})
    check(forum_links(homes, root), inviter, names)  # and the limits still hold
