"""A full disk degrades a running node to refusing writes; it recovers when space returns."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Serve, cli

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB filesystem of our own (tmpfs), to fill up (as in tests/test_cli_failures.py)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("needs root to mount a small filesystem")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(directory: Path) -> None:
    with open(directory / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_a_full_disk_refuses_writes_keeps_serving_and_recovers(small_disk: Path, tmp_path: Path) -> None:
    home, b_home = small_disk / "home", tmp_path / "b"
    cli(home, "init", "--name", "alice")
    cli(b_home, "init", "--name", "bob")
    root = cli(home, "post", "-s", "before", "-b", "kept").stdout.strip()
    serve, b = Serve(home, "--no-web"), Serve(b_home, "--no-web")
    try:
        cli(b_home, "join", cli(home, "invite", root).stdout.strip())
        b.wait_for({root})
        fill(small_disk)
        full = serve.wait_for_stderr("disk is full")  # the status publisher noticed
        assert "refusing writes" in full, full
        seen_full = len(serve.stderr)
        # While full: a peer's reply arrives (it cannot be stored yet), reads still work.
        reply = cli(b_home, "post", "-s", "re", "-b", "while full", "--parent", root).stdout.strip()
        assert cli(home, "peers").returncode == 0
        assert root[:12] in cli(home, "forums").stdout
        (small_disk / "filler").unlink()
        serve.wait_for({reply})  # stored once space returned: nothing a peer sent was lost
        serve.wait_for_stderr("writes work again")
        assert root in json.loads(cli(home, "status", "--json").stdout)  # its snapshot is fresh again
        assert serve.proc.poll() is None, "the node exited"
        text = "".join(serve.stderr)
        assert "Traceback" not in text, text
        # Said once, not once per refused write: a write that fits in free pages
        # of a file while the disk is still full is no recovery (health.py).
        refusals = sum("refusing writes" in line for line in serve.stderr)
        recoveries = sum("writes work again" in line for line in serve.stderr)
        assert refusals == recoveries == 1, serve.stderr[seen_full - 1:]
        after = cli(home, "post", "-s", "re", "-b", "space is back", "--parent", root).stdout.strip()
        serve.wait_for({after})  # the running node published it
        b.wait_for({after})  # and replicated it
    finally:
        serve.stop()
        b.stop()
    assert cli(home, "verify").returncode == 0
