# parachute reconcile — see README.md.
#
#   make demo    lay out the example box (detached era) and converge it under a
#                private systemd, then roll it back (root; falls back to --plan)
#   make test    everything CI runs: vet (gofmt, go mod tidy -diff, go vet,
#                staticcheck, exhaustive, funclen), unit, property and CLI script tests,
#                the darwin cross-build, and the end-to-end suite against a
#                real systemd booted in private namespaces (root)
#   make bench   benchmarks and the written report in bench/REPORT.md

GO      ?= go
BIN     := $(CURDIR)/bin

.PHONY: all build examples demo test test-unit test-e2e vet darwin bench clean

all: build

# parachute is built static (CGO_ENABLED=0): no dynamic loader at start-up,
# which cron pays every minute, and os/user reads /etc/passwd in Go instead
# of a cgo getpwuid_r on its own thread (bench/README.md, issue 11).
build:
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -o $(BIN)/parachute ./cmd/parachute

examples:
	$(GO) build -o $(BIN)/standin-hub ./examples/standin-hub
	$(GO) build -o $(BIN)/standin-module ./examples/standin-module
	$(GO) build -o $(BIN)/layout ./examples/layout

demo: build examples
	./examples/demo.sh

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) mod tidy -diff
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool exhaustive ./...
	$(GO) run ./internal/tools/funclen -max 80 -allow internal/tools/funclen/allow.txt

# staticcheck and exhaustive are built for this machine (go tool -n prints its path) and
# analyses the darwin build: `GOOS=darwin go tool staticcheck` would build
# a darwin binary it cannot run.
darwin:
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 $$($(GO) tool -n staticcheck) ./...
	GOOS=darwin GOARCH=arm64 $$($(GO) tool -n exhaustive) ./...

test-unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /e2e)

test-e2e: build examples
	$(GO) test -count=1 -timeout 20m ./e2e/...

test: vet darwin test-unit test-e2e

bench: build examples
	./bench/run.sh

clean:
	rm -rf $(BIN) .e2e-work
