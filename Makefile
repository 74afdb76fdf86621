# Two commands on a fresh machine: `make run` and `make test` (see README.md).
GO        ?= go
BIN       := bin/harness
OUT       ?= out
PKGS      := ./...
DEB_PKGS  := git curl python3 ca-certificates debootstrap wget openssl

.PHONY: run test bench lint build deps clean

# Static, so that container mode can copy it into its images as it is.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/harness

# All atomics, variants and benign look-alikes against the embedded mock
# GitHub, a report at the end; fails when coverage falls below the baseline.
run: deps build
	./$(BIN) run --out $(OUT) --baseline coverage-baseline.json

test: deps
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

# Replay benchmarks generate 1 M Sysmon events once (HARNESS_BENCH_EVENTS=10000000
# make bench for the 10 M run); each reports events/s and peak-RSS-MB.
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# Installs the Debian packages the atomics (and container mode's image
# build) need, when one is missing.
deps:
	@missing=""; for t in git curl python3 debootstrap wget openssl; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages for:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(DEB_PKGS); \
		else sudo apt-get update -qq && sudo apt-get install -y -qq $(DEB_PKGS); fi; \
	fi

clean:
	rm -rf bin $(OUT)
