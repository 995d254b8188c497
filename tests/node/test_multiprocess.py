"""Five nodes as separate OS processes on loopback TCP (issue: the running node)."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Serve, cli, log_ids

pytestmark = pytest.mark.slow


@pytest.fixture
def homes(tmp_path: Path) -> list[Path]:
    homes = [tmp_path / f"n{i}" for i in range(5)]
    for i, home in enumerate(homes):
        cli(home, "init", "--name", f"n{i}")
    return homes


@pytest.fixture
def nodes(homes: list[Path]) -> Iterator[list[Serve]]:
    started: list[Serve] = []
    try:
        for home in homes:
            started.append(Serve(home))
        yield started
    finally:
        for node in started:
            node.stop()


def forum_ids(home: Path, root: str) -> set[str]:
    """Ids of every event in the forum's networks (root and replies), subscriptions aside."""
    events = [json.loads(line) for line in cli(home, "log", "--json").stdout.splitlines()]
    replies = {e["body"]["child"] for e in events if e["kind"] == "link" and e["network"] == root}
    return {e["id"] for e in events if e["network"] in replies | {root} and e["kind"] != "subscription"}


def post_replies(home: Path, root: str, count: int, tag: str) -> list[str]:
    return [cli(home, "post", "-s", f"{tag} {i}", "-b", f"reply {i} from {tag}", "--parent", root).stdout.strip()
            for i in range(count)]


def test_five_processes_converge_and_survive_sigkill(homes: list[Path], nodes: list[Serve]) -> None:
    root = cli(homes[0], "post", "-s", "The forum", "-b", "welcome").stdout.strip()
    other = cli(homes[0], "post", "-s", "Another forum", "-b", "elsewhere").stdout.strip()
    invite = cli(homes[0], "invite", root).stdout.strip()
    for i in (1, 2, 3):
        cli(homes[i], "join", invite)
    cli(homes[4], "join", cli(homes[0], "invite", other).stdout.strip())  # linked, never subscribed
    for i in (1, 2, 3):
        nodes[i].wait_for({root})
    nodes[4].wait_for({other})

    # Concurrent posts from three nodes.
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        batches = list(pool.map(lambda i: post_replies(homes[i], root, 5, f"n{i}"), (0, 1, 2)))
    replies = {r for batch in batches for r in batch}
    expected = forum_ids(homes[0], root) | forum_ids(homes[1], root) | forum_ids(homes[2], root)
    assert replies <= expected and root in expected
    for i in range(4):
        nodes[i].wait_for(expected - set(log_ids(homes[i])))
    logs = [forum_ids(homes[i], root) for i in range(4)]
    assert all(log == expected for log in logs), [len(log) for log in logs]

    # SIGKILL node 3 in the middle of a stream of new replies, then restart it.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        stream = [pool.submit(post_replies, homes[i], root, 8, f"late{i}") for i in (0, 1)]
        nodes[3].wait_for_count(3)
        acknowledged = set(nodes[3].seen)
        nodes[3].kill()
        late = {r for f in stream for r in f.result()}
    assert acknowledged <= set(log_ids(homes[3])), "events node 3 acknowledged were lost"
    assert cli(homes[3], "verify").returncode == 0
    nodes[3] = Serve(homes[3])
    final = forum_ids(homes[0], root) | forum_ids(homes[1], root)
    assert late <= final
    nodes[3].wait_for(final - set(log_ids(homes[3])))
    for i in range(4):
        nodes[i].wait_for(final - set(log_ids(homes[i])))
        assert forum_ids(homes[i], root) == final
        assert "ok:" in cli(homes[i], "verify").stdout

    # The node that never subscribed holds nothing of the forum.
    held = set(log_ids(homes[4]))
    assert other in held
    assert not held & final
