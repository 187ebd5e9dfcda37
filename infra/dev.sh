#!/usr/bin/env bash
# `make dev`: the whole system locally, with demo data. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/bootstrap.sh
cargo build --workspace --bins
exec .venv/bin/python infra/stack.py dev
