"""The README's embedding example runs as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_embedding_example_runs() -> None:
    result = subprocess.run([sys.executable, "examples/embed.py"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alice holds bob's reply: True" in result.stdout
