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

# Release: make dist builds static, stripped binaries for linux and darwin (amd64,
# arm64) with the version from the build info, their tarballs, the .deb and
# .rpm (nfpm, a go.mod tool) for linux, and SHA256SUMS. PKG_VERSION is the
# tag without its v, else 0.0.0~git<commit time>.<revision>.
DIST        := dist
PLATFORMS   := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
PKG_ARCHS   ?= amd64 arm64
COMMIT_TIME := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
PKG_VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' --exact-match 2>/dev/null) && echo $${v\#v} || echo 0.0.0~git$$(date -u -d @$(COMMIT_TIME) +%Y%m%d%H%M%S).$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown))

.PHONY: dist test-package
dist:
	rm -rf $(DIST) && mkdir -p $(DIST)
	set -e; for p in $(PLATFORMS); do os=$${p%/*} arch=$${p#*/}; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto -ldflags='-s -w' -o $(DIST)/parachute-reconcile_$${os}_$${arch} ./cmd/parachute; done
	$(GO) run ./packaging/gen -o $(DIST)/pkgroot -license LICENSE -version '$(PKG_VERSION)' -time $(COMMIT_TIME)
	set -e; for p in $(PLATFORMS); do os=$${p%/*} arch=$${p#*/} d=parachute-reconcile_$(PKG_VERSION)_$${os}_$${arch}; \
		mkdir -p $(DIST)/$$d/completions; cp $(DIST)/parachute-reconcile_$${os}_$${arch} $(DIST)/$$d/parachute-reconcile; \
		cp LICENSE README.md CHANGELOG.md $(DIST)/pkgroot/parachute-reconcile.8.gz $(DIST)/$$d/; \
		cp $(DIST)/pkgroot/parachute-reconcile.bash $(DIST)/pkgroot/_parachute-reconcile $(DIST)/pkgroot/parachute-reconcile.fish $(DIST)/$$d/completions/; \
		tar -C $(DIST) --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(COMMIT_TIME) -czf $(DIST)/$$d.tar.gz $$d; rm -rf $(DIST)/$$d; done
	set -e; for arch in $(PKG_ARCHS); do cp $(DIST)/parachute-reconcile_linux_$$arch $(DIST)/pkgroot/parachute-reconcile; \
		for fmt in deb rpm; do ARCH=$$arch VERSION='$(PKG_VERSION)' SOURCE_DATE_EPOCH=$(COMMIT_TIME) \
		$(GO) tool nfpm package -f packaging/nfpm.yaml -p $$fmt -t $(DIST)/; done; done; rm $(DIST)/pkgroot/parachute-reconcile
	cd $(DIST) && sha256sum parachute-reconcile_* > SHA256SUMS && cat SHA256SUMS

# The packages' file lists, the .deb extracted into a scratch directory (never
# installed on this machine) and run from there, and lintian on the .deb.
test-package: dist
	PARACHUTE_DIST=$(CURDIR)/$(DIST) $(GO) test -count=1 -v -run TestPackage ./packaging/

test: test-package
