"""The command line against running nodes: `join` waits until caught up (with
and without a local `serve`), fails clearly when it cannot, `log --follow`
sees another node's posts, and reactions from three nodes converge."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import DEADLINE, ROOT, Serve, cli

pytestmark = pytest.mark.slow


@pytest.fixture
def served(homes: list[Path]) -> Iterator[list[Serve]]:
    nodes = [Serve(homes[0]), Serve(homes[1])]
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def thread_ids(home: Path, root: str) -> set[str]:
    return {e["id"] for e in json.loads(cli(home, "thread", root, "--json").stdout)["entries"]
            if e["status"] == "ok"}


def test_join_then_reply_at_once_and_follow(homes: list[Path], served: list[Serve]) -> None:
    a, b, c = homes
    root = cli(a, "post", "-s", "The forum", "-b", "welcome").stdout.strip()
    replies = [cli(a, "post", "-s", f"r{i}", "-b", f"reply {i}", "--parent", root).stdout.strip()
               for i in range(30)]
    invite = cli(a, "invite", root).stdout.strip()

    joined = cli(b, "join", invite, "--timeout", "60")  # b's serve does the work
    assert joined.stdout.startswith(f"joined {root[:16]}: The forum")
    assert thread_ids(b, root) == {root, *replies}  # caught up when join returned
    answer = cli(b, "post", "-s", "Re r3", "-b", "at once", "--parent", replies[3][:10]).stdout.strip()
    served[0].wait_for({answer})

    follow = subprocess.Popen([sys.executable, "-m", "cliqueclique", "--home", str(a), "log", "--follow",
                               "--json", "--kind", "document"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        later = cli(b, "post", "-s", "later", "-b", "seen by a's follower", "--parent", root).stdout.strip()
        assert follow.stdout is not None
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            line = follow.stdout.readline()
            assert line, "log --follow ended"
            if json.loads(line)["id"] == later:
                break
        else:
            raise AssertionError("log --follow never printed the other node's post")
    finally:
        follow.terminate()
        follow.communicate()

    # c runs no serve: join runs the node itself until caught up
    served[0].wait_for({later})
    alone = cli(c, "join", invite)
    assert "The forum" in alone.stdout
    assert thread_ids(c, root) >= {root, *replies, answer, later}


def test_join_of_a_document_the_peer_lacks_fails_in_time(homes: list[Path], served: list[Serve]) -> None:
    a, b, c = homes
    cli(a, "post", "-s", "real", "-b", "x")
    invite = cli(a, "invite", cli(a, "post", "-s", "x", "-b", "y").stdout.strip()).stdout.strip()
    made_up = "cq:" + "9" * 64 + invite[3 + 64:]
    started = time.monotonic()
    for home in (b, c):  # with a running serve, and without one
        result = cli(home, "join", made_up, "--timeout", "30", check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert result.stderr.strip().splitlines()[-1] == \
            f"Error: peer {served[0].node_id[:16]} does not hold document {'9' * 16}"
    assert time.monotonic() - started < 60


def test_reactions_from_three_nodes_converge(homes: list[Path], served: list[Serve]) -> None:
    a, b, c = homes
    root = cli(a, "post", "-s", "React here", "-b", "x").stdout.strip()
    cli(b, "join", cli(a, "invite", root).stdout.strip())
    third = Serve(c)
    try:
        cli(c, "join", cli(b, "invite", root).stdout.strip())  # c through b
        for home, emoji, *undo in ((c, "👍"), (b, "👍"), (a, "🎉"), (b, "🎉"), (b, "🎉", "--undo"),
                                   (c, "❤️")):
            cli(home, "react", root, emoji, *undo)
        ids = [json.loads(cli(home, "nodes", "--json").stdout)["id"] for home in homes]
        expected = {"👍": sorted([ids[1], ids[2]]), "🎉": [ids[0]], "❤️": [ids[2]]}
        reactions = {json.loads(line)["id"] for home in homes
                     for line in cli(home, "log", "--json", "--kind", "reaction").stdout.splitlines()}
        assert len(reactions) == 6
        for node in (*served, third):
            node.wait_for(reactions - node.seen)
        for home in homes:
            assert json.loads(cli(home, "show", root, "--json").stdout)["reactions"] == expected
    finally:
        third.stop()


def until(predicate: Callable[[], bool], what: str) -> None:
    """Poll observable state (another process's) until it holds, or fail at the deadline."""
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


def test_a_ban_by_hand_cuts_the_running_nodes_link(homes: list[Path], served: list[Serve]) -> None:
    a, b, _ = homes
    root = cli(a, "post", "-s", "F", "-b", "x").stdout.strip()
    cli(b, "join", cli(a, "invite", root).stdout.strip())

    def state_of_a() -> str:
        peers = [json.loads(line) for line in cli(b, "peers", "--json").stdout.splitlines()]
        return next(p["state"] for p in peers if p["id"] == served[0].node_id)

    assert state_of_a() == "connected"
    cli(b, "peer", "ban", served[0].node_id[:10], "--reason", "by hand")
    assert state_of_a() == "banned"
    until(lambda: served[0].node_id not in _connected(b), "b dropped its link to a")
    reply = cli(a, "post", "-s", "unseen", "-b", "y", "--parent", root).stdout.strip()
    cli(b, "peer", "unban", served[0].node_id[:10])
    served[1].wait_for({reply})  # unbanned: the link comes back and the reply arrives


def _connected(home: Path) -> list[str]:
    from cliqueclique.nodestate import NodeState

    (node_dir,) = (home / "nodes").iterdir()
    state = NodeState(node_dir / "log.sqlite")
    try:
        found = state.read_status("node")
        return list(found[0]["connected"]) if found else []
    finally:
        state.close()
