#!/usr/bin/env bash
# The whole test suite: lint, unit and integration tests against a throwaway
# PostgreSQL 15 cluster and embedded NATS servers, end-to-end tests that drive
# the built binaries, and the offline Terraform checks. Everything it starts
# is stopped by PID and every temp dir removed, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== lint"
scripts/lint.sh

echo "== go test (unit, integration, end-to-end) with PostgreSQL and the SQS emulator"
PG_FAST=1 scripts/with-postgres.sh scripts/with-sqs.sh go test -race -count=1 -timeout 15m ./...

echo "== terraform checks"
scripts/tf-check.sh

echo "test: all suites passed"
