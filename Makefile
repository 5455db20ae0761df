# durascribe — run `make help` for the targets.
GO      ?= go
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/durascribe/durascribe/internal/cli.Version=$(VERSION)

.PHONY: help build test test-short lint fuzz bench bench-compare demo fmt clean

help: ## show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

build: ## build ./durascribe (CGO-free)
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o durascribe ./cmd/durascribe

test: ## the full test suite: everything under -race, then the full-size batch end-to-end tests (PostgreSQL too when DURASCRIBE_TEST_PG_URL is set)
	$(GO) test -race -timeout 20m $(PKGS)
	@# The race detector makes the pure-Go SQLite 10-20x slower, so under -race
	@# the batch scenarios shrink to 40 files and the kill -9 test is skipped;
	@# here they run at full size (200 files, 20 SIGKILLs) without it.
	$(GO) test -count=1 -timeout 20m -run 'TestScenarios|TestCrashRecovery|TestWorkersSharePostgres' ./internal/batch/

test-short: ## quick tests without the race detector
	$(GO) test -short $(PKGS)

lint: ## gofmt, go vet and golangci-lint (depguard enforces the import arrows)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run

FUZZ_PKGS ?= ./preflight/ ./assemblyai/
FUZZTIME  ?= 4s

fuzz: ## every fuzz target for FUZZTIME (4s) each, about a minute in all; a failing input lands in <pkg>/testdata/fuzz/ (commit it as a regression seed)
	@# Targets are listed, not named here, so a new FuzzXxx runs without a
	@# Makefile change. Each new input is minimized in at most 100 runs: the
	@# default, up to a minute each, leaves a short run no time to fuzz.
	@# Go 1.26's fuzz coordinator can fail a run that found nothing with a
	@# bare "context deadline exceeded" as -fuzztime ends (go.dev/issue/75804,
	@# fixed in Go 1.27); that alone, with no failing input, is not a failure.
	@set -e; for pkg in $(FUZZ_PKGS); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x $$pkg 2>&1) && \
	      { echo "$$t: $$(echo "$$out" | grep '^fuzz: elapsed' | tail -n 1)"; continue; }; \
	    echo "$$out"; \
	    if echo "$$out" | grep -q 'Failing input written' || ! echo "$$out" | grep -qx '    context deadline exceeded'; then exit 1; fi; \
	    echo "$$t: no failing input; ignoring the coordinator's end-of-run 'context deadline exceeded' (go.dev/issue/75804)"; \
	  done; \
	done

bench: ## benchmarks (figures recorded in docs/benchmarks.md)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-compare: ## durascribe vs the official SDK (naive and retried) on the emulator, every scenario (docs/benchmarks.md)
	$(GO) run ./bench --scenario all --files 50 --concurrency 10 --time-scale 0.05

demo: build ## transcribe the sample corpus against the built-in emulator (no API key, no network)
	@rm -rf /tmp/durascribe-demo /tmp/durascribe-demo.db /tmp/durascribe-demo.db-wal /tmp/durascribe-demo.db-shm
	@./durascribe transcribe --emulator --db /tmp/durascribe-demo.db --out /tmp/durascribe-demo testdata/audio; \
	code=$$?; if [ $$code -eq 1 ]; then \
	  echo "demo: exit 1 is expected: the corpus holds deliberately bad files (empty, silent, truncated, not audio), each named above with its reason."; \
	  echo "demo: transcripts are in /tmp/durascribe-demo; try ./durascribe status --db /tmp/durascribe-demo.db"; \
	elif [ $$code -ne 0 ]; then exit $$code; fi

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build outputs
	rm -f durascribe
