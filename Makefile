.PHONY: dev test

## Run the whole system locally with demo data (Ctrl-C stops it).
dev:
	bash infra/dev.sh

## Run every test (what CI runs).
test:
	bash infra/test.sh
