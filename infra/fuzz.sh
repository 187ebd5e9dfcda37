#!/usr/bin/env bash
# `make fuzz`: every fuzz target (fuzz/fuzz_targets) under libFuzzer on the nightly
# toolchain, FUZZ_RUNS executions each (default 10 million), growing fuzz/corpus/<target>,
# which is then minimized so the repo keeps only inputs that add coverage. `make test`
# replays that corpus on stable (tests/tests/fuzz_corpus.rs). A crash stops the run and
# leaves its input in fuzz/artifacts/<target>/: copy it into the corpus once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
RUNS=${FUZZ_RUNS:-10000000}
TARGETS=${FUZZ_TARGETS:-"visitor_token legacy_headers agent_token tool_args webhook_signature"}

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "make fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

cd fuzz
cargo +nightly fuzz build -O
for t in $TARGETS; do
  echo "== $t: $RUNS runs"
  mkdir -p "corpus/$t"
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -runs="$RUNS" -max_len=4096 -print_final_stats=1 \
    2>&1 | tee "/tmp/fuzz-$t.log" | grep -E '^(Done|#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR)' || true
  if grep -q 'ERROR: libFuzzer\|==ERROR' "/tmp/fuzz-$t.log"; then
    echo "$t crashed; see /tmp/fuzz-$t.log and fuzz/artifacts/$t/" >&2
    exit 1
  fi
  if ! cargo +nightly fuzz cmin -O "$t" "corpus/$t" >"/tmp/fuzz-$t-cmin.log" 2>&1; then
    echo "$t: minimizing the corpus failed; see /tmp/fuzz-$t-cmin.log" >&2
    exit 1
  fi
  echo "   corpus: $(ls "corpus/$t" | wc -l) inputs after minimizing"
done
