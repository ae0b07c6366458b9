// Package imagecheck checks Flask's Dockerfiles offline, without a Docker
// engine or a registry.
//
// Lint runs BuildKit's own Dockerfile linter — the rules behind
// 'docker build --check' — through dockerfile2llb.DockerfileLint, with a
// source map for the Dockerfile and an image metadata resolver that answers
// from memory and never reaches a registry. Check applies the project's
// rules for its images (multi-stage, modules downloaded before the sources,
// static trimmed build with the version injected, a scratch final stage with
// only the binary, a numeric non-root user, OCI labels, pinned bases).
// CheckContext verifies that .dockerignore keeps every file the binaries
// are built from.
//
// The package is a separate Go module so that BuildKit never becomes a
// dependency of the product. scripts/dockerfile-check.sh runs its tests.
package imagecheck
