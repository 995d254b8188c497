"""What a hostile peer process can make a node remember, compute, dial or log is bounded.

Each test runs a real `serve` and one attack of `hostile.py` against it, and
prints the victim's CPU seconds and RSS around the attack (run with `-s`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Hostile, run_attack
from .harness import Serve, cli

pytestmark = pytest.mark.slow
def peer_rows(home: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in cli(home, "peers", "--json").stdout.splitlines()]


@pytest.fixture
def forum(tmp_path: Path):  # type: ignore[no-untyped-def]
    home = tmp_path / "a"
    cli(home, "init")
    serve = Serve(home)
    try:
        root = cli(home, "post", "-s", "forum", "-b", "hi").stdout.strip()
        yield home, serve, root
    finally:
        serve.stop()


def test_a_suggest_flood_costs_the_sender_and_dials_little(forum, hostile: Hostile) -> None:  # type: ignore[no-untyped-def]
    home, serve, root = forum
    outcome = hostile(serve, root, "suggest-flood").outcome
    assert outcome.startswith("done suggest-flood closed"), outcome  # the sender is cut off
    assert int(outcome.rsplit("dials=", 1)[1]) <= 3, outcome  # one address: dialled with back-off
    rows = peer_rows(home)
    assert len(rows) <= 1, rows  # made-up peers are not remembered; the sender at most (banned)
    assert all(row["state"] == "banned" for row in rows), rows


def test_fresh_keys_leave_no_peer_rows(forum, hostile: Hostile) -> None:  # type: ignore[no-untyped-def]
    home, serve, root = forum
    outcome = hostile(serve, root, "fresh-keys").outcome
    assert outcome.startswith("done fresh-keys closed"), outcome
    assert peer_rows(home) == []  # peers that never shared a document are not kept


def test_a_handshake_flood_writes_few_log_lines(forum, hostile: Hostile) -> None:  # type: ignore[no-untyped-def]
    _, serve, root = forum
    outcome = hostile(serve, root, "handshake-flood").outcome
    assert outcome == "done handshake-flood closed", outcome
    serve.stop()  # every line it wrote is read once it has exited
    lines = [line for line in serve.stderr if "handshake" in line]
    assert len(lines) <= 20, f"{len(lines)} lines: {lines[:3]}"
    assert sum(map(len, serve.stderr)) < 8 * 1024


def test_an_oversized_frame_after_the_handshake_bans_the_key(forum) -> None:  # type: ignore[no-untyped-def]
    home, serve, root = forum
    outcome = run_attack(serve.address, serve.node_id, root, "oversize-after-handshake")
    assert "reconnect refused" in outcome, (outcome, serve.stderr[-10:])
    banned = [row for row in peer_rows(home) if row["state"] == "banned"]
    assert len(banned) == 1 and "frame" in str(banned[0]["ban_reason"]), banned
