#!/usr/bin/env bash
# Installs the local tools (pinned in infra/requirements.txt) into ./.venv, once: a second
# run with the same requirements installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "The Rust toolchain (cargo) is required: https://rustup.rs" >&2; exit 1; }
command -v python3 >/dev/null || { echo "Python 3 is required" >&2; exit 1; }
want=$(sha256sum infra/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements.sha 2>/dev/null)" != "$want" ]; then
  echo "installing local tools into .venv (moto, cargo-lambda, stripe-python, cfn-lint, pytest)..."
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
  echo "$want" > .venv/.requirements.sha
fi
# The SAM CLI pins its own boto3, so it lives in a venv of its own.
want_sam=$(sha256sum infra/requirements-sam.txt | cut -d' ' -f1)
if [ ! -x .venv-sam/bin/sam ] || [ "$(cat .venv-sam/.requirements.sha 2>/dev/null)" != "$want_sam" ]; then
  echo "installing the SAM CLI into .venv-sam..."
  python3 -m venv .venv-sam
  .venv-sam/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-sam.txt
  echo "$want_sam" > .venv-sam/.requirements.sha
fi
# stripe-node, the emulator's second SDK (tests/node, pinned by its package-lock.json), on
# the Node.js from Debian's packages when the machine has none.
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Node.js and npm from Debian's packages..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
  else
    echo "Node.js 20+ and npm are required (Debian: apt-get install nodejs npm)" >&2; exit 1
  fi
fi
want_node=$(sha256sum tests/node/package-lock.json | cut -d' ' -f1)
if [ ! -d tests/node/node_modules/stripe ] || [ "$(cat tests/node/node_modules/.lock.sha 2>/dev/null)" != "$want_node" ]; then
  echo "installing stripe-node into tests/node..."
  npm ci --prefix tests/node --no-audit --no-fund --silent
  echo "$want_node" > tests/node/node_modules/.lock.sha
fi
# Headless Chromium and its driver from Debian's packages, for the faces' browser tests
# (Selenium is pointed at them; nothing downloads a browser build).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Chromium and chromedriver from Debian's packages..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }
  else
    echo "Chromium and chromedriver are required (Debian: apt-get install chromium chromium-driver)" >&2; exit 1
  fi
fi
