"""Replication through a fault-injecting proxy: delays, cut connections,
duplicated (replayed) connections and a partition that heals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import ROOT, Serve, cli, log_ids

pytestmark = pytest.mark.slow


class FaultProxy:
    def __init__(self, target: str) -> None:
        port = target.rsplit(":", 1)[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.node.faultproxy", port], cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.address = "tcp:127.0.0.1:" + self.proc.stdout.readline().split()[1]

    def __call__(self, command: str) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == f"ok {command}"

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Path, Path, Serve, Serve, FaultProxy]]:
    a_home, b_home = tmp_path / "a", tmp_path / "b"
    cli(a_home, "init")
    cli(b_home, "init")
    a = Serve(a_home)
    b = Serve(b_home)
    proxy = FaultProxy(a.address)
    try:
        yield a_home, b_home, a, b, proxy
    finally:
        proxy.close()
        a.stop()
        b.stop()


def posts(home: Path, root: str, tag: str, count: int) -> set[str]:
    return {cli(home, "post", "-s", f"{tag} {i}", "-b", "x", "--parent", root).stdout.strip() for i in range(count)}


def test_convergence_through_faults_and_a_healed_partition(pair: tuple[Path, Path, Serve, Serve, FaultProxy]) -> None:
    a_home, b_home, a, b, proxy = pair
    root = cli(a_home, "post", "-s", "forum", "-b", "hi").stdout.strip()
    invite = cli(a_home, "invite", root).stdout.strip()
    # B reaches A only through the proxy.
    through_proxy = invite.split(",")[0] + "," + proxy.address
    proxy("delay 20")
    proxy("dup on")
    cli(b_home, "join", through_proxy)
    b.wait_for({root})

    proxy("cut 0.05")
    a.wait_for(posts(b_home, root, "b-faulty", 4))
    b.wait_for(posts(a_home, root, "a-faulty", 4))

    proxy("partition")
    during_a, during_b = posts(a_home, root, "a-split", 3), posts(b_home, root, "b-split", 3)
    assert not during_a & set(log_ids(b_home)) and not during_b & set(log_ids(a_home))
    proxy("cut 0")
    proxy("heal")
    a.wait_for(during_b)
    b.wait_for(during_a)

    def forum(home: Path) -> set[str]:
        return {i for i in log_ids(home, "--doc", root)}

    assert forum(a_home) == forum(b_home)
    for home in (a_home, b_home):
        assert cli(home, "verify").returncode == 0
