#!/usr/bin/env bash
# Install trade-pipelines into ./.venv (Python 3.11+). Usage: scripts/install.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# The bundled pip backtracks for many minutes on this dependency set; a current one doesn't.
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "--test" ]; then
  .venv/bin/python -m pip install --quiet -e ".[test]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
