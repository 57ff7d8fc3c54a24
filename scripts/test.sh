#!/usr/bin/env bash
# Install with test extras and run the whole test suite (CI runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --test
# A real browser for the supervisor app's end-to-end test (Debian's Chromium; Playwright
# never downloads its own).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: run 'sudo apt-get install -y chromium' first." >&2
  fi
fi
.venv/bin/ruff check trade_pipelines streamlit_app tests benchmarks
# Two processes (CI has two cores), one file on one process at a time, so a module's replay
# is built once (not loadgroup: it silently stops grouping on pytest 9.2, xdist 3.8), in
# tests/conftest.py's order: the longest files first. Arguments are passed on, so
# `scripts/test.sh -n 0` runs in one process.
.venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder "$@"
