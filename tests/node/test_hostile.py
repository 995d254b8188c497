"""A hostile peer process is cut off; honest nodes converge and verify."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import run_attack
from .harness import Serve, cli, log_ids

pytestmark = pytest.mark.slow
ATTACKS = os.environ.get("ATTACKS", "impostor oversize garbage forged flood").split()


def test_hostile_peer_is_cut_off_and_honest_nodes_converge(tmp_path: Path) -> None:
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    cli(a_home, "init")
    cli(b_home, "init")
    a, b = Serve(a_home), Serve(b_home)
    try:
        root = cli(a_home, "post", "-s", "forum", "-b", "hi").stdout.strip()
        cli(b_home, "join", cli(a_home, "invite", root).stdout.strip())
        b.wait_for({root})
        outcomes = {kind: run_attack(a.address, a.node_id, root, kind) for kind in ATTACKS}
        for kind, outcome in outcomes.items():
            assert outcome.startswith(f"done {kind} closed") or "cut off" in outcome, outcome
        # The honest pair still replicates both ways.
        reply = cli(b_home, "post", "-s", "re", "-b", "still here", "--parent", root).stdout.strip()
        a.wait_for({reply})
        answer = cli(a_home, "post", "-s", "re", "-b", "yes", "--parent", root).stdout.strip()
        b.wait_for({answer})
        for home in (a_home, b_home):
            assert cli(home, "verify").returncode == 0
        assert not any("spam" in line or "forged" in line for line in cli(a_home, "log").stdout.splitlines())
        banned = [json.loads(line) for line in cli(a_home, "peers", "--json").stdout.splitlines()]
        reasons = [p["ban_reason"] for p in banned if p["state"] == "banned"]
        assert len(reasons) >= 3, banned  # garbage, forged and flood peers each got banned
        assert b.node_id in [p["id"] for p in banned if p["state"] == "connected"]
        assert set(log_ids(a_home)) >= {root, reply, answer}
    finally:
        a.stop()
        b.stop()
