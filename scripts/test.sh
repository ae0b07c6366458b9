#!/usr/bin/env bash
# The whole test suite (`make test`, .ci/run): static checks; unit,
# integration and end-to-end Go tests against a throwaway PostgreSQL 15
# cluster, embedded NATS servers and an SQS emulator; browser tests of the
# dashboard in headless Chromium; the offline checks of the Terraform code,
# the Helm chart and the Jenkins pipeline. Whatever a step needs (Debian
# packages, npm packages from lockfiles, pinned Go tools) it installs itself
# into caches, once. Everything it starts is stopped by PID and every temp
# dir removed, also on failure.
#
# `make images` (podman, root, minutes on a cold cache) is not part of it:
# the Jenkins pipeline runs it (docs/images.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# Build and test with the toolchain go.mod names (fetched once from the Go
# module proxy when the installed Go is older), as the Makefile does.
export GOTOOLCHAIN=auto

step() {
	echo
	echo "== $1"
	SECONDS=0
}
took() { echo "-- ${SECONDS}s"; }

step "lint (gofmt, vet, staticcheck, shellcheck, Dockerfile checks)"
scripts/lint.sh
took

step "go test (unit, integration, end-to-end) with PostgreSQL and the SQS emulator"
PG_FAST=1 scripts/with-postgres.sh scripts/with-sqs.sh go test -race -count=1 -timeout 15m ./...
took

step "fuzz the job submission decoder (5s; the seed corpus runs in go test)"
go test -run '^$' -fuzz '^FuzzSubmitDecode$' -fuzztime 5s ./api
took

step "govulncheck (offline, pinned vulnerability database snapshot)"
scripts/vulncheck.sh
took

step "dashboard in headless Chromium"
scripts/web-e2e.sh
took

step "terraform checks"
scripts/tf-check.sh
took

step "helm chart checks"
scripts/chart-check.sh
took

step "pipeline checks (Jenkinsfile, pod templates, dry runs, smoke job)"
scripts/jenkins-check.sh
took

echo
echo "test: all suites passed"
