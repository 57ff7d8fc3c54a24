#!/usr/bin/env bash
# Install, then replay two years of the built-in data through the whole asset graph.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
.venv/bin/trade-pipelines replay --start "${START:-2021-01-01}" --end "${END:-2022-12-28}"
