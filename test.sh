#!/usr/bin/env bash
# Set up (virtual environment + install, first run only) and run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/venv.sh
exec .venv/bin/python -m pytest "$@"
