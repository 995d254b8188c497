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


def cli(home: Path, *args: str, check: bool = True, tree: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the CLI (of the source tree `tree`: another checkout runs older code)."""
    result = subprocess.run(
        [sys.executable, "-m", "cliqueclique", "--home", str(home), *args],
        cwd=tree, capture_output=True, text=True, timeout=DEADLINE,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"cliqueclique {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


def log_ids(home: Path, *args: str) -> list[str]:
    return [json.loads(line)["id"] for line in cli(home, "log", "--json", *args).stdout.splitlines()]


class Serve:
    """`cliqueclique serve --events` in a child process.

    `prefix` goes before the command (e.g. `nsenter ...` to run it inside a test
    network's namespace); `sam` (HOST:PORT) turns I2P on through that bridge;
    `tree` is the source tree to run (another checkout runs older code).
    """

    def __init__(self, home: Path, *extra: str, prefix: Sequence[str] = (), sam: str | None = None,
                 tree: Path = ROOT) -> None:
        self.home = home
        i2p = ["--i2p", "--sam", sam] if sam else ["--no-i2p"]
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "cliqueclique", "--home", str(home), "serve", *i2p, "--events",
             "--listen", "127.0.0.1:0", *extra],
            cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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


# ---------------------------------------------------------------- big forums, built fast

FORUM_AUTHORS = 20


def make_forum(count: int) -> tuple[str, list[bytes]]:
    """A forum of about `count` events (a root, then replies and their links by
    FORUM_AUTHORS authors), as wire bytes in log order."""
    from nacl.signing import SigningKey

    from cliqueclique.views import BatchSigner

    signers = [BatchSigner(SigningKey(bytes([i + 1]) * 32), clock=lambda: 1_700_000_000_000)
               for i in range(FORUM_AUTHORS)]
    root = signers[0].document("the big forum", "welcome")
    wires, i = [root.wire], 0
    while len(wires) + 2 <= count:
        signer = signers[i % FORUM_AUTHORS]
        reply = signer.document(f"reply {i}", f"comment number {i} " * 4)
        wires += [reply.wire, signer.link(root.id, reply.id).wire]
        i += 1
    return root.id, wires


def seed_node(home: Path, name: str, forum: str, wires: list[bytes]) -> None:
    """Create node `name` in `home` holding `wires` and subscribed to `forum`
    (written straight into its log, before any `serve`)."""
    from cliqueclique.eventlog import Action, Kind, canonical_json, sign_event
    from cliqueclique.home import Home

    node = Home(home).create_node(name)
    store = node.open_store()
    for i in range(0, len(wires), 5000):
        store.append_many(wires[i : i + 5000])
    body = canonical_json({"document": forum, "action": Action.SUBSCRIBE.value})
    store.append(sign_event(node.key(), Kind.SUBSCRIPTION, network=node.id, seq=1, prev=None,
                            timestamp=0, body=body))
    store.close()


class Pair:
    """A (the victim, serving a forum) and B (honest, joined to it)."""

    def __init__(self, tmp_path: Path, events: int = 0, tree: Path = ROOT) -> None:
        self.a_home, self.b_home, self.tree = tmp_path / "a", tmp_path / "b", tree
        if events:
            self.root, wires = make_forum(events)
            seed_node(self.a_home, "a", self.root, wires)
        else:
            cli(self.a_home, "init", tree=tree)
        cli(self.b_home, "init", tree=tree)
        self.a = Serve(self.a_home, tree=tree)
        self.b = Serve(self.b_home, tree=tree)
        if not events:
            self.root = cli(self.a_home, "post", "-s", "forum", "-b", "hi", tree=tree).stdout.strip()
        invite = cli(self.a_home, "invite", self.root, tree=tree).stdout.strip()
        cli(self.b_home, "join", "--timeout", "120", invite, tree=tree)

    def honest_post_arrives(self) -> float:
        """A posts a reply; seconds until B holds it."""
        started = time.monotonic()
        reply = cli(self.a_home, "post", "-s", "re", "-b", "honest", "--parent", self.root,
                    tree=self.tree).stdout.strip()
        self.b.wait_for({reply})
        return time.monotonic() - started

    def stop(self) -> None:
        self.a.stop()
        self.b.stop()
