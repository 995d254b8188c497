"""Real nodes in real processes: `cliqueclique serve` plus CLI commands.

Synchronisation is explicit: `serve --events` prints one JSON line per event
the node accepted (after it is committed), and tests wait for the ids they
expect on that stream, never for a span of time.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90.0  # seconds any single wait may take before the test fails


def cli(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "cliqueclique", "--home", str(home), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"cliqueclique {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def log_ids(home: Path, *args: str) -> list[str]:
    return [json.loads(line)["id"] for line in cli(home, "log", "--json", *args).stdout.splitlines()]


class Serve:
    """`cliqueclique serve --events` in a child process.

    `prefix` goes before the command (e.g. `nsenter ...` to run it inside a test
    network's namespace); `sam` (HOST:PORT) turns I2P on through that bridge.
    """

    def __init__(self, home: Path, *extra: str, prefix: Sequence[str] = (), sam: str | None = None) -> None:
        self.home = home
        i2p = ["--i2p", "--sam", sam] if sam else ["--no-i2p"]
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "cliqueclique", "--home", str(home), "serve", *i2p, "--events",
             "--listen", "127.0.0.1:0", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: set[str] = set()
        self.addresses: list[str] = []
        self.web_url: str | None = None  # with --web: where its web UI answers
        self.stderr: list[str] = []
        self._stderr_grew = threading.Condition()
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._drain_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()
        for line in self._lines_until(lambda line: line == "ready"):
            if line.startswith("node "):
                self.node_id = line.split()[-1]
            elif line.startswith("web ui "):
                self.web_url = line.split()[-1]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._stderr_grew:
                self.stderr.append(line)
                self._stderr_grew.notify_all()
        with self._stderr_grew:
            self.stderr.append("")  # end of stream: wake waiters
            self._stderr_grew.notify_all()

    def wait_for_stderr(self, text: str) -> str:
        """Block until the node writes a line containing `text` to stderr; that line."""
        deadline = time.monotonic() + DEADLINE
        with self._stderr_grew:
            while True:
                found = next((line for line in self.stderr if text in line), None)
                if found is not None:
                    return found
                if self.stderr[-1:] == [""]:
                    raise AssertionError(f"serve exited without saying {text!r}: {''.join(self.stderr[-20:])}")
                if not self._stderr_grew.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"serve never said {text!r}: {''.join(self.stderr[-20:])}")

    def _lines_until(self, done: object) -> list[str]:
        out, deadline = [], time.monotonic() + DEADLINE
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"serve timed out; stderr: {''.join(self.stderr[-20:])}") from None
            if line is None:
                raise AssertionError(f"serve exited {self.proc.wait()}; stderr: {''.join(self.stderr[-20:])}")
            out.append(line)
            if line.startswith("{"):
                self.seen.add(json.loads(line)["id"])
            elif line.startswith("listening on "):  # I2P's comes after "ready"
                self.addresses.append(line.split()[-1])
            if done(line):  # type: ignore[operator]
                return out

    def wait_for(self, ids: set[str]) -> None:
        """Block until the node has accepted every id in `ids` (or fail)."""
        if not ids <= self.seen:
            self._lines_until(lambda line: ids <= self.seen)

    def wait_for_address(self, scheme: str) -> str:
        """Block until the node prints an address of `scheme` (I2P's comes ~20 s after start)."""
        def found() -> list[str]:
            return [a for a in self.addresses if a.startswith(scheme + ":")]
        if not found():
            self._lines_until(lambda line: bool(found()))
        return found()[0]

    def wait_for_count(self, count: int) -> None:
        """Block until the node has printed `count` more accepted events."""
        target = len(self.seen) + count
        self._lines_until(lambda line: len(self.seen) >= target)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        self.proc.wait()
        for thread in self._threads:
            thread.join(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._reap()

    @property
    def address(self) -> str:
        return self.addresses[0]


def env_without_home() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CLIQUECLIQUE_HOME"}
