"""Garbage collection with real `serve` processes: a forum b no longer wants is
forgotten on request (`gc` asks the running node), its text is gone from b's
SQLite files, a joiner through b is refused, and b can join it again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..test_cli_failures import one_error
from .harness import Serve, cli

pytestmark = pytest.mark.slow


@pytest.fixture
def served(homes: list[Path]) -> Iterator[list[Serve]]:
    nodes = [Serve(homes[0], "--no-web"), Serve(homes[1], "--no-web", "--gc-retention", "0")]
    try:
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def log_bytes(home: Path) -> bytes:
    """Every byte of the home's SQLite files (database, WAL, shared memory)."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("nodes/*/log.sqlite*")))


def test_a_forgotten_forum_leaves_the_disk(homes: list[Path], served: list[Serve]) -> None:
    a, b, c = homes
    secret = f"zebrafish-{uuid.uuid4().hex}"
    root = cli(a, "post", "-s", f"Forum {secret}", "-b", f"welcome {secret}").stdout.strip()
    replies = [cli(a, "post", "-s", f"r{i} {secret}", "-b", f"reply {i} {secret} " * 50, "--parent", root)
               .stdout.strip() for i in range(2)]
    invite = cli(a, "invite", root).stdout.strip()
    cli(b, "join", invite, "--timeout", "60")
    assert secret.encode() in log_bytes(b)
    cli(b, "unsubscribe", root)
    dry = json.loads(cli(b, "gc", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and set(dry["forgotten"]) == {root, *replies}
    report = json.loads(cli(b, "gc", "--json").stdout)
    assert set(report["forgotten"]) == {root, *replies} and report["documents"] == 3
    assert report["events"] == 5 and report["bytes_reclaimed"] > 0  # three documents, two links

    assert secret.encode() not in log_bytes(b)
    assert cli(b, "verify").returncode == 0
    one_error(cli(b, "thread", root, check=False), "no document")
    assert secret.encode() in log_bytes(a)  # a keeps its forum

    # c reaches the forum only through b, which answers as if it never held it
    made_up = f"cq:{root}@{served[1].node_id},{served[1].address}"
    one_error(cli(c, "join", made_up, "--timeout", "30", check=False), "does not hold")

    # b joins again through a: everything comes back, at once (a 30 s wait for
    # a's answer to b's first join to time out would fail this join)
    cli(b, "join", invite, "--timeout", "20")
    entries = json.loads(cli(b, "thread", root, "--json").stdout)["entries"]
    assert {e["id"] for e in entries if e["status"] == "ok"} == {root, *replies}
    assert cli(b, "verify").returncode == 0


def test_gc_without_a_running_node_and_bad_input(homes: list[Path]) -> None:
    a, b, _ = homes
    root = cli(a, "post", "-s", "Forum", "-b", "kept offline").stdout.strip()
    export = a / "forum.cqx"
    cli(a, "export", root, "-o", str(export))
    cli(b, "import", str(export))
    cli(b, "unsubscribe", root)
    waiting = json.loads(cli(b, "gc", "--json").stdout)  # the default retention: 30 days
    assert waiting["forgotten"] == [] and waiting["unwanted"] == 1
    one_error(cli(b, "gc", "--retention", "-1", check=False), "--retention")
    one_error(cli(b, "gc", "--history", "--dry-run", check=False), "--history")
    assert cli(b, "log", "--doc", root, "--json").stdout.strip()  # nothing changed
    report = json.loads(cli(b, "gc", "--json", "--retention", "0").stdout)
    assert report["forgotten"] == [root]
    assert root in cli(b, "gc", "--history").stdout
    assert "kept offline" not in log_bytes(b).decode("latin-1")
    assert cli(b, "verify").returncode == 0
