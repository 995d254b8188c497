"""The malicious-peer harness as a fixture: `hostile(serve, doc, attack)` runs
one attack of hostile.py (a real process with its own key speaking the real
protocol) against a running `serve`, and measures the victim around it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .harness import ROOT, Serve, cli

TICKS = os.sysconf("SC_CLK_TCK")


@pytest.fixture
def homes(tmp_path: Path) -> list[Path]:
    """Three initialised node homes, a, b and c (a test module may ask for more)."""
    homes = [tmp_path / name for name in ("a", "b", "c")]
    for home in homes:
        cli(home, "init", "--name", home.name)
    return homes


def usage(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS in KiB) of process `pid`, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    return cpu, rss


def run_attack(address: str, node_id: str, doc: str, kind: str, env: dict[str, str] | None = None) -> str:
    """Run one attack process to its end; its "done KIND ..." line."""
    result = subprocess.run([sys.executable, "-m", "tests.node.hostile", address, node_id, doc, kind],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@dataclass
class Attacked:
    """What an attack did: its outcome line and the victim's cost."""

    outcome: str
    cpu_seconds: float
    rss_before_kib: int
    rss_after_kib: int

    @property
    def rss_growth_mib(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / 1024

    def __str__(self) -> str:
        return (f"victim CPU {self.cpu_seconds:.2f} s, RSS {self.rss_before_kib // 1024} -> "
                f"{self.rss_after_kib // 1024} MiB; {self.outcome}")


Hostile = Callable[..., Attacked]


@pytest.fixture
def hostile() -> Hostile:
    """`hostile(serve, doc, attack, **env)`: run the attack, print and return what it cost."""
    def attack(serve: Serve, doc: str, kind: str, **env: str) -> Attacked:
        cpu0, rss0 = usage(serve.proc.pid)
        outcome = run_attack(serve.address, serve.node_id, doc, kind, env)
        cpu1, rss1 = usage(serve.proc.pid)
        done = Attacked(outcome, cpu1 - cpu0, rss0, rss1)
        print(f"\n{kind}: {done}")
        return done

    return attack
