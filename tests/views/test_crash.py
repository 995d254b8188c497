"""SIGKILL during a large import leaves the views exactly in step with the log."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from cliqueclique.eventlog import SQLiteStore
from cliqueclique.views import dump, open_views, replay, schema

ROOT = Path(__file__).resolve().parents[2]


def import_and_kill(path: Path, seed: int, batches: int) -> int:
    """Run the importer until it has committed `batches` batches and started
    writing the next, then SIGKILL it mid-append. Returns the last position
    it reported committed."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.views.crash_importer", str(path), str(seed)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    reported = 0
    for _ in range(batches):
        assert proc.stdout.readline().startswith("writing")
        line = proc.stdout.readline()
        assert line.startswith("committed"), f"importer died: {line!r}"
        reported = int(line.split()[1])
    assert proc.stdout.readline().startswith("writing")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    return reported


def test_views_survive_sigkill_in_step_with_the_log(tmp_path: Path) -> None:
    rng = random.Random(99)
    path = tmp_path / "log.sqlite"
    for round_ in range(3):
        reported = import_and_kill(path, seed=10 * round_ + 1, batches=rng.randint(1, 3))
        store = SQLiteStore(path)  # no projector yet: look at what the kill left
        try:
            last = store.last_position()
            assert last >= reported
            assert set(schema.positions(store.db).values()) == {last}, f"round {round_}"
            left = dump(store.db)
            open_views(store)  # nothing to catch up
            assert replay(store) == last
            assert dump(store.db) == left, f"round {round_}: replay changed the views"
            assert store.verify() == []
        finally:
            store.close()
