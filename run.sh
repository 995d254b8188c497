#!/usr/bin/env bash
# Set up (virtual environment + install, first run only) and run cliqueclique's main job.
# Extra arguments go to the main job.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/cliqueclique ] || [ pyproject.toml -nt .venv/.installed ]; then
    echo "setting up .venv (first run only)..." >&2
    if ! { "$PYTHON" -m venv .venv &&
           .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e '.[test]'; } >.venv-install.log 2>&1; then
        cat .venv-install.log >&2
        echo "set-up failed; the log above is also in .venv-install.log" >&2
        exit 1
    fi
    touch .venv/.installed
fi
exec .venv/bin/python -m cliqueclique.mainjob "$@"
