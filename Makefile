# Two commands on a fresh machine: `make run` and `make test` (see README.md).
# Neither installs anything: they say which Debian packages are missing, and
# `make deps` installs them when asked to.
GO        ?= go
BIN       := bin/harness
OUT       ?= out
PKGS      := ./...
# Tools the atomics and their variants run (command -> Debian package).
RUN_TOOLS := git:git curl:curl python3:python3 wget:wget openssl:openssl rclone:rclone ruby:ruby
# What the tests use beyond those: a browser for the HTML report, node for
# the JavaScript atomics, ssh for git over SSH, aws for S3's DeleteObjects, procps (with the run tools
# and ssh, container mode's base image is made from the host's packages)
# or else debootstrap for it, xmllint for the JUnit schema, python-evtx and
# libevtx to read the EVTX writer's files with readers other than the replay's.
TEST_TOOLS := $(RUN_TOOLS) node:nodejs ssh:openssh-client aws:awscli ps:procps chromium:chromium debootstrap:debootstrap ip:iproute2 xmllint:libxml2-utils evtx_dump.py:python3-evtx evtxexport:libevtx-utils

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

.PHONY: run test bench lint build check check-test deps deps-test clean conformance

# Static, so that container mode can copy it into its images as it is.
# The commit goes in by -ldflags too, for builds without VCS stamping.
build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.commit=$$(git rev-parse HEAD 2>/dev/null)" -o $(BIN) ./cmd/harness

# All atomics, variants and benign look-alikes against the embedded mock
# GitHub, a report at the end; fails when coverage falls below the baseline.
run: check build
	./$(BIN) run --out $(OUT) --baseline coverage-baseline.json

# go vet, then every test with the race detector; the last lines list the
# skipped tests with their reasons and the totals.
test: check-test
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 30m -json $(PKGS) | $(GO) run ./internal/cmd/testsummary

# Replay benchmarks generate 1 M Sysmon events once (HARNESS_BENCH_EVENTS=10000000
# make bench for the 10 M run); each reports events/s and peak-RSS-MB.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# SigmaHQ's regression tests, all of them, from a checkout of
# github.com/SigmaHQ/sigma: make conformance SIGMA=/path/to/sigma
conformance:
	@if [ -z "$(SIGMA)" ]; then echo "usage: make conformance SIGMA=/path/to/sigma-checkout"; exit 2; fi
	SIGMA_CHECKOUT="$(abspath $(SIGMA))" $(GO) test -count=1 -run 'TestSigmaHQRegression' -v ./validate/sigma/

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# missing prints the Debian packages whose command is not on PATH.
missing = $(strip $(foreach t,$(1),$(if $(shell command -v $(word 1,$(subst :, ,$(t))) 2>/dev/null),,$(word 2,$(subst :, ,$(t))))))

# The atomics need git, curl, python3, wget, openssl, rclone and ruby: say in one line
# what to install.
check:
	@m="$(call missing,$(RUN_TOOLS))"; if [ -n "$$m" ]; then \
		echo "missing Debian packages: $$m (install: sudo apt-get install $$m, or make deps)"; exit 1; fi

# The tests skip, saying why, without the optional tools: say so up front.
check-test:
	@m="$(call missing,$(TEST_TOOLS))"; if [ -n "$$m" ]; then \
		echo "note: tests needing these Debian packages will skip: $$m (install: sudo apt-get install $$m, or make deps-test)"; fi

# Installs the Debian packages `make run` needs; deps-test adds those of the tests.
deps:
	$(call install,$(call missing,$(RUN_TOOLS)))

deps-test:
	$(call install,$(call missing,$(TEST_TOOLS)))

install = @if [ -n "$(1)" ]; then s=; [ "$$(id -u)" = 0 ] || s=sudo; $$s apt-get update -qq && $$s apt-get install -y -qq --no-install-recommends $(1); fi

clean:
	rm -rf bin $(OUT)
