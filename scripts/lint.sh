#!/usr/bin/env bash
# Static checks, fast enough to run before every commit:
#   gofmt, go vet, staticcheck (pinned, installed once into the tools cache),
#   scripts/shellcheck.sh on every shell script, and the
#   Dockerfile checks (scripts/dockerfile-check.sh) when that script exists.
# FLASK_TOOLS_DIR is the tools cache (default ~/.cache/flask/tools).
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2 # staticcheck 2026.1.x, supports Go 1.26
tools="${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}"

unformatted=$(git ls-files -z '*.go' | xargs -0 gofmt -l)
if [[ -n "$unformatted" ]]; then
	echo "lint: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

staticcheck="$tools/staticcheck@$STATICCHECK_VERSION/staticcheck"
if [[ ! -x "$staticcheck" ]]; then
	echo "lint: installing staticcheck $STATICCHECK_VERSION into $tools" >&2
	GOBIN="$(dirname "$staticcheck")" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
# ST1005 (error strings not capitalized) is off: configuration errors start
# with the exported field they name ("Replicas 7 must be between 1 and 5").
"$staticcheck" -checks 'inherit,-ST1005' ./...

scripts/shellcheck.sh

dockerfile=""
if [[ -x scripts/dockerfile-check.sh ]]; then
	dockerfile=1
	scripts/dockerfile-check.sh
fi
echo "lint: gofmt, go vet, staticcheck, shellcheck${dockerfile:+, Dockerfile checks} passed"
