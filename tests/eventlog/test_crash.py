"""Crash safety: SIGKILL at arbitrary moments never corrupts or loses acknowledged events."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from cliqueclique.eventlog import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


def run_and_kill(path: Path, seed: int, batches_before_kill: int) -> list[str]:
    """Start a writer, let it acknowledge some batches, SIGKILL it; return acked ids."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.eventlog.crash_writer", str(path), str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    acked: list[str] = []
    for _ in range(batches_before_kill):
        line = proc.stdout.readline()
        assert line.startswith("committed"), f"writer died: {line!r}"
        acked += line.split()[1:]
    os.kill(proc.pid, signal.SIGKILL)  # it is still writing: the kill lands mid-work
    proc.wait()
    # Whole lines the writer printed before dying were acknowledged too; a line
    # cut short by the kill (longer than an atomic pipe write) was not.
    complete = proc.stdout.read().split("\n")[:-1]
    acked += [i for line in complete if line.startswith("committed") for i in line.split()[1:]]
    proc.stdout.close()
    return acked


def test_sigkill_never_loses_acknowledged_events(tmp_path: Path) -> None:
    rng = random.Random(1234)
    path = tmp_path / "log.sqlite"
    acked: list[str] = []
    for round_ in range(5):
        acked += run_and_kill(path, seed=100, batches_before_kill=rng.randint(1, 4))
        store = SQLiteStore(path)
        try:
            assert store.verify() == [], f"round {round_}: log does not verify"
            assert store.present(acked) == set(acked), f"round {round_}: acknowledged events lost"
        finally:
            store.close()
