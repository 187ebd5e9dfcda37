#!/usr/bin/env bash
# `make test`: every test. Lints, unit and in-process integration tests, then the running
# binaries against a local stack this script starts and stops, the stripe-python fidelity
# test, cfn-lint on template.yaml and the deploy rehearsed on moto.
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/bootstrap.sh
step() { printf '\n== %s\n' "$*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo build (the binaries the local stack runs)"
cargo build --workspace --bins --quiet
step "cargo test (unit and in-process integration)"
cargo test --workspace --quiet
step "cfn-lint and sam validate --lint on template.yaml"
.venv/bin/cfn-lint template.yaml
SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --region us-east-1
step "deploy rehearsal: template.yaml through aws-sam-translator onto moto's CloudFormation"
.venv/bin/python infra/deploy_rehearsal.py   # its own moto on 5055 (or a free port), not the e2e stack's 5001
step "one function packaged as Lambda runs it (arm64 release, cargo lambda build)"
PACKAGES=get-subscription-status bash infra/package.sh
step "end to end: functions on the local stack, stripe-python fidelity"
.venv/bin/python infra/stack.py run -- .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider
