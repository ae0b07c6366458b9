#!/usr/bin/env bash
# Offline checks of Dockerfile.api, Dockerfile.worker and .dockerignore
# (docs/images.md): BuildKit's own linter (the rules of
# 'docker build --check'), the project's image rules, each proven able to
# fail on the broken fixtures under tools/imagecheck/testdata, and that
# .dockerignore sends every file the binaries are built from. No Docker
# engine and no registry are needed. tools/imagecheck is a separate Go module
# so that BuildKit stays out of the product's go.mod.
set -euo pipefail
cd "$(dirname "$0")/../tools/imagecheck"
go vet ./...
go test -count=1 ./...
