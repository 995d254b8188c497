"""Every expected failure of the command line, run as a user runs it (a real
subprocess): one `Error:` line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .node.harness import ROOT, Serve, cli

TIMEOUT = 60


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cliqueclique", "--home", str(home), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def one_error(result: subprocess.CompletedProcess[str], says: str) -> str:
    """Assert the command failed with one `Error:` line, its last, that says `says`
    (progress lines before it are fine; a traceback is not)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert [line for line in lines if line.startswith("Error: ")] == lines[-1:], result.stderr
    assert says in lines[-1], lines[-1]
    return lines[-1]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    cli(path, "init", "--name", "alice")
    return path


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_on_a_busy_port(home: Path, busy_port: int) -> None:
    one_error(run(home, "serve", "--no-i2p", "--no-web", "--listen", f"127.0.0.1:{busy_port}"),
              f"127.0.0.1:{busy_port}")


def test_serve_on_a_garbage_address(home: Path) -> None:
    one_error(run(home, "serve", "--no-i2p", "--no-web", "--listen", "garbage"), "cannot listen on 'garbage'")


def test_serve_with_peer_limits_out_of_order_or_range(home: Path) -> None:
    one_error(run(home, "serve", "--no-i2p", "--no-web", "--max-peers", "3", "--min-peers", "5"),
              "5 is more than --max-peers 3")
    one_error(run(home, "serve", "--no-i2p", "--no-web", "--max-peers", "0"), "--max-peers")


def test_serve_web_on_a_busy_port(home: Path, busy_port: int) -> None:
    one_error(run(home, "serve", "--no-i2p", "--web", f"127.0.0.1:{busy_port}"),
              f"cannot serve the web UI on 127.0.0.1:{busy_port}")


def test_serve_with_i2p_required_and_no_sam_bridge(home: Path) -> None:
    one_error(run(home, "serve", "--i2p", "--sam", f"127.0.0.1:{free_port()}", "--no-web"),
              "no SAM bridge answers")


def test_join_an_unreachable_peer_times_out_naming_why(home: Path) -> None:
    invite = f"cq:{'ab' * 32}@{'cd' * 32},tcp:127.0.0.1:{free_port()}"
    error = one_error(run(home, "join", invite, "--timeout", "3"), "is unreachable")
    assert "gave up after 3s" in error
    assert "cdcdcdcd" in error  # the peer, named


def test_bad_invite(home: Path) -> None:
    one_error(run(home, "join", "cq:nonsense"), "document id")


@pytest.mark.slow
def test_one_serve_per_node_and_no_stale_lock(home: Path) -> None:
    first = Serve(home)
    try:
        error = one_error(run(home, "serve", "--no-i2p", "--no-web"), "already running in process")
        assert str(first.proc.pid) in error
        first.kill()  # SIGKILL: the lock goes with the process
        second = Serve(home)
        second.stop()
    finally:
        first.stop()


def test_home_that_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_text("not a home")
    one_error(run(path, "post", "-s", "x", "-b", "y"), "is a file")


def test_damaged_node_metadata(home: Path) -> None:
    (meta,) = (home / "nodes").glob("*/node.json")
    meta.write_text("{not json")
    one_error(run(home, "forums"), "cannot read")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to switch users")
def test_home_without_permission(home: Path) -> None:
    """Another user's home (mode 0700): 'Permission denied', not a traceback."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
                 "-m", "cliqueclique", "--home", str(home), "forums"]
    os.chmod(home.parent, 0o755)
    result = subprocess.run(as_nobody, cwd="/", capture_output=True, text=True, timeout=TIMEOUT, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    one_error(result, "Permission denied")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB filesystem of our own (tmpfs), to fill up."""
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
    # Unbuffered: a buffered file would retry its unwritten tail on close and fail there.
    with open(directory / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_full_disk(small_disk: Path) -> None:
    home = small_disk / "home"
    cli(home, "init", "--name", "alice")
    root = cli(home, "post", "-s", "before", "-b", "kept").stdout.strip()
    fill(small_disk)
    one_error(run(home, "post", "-s", "after", "-b", "x" * 60_000), "full")
    one_error(run(home, "post", "-s", "after", "-b", "small"), "full")
    one_error(run(home, "serve", "--no-i2p", "--no-web"), "full")
    (small_disk / "filler").unlink()
    assert cli(home, "verify").returncode == 0
    assert root[:12] in cli(home, "forums").stdout


def test_ctrl_c_exits_quietly(home: Path) -> None:
    # A job started with `&` by a non-interactive shell ignores SIGINT, and so
    # would every process under it (an ignored signal stays ignored across exec,
    # and Python keeps it): let the follower start with the default.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "cliqueclique", "--home", str(home), "log", "--follow"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    cli(home, "post", "-s", "seen by follow", "-b", "x")
    assert proc.stdout is not None
    while "seen by follow" not in proc.stdout.readline():
        pass  # the follower is running: it printed the new post
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130
    assert err.strip() == "" and "Traceback" not in out


def test_a_reader_that_stops_early_is_not_an_error(home: Path) -> None:
    for i in range(3):  # more output than a pipe holds
        cli(home, "post", "-s", f"big {i}", "-b", "x" * 60_000)
    proc = subprocess.Popen([sys.executable, "-m", "cliqueclique", "--home", str(home), "log", "--json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(10)  # like `| head -c 10`
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=TIMEOUT) == 141  # the shell's status for SIGPIPE, quietly
    assert err == ""
