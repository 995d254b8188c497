#!/usr/bin/env bash
# Set up (virtual environment + install, first run only) and run cliqueclique's main job:
# this machine's node, serving. Extra arguments run `cliqueclique ARGS` instead.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/venv.sh
exec .venv/bin/python -m cliqueclique.mainjob "$@"
