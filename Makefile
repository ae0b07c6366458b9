# Every step of the pipeline is a target here, so that a laptop, .ci/run and
# Jenkins run the same commands.
SHELL := /usr/bin/env bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/flaskhq/flask/app.Version=$(VERSION) -X github.com/flaskhq/flask/app.Commit=$(COMMIT)
BIN ?= bin

.PHONY: run build test lint bench tf-check clean

## run: Flask in one process on the embedded defaults (NATS JetStream + SQLite in .flask/)
run:
	$(GO) run ./cmd/flaskctl dev

## build: the three binaries into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: every test (starts its own PostgreSQL; see scripts/test.sh)
test:
	scripts/test.sh

## lint: formatting and vet
lint:
	scripts/lint.sh

## bench: end-to-end throughput and latency, written to docs/benchmarks.md
bench:
	scripts/bench.sh

## tf-check: Terraform fmt, validate, tests and policy checks (offline)
tf-check:
	scripts/tf-check.sh

clean:
	rm -rf $(BIN)
