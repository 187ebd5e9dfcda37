#!/usr/bin/env bash
# `make package`: every function as AWS Lambda runs it (arm64, provided.al2023), release
# profile, cross-built with cargo-lambda and zig from .venv; one zip per function in
# target/lambda/<function>/bootstrap.zip, sizes printed. PACKAGES limits it (CI builds one
# to prove the cross toolchain on every change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/bootstrap.sh
# The arm64 standard library for rustc (rustup installs it once; a no-op afterwards).
rustup target add aarch64-unknown-linux-gnu >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
packages=${PACKAGES:-$(ls functions)}
args=()
for p in $packages; do args+=(-p "$p"); done
cargo lambda build --release --arm64 --output-format zip "${args[@]}"
printf '\n%-28s %12s %12s\n' function "zip bytes" "bootstrap"
for p in $packages; do
  zip="target/lambda/$p/bootstrap.zip"
  # The unpacked size, read with Python's zipfile (no unzip needed).
  raw=$(python3 -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).getinfo("bootstrap").file_size)' "$zip")
  printf '%-28s %12s %12s\n' "$p" "$(stat -c %s "$zip")" "$raw"
done
