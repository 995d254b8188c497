"""Start-up checks for benchmarks that need system software (stdlib only).

    from bench._requires import require
    require(__file__, "chromium", "playwright")

If something is missing, prints one line on stderr (what is missing and how to get
it) and exits with status 2, instead of a traceback from deep inside the run.
The paths are the ones the benchmarks and tests use.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
I2PD = os.environ.get("I2PD", "/usr/sbin/i2pd")


def _missing(need: str) -> str | None:
    """How to get `need` if it is missing, else None."""
    if need == "chromium":
        if os.access(CHROMIUM, os.X_OK):
            return None
        return f"Chromium ({CHROMIUM}): apt-get install chromium"
    if need == "i2pd":
        if shutil.which(I2PD):
            return None
        return f"i2pd ({I2PD}): apt-get install i2pd"
    if need == "playwright":
        if importlib.util.find_spec("playwright") is not None:
            return None
        return ("the Python package playwright: run ./test.sh once and use .venv/bin/python "
                "(or pip install -e '.[test]')")
    raise ValueError(f"unknown requirement {need!r}")


def require(script: str, *needs: str) -> None:
    """Exit with one line on stderr unless everything in `needs` is there.

    `needs` are "chromium", "i2pd" and "playwright" (the Python package).
    """
    missing = [how for how in map(_missing, needs) if how]
    if missing:
        path = Path(script).resolve()
        try:
            name = path.relative_to(Path(__file__).resolve().parent.parent).as_posix()
        except ValueError:
            name = path.name
        print(f"{name} needs {'; '.join(missing)}", file=sys.stderr)
        sys.exit(2)
