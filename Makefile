# Every step of the pipeline is a target here, so that a laptop, .ci/run and
# Jenkins run the same commands (docs/pipeline.md). `make help` lists them.
SHELL := /usr/bin/env bash
GO ?= go
# go.mod's toolchain line names the Go release to build and test with; with
# auto the go command fetches it from the module proxy if the installed Go
# is older (some machines set GOTOOLCHAIN=local in the environment).
export GOTOOLCHAIN := auto
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/flaskhq/flask/app.Version=$(VERSION) -X github.com/flaskhq/flask/app.Commit=$(COMMIT)
BIN ?= bin

# Test reports (JUnit XML, coverage) for the CI server.
REPORTS ?= reports
# Pinned Go tools are installed once into this cache.
TOOLS ?= $(or $(FLASK_TOOLS_DIR),$(HOME)/.cache/flask/tools)
# gotestsum: runs go test -json, prints the usual output and writes JUnit XML.
GOTESTSUM_VERSION := v1.13.0
GOTESTSUM := $(TOOLS)/gotestsum@$(GOTESTSUM_VERSION)/gotestsum
# gocover-cobertura: Go coverage profile to Cobertura XML (Jenkins' coverage plugin).
COBERTURA_VERSION := v1.5.0
COBERTURA := $(TOOLS)/gocover-cobertura@$(COBERTURA_VERSION)/gocover-cobertura
# Without TEST_DATABASE_URL (a PostgreSQL the CI pod provides), start a
# throwaway cluster for the integration tests; the SQS emulator always.
WITH_PG = $(if $(TEST_DATABASE_URL),,PG_FAST=1 scripts/with-postgres.sh)
WITH_SQS = scripts/with-sqs.sh

# Deployments: ENV=dev|prod, TAG=<commit sha of the images>, REVISION=<helm
# revision> for rollback, DRY_RUN=1 to print instead of touching AWS.
ENV ?= dev
TAG ?= $(shell git rev-parse HEAD 2>/dev/null)
DEPLOY_ENV = ENV='$(ENV)' TAG='$(TAG)' DRY_RUN='$(DRY_RUN)' REVISION='$(REVISION)' REPORTS='$(REPORTS)' VERSION='$(VERSION)'

.PHONY: help run build clean test test-unit test-integration lint shellcheck dockerfile-check web-e2e jenkins-check \
	bench images chart-check tf-check scan scan-images push tf-plan tf-apply chart-diff \
	deploy smoke rollback tf-mirror

## help: this list
help:
	@awk '/^## / { sub(/^## /, ""); n = index($$0, ": "); printf "  %-17s %s\n", substr($$0, 1, n - 1), substr($$0, n + 2) }' $(MAKEFILE_LIST)

## run: Flask in one process on the embedded defaults (NATS JetStream + SQLite in .flask/)
run:
	$(GO) run ./cmd/flaskctl dev

## build: the three binaries into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: every test (starts its own PostgreSQL; see scripts/test.sh)
test:
	scripts/test.sh

## test-unit: go test -short (no PostgreSQL), JUnit and coverage into $(REPORTS)/
test-unit: $(GOTESTSUM)
	@mkdir -p $(REPORTS)
	$(GOTESTSUM) --junitfile $(REPORTS)/unit.xml --format testname -- \
		-short -race -count=1 -coverprofile=$(REPORTS)/unit.cover -covermode=atomic ./...
	$(GO) tool cover -func=$(REPORTS)/unit.cover | tail -n 1

## test-integration: every Go test, with PostgreSQL (TEST_DATABASE_URL or a throwaway one) and the SQS emulator
test-integration: $(GOTESTSUM) $(COBERTURA)
	@mkdir -p $(REPORTS)
	$(WITH_PG) $(WITH_SQS) $(GOTESTSUM) --junitfile $(REPORTS)/integration.xml --format testname -- \
		-race -count=1 -timeout 15m -coverpkg=./... -coverprofile=$(REPORTS)/integration.cover ./...
	$(GO) tool cover -func=$(REPORTS)/integration.cover | tail -n 1
	$(GO) tool cover -html=$(REPORTS)/integration.cover -o $(REPORTS)/coverage.html
	$(COBERTURA) -by-files <$(REPORTS)/integration.cover >$(REPORTS)/coverage.xml

$(GOTESTSUM):
	GOBIN=$(@D) $(GO) install gotest.tools/gotestsum@$(GOTESTSUM_VERSION)

$(COBERTURA):
	GOBIN=$(@D) $(GO) install github.com/boumenot/gocover-cobertura@$(COBERTURA_VERSION)

## lint: gofmt, go vet, staticcheck, shellcheck, Dockerfile checks
lint:
	scripts/lint.sh

## shellcheck: shellcheck on every shell script
shellcheck:
	scripts/shellcheck.sh

## dockerfile-check: BuildKit's lint rules and the project's rules on both Dockerfiles (offline)
dockerfile-check:
	scripts/dockerfile-check.sh

## web-e2e: the dashboard's browser tests in headless Chromium (installs chromium and playwright-core)
web-e2e:
	scripts/web-e2e.sh

## jenkins-check: Jenkinsfile structure, pod templates, and a dry run of every pipeline target
jenkins-check:
	scripts/jenkins-check.sh

## bench: end-to-end throughput and latency, written to docs/benchmarks.md
bench:
	scripts/bench.sh

## images: build flask-api and flask-worker and check they start (FLASK_IMAGES_KEEP=1 keeps them)
images:
	scripts/images.sh

## chart-check: helm lint/template, schema validation and policy tests of deploy/helm/flask
chart-check:
	scripts/chart-check.sh

## tf-check: Terraform fmt, validate, tests and policy checks (offline)
tf-check:
	scripts/tf-check.sh

## tf-mirror: download the providers the lock files name into TF_PLUGIN_DIR (needs the network)
tf-mirror:
	$(DEPLOY_ENV) scripts/deploy.sh mirror

## scan: govulncheck, trivy fs and config; fails on HIGH/CRITICAL (needs the vuln databases)
scan:
	REPORTS='$(REPORTS)' scripts/scan.sh source

## scan-images: trivy on the images make images kept; fails on HIGH/CRITICAL
scan-images:
	REPORTS='$(REPORTS)' VERSION='$(VERSION)' scripts/scan.sh images

## push: push both images to ECR as TAG (REGISTRY=<account>.dkr.ecr.<region>.amazonaws.com)
push:
	$(DEPLOY_ENV) scripts/deploy.sh push

## tf-plan: terraform plan for ENV into $(REPORTS)/ (backend.hcl and terraform.tfvars from CI)
tf-plan:
	$(DEPLOY_ENV) scripts/deploy.sh plan

## tf-apply: apply the plan saved by tf-plan for ENV
tf-apply:
	$(DEPLOY_ENV) scripts/deploy.sh apply

## chart-diff: render the release for ENV/TAG and diff it against the live one, into $(REPORTS)/
chart-diff:
	$(DEPLOY_ENV) scripts/deploy.sh diff

## deploy: helm upgrade --install --atomic ENV at TAG, helm test, smoke job
deploy:
	$(DEPLOY_ENV) scripts/deploy.sh deploy

## smoke: submit a demo job to API_URL and wait for it to succeed
smoke:
	$(DEPLOY_ENV) scripts/deploy.sh smoke

## rollback: helm rollback ENV to REVISION (empty: the previous one)
rollback:
	$(DEPLOY_ENV) scripts/deploy.sh rollback

## clean: remove built binaries and reports
clean:
	rm -rf $(BIN) $(REPORTS)
