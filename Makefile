.PHONY: dev test bench fuzz package adversary deploy-rehearsal

## Run the whole system locally with demo data (Ctrl-C stops it).
dev:
	bash infra/dev.sh

## Run every test (what CI runs).
test:
	bash infra/test.sh

## Latency, Stripe round trips, cold start, memory and size of every function (release).
bench:
	bash infra/bootstrap.sh
	cargo build --release --workspace --bins
	cargo build --profile release-fast -p get-subscription-status
	BENCH_COMPARE=release-fast:get-subscription-status .venv/bin/python infra/bench.py

## Fuzz every parser of caller input (nightly, cargo-fuzz; FUZZ_RUNS, default 10 million each).
fuzz:
	bash infra/fuzz.sh

## The deploy, rehearsed on moto's CloudFormation (no AWS reached): template.yaml through the
## SAM transform, every resource read back, then sam delete and the teardown (docs/OPERATING.md).
deploy-rehearsal:
	bash infra/bootstrap.sh
	.venv/bin/python infra/deploy_rehearsal.py

## Every function built for AWS Lambda (arm64, release) with cargo lambda; zip sizes printed.
package:
	bash infra/package.sh

## The adversarial property test at length: 10,000 random sequences of a visitor's calls
## against the policy (make test runs 200). ADVERSARY_SEQUENCES and ADVERSARY_SEED override.
adversary:
	ADVERSARY_SEQUENCES=$${ADVERSARY_SEQUENCES:-10000} cargo test --release -p integration --test adversary -- --nocapture
