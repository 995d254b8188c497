#!/usr/bin/env bash
# Set up (system packages via apt-get and virtual environment + install, first run only)
# and run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/system-packages.sh
system_packages_ensure
. scripts/venv.sh
exec .venv/bin/python -m pytest "$@"
