#!/usr/bin/env bash
# Security scans; any finding of severity HIGH or CRITICAL fails (docs/pipeline.md).
#
#   scripts/scan.sh source   govulncheck ./... (Go code and modules, reachable
#                            vulnerabilities only), trivy fs (dependencies and
#                            secrets) and trivy config (Dockerfiles, Helm chart,
#                            Terraform, Kubernetes YAML)
#   scripts/scan.sh images   trivy image on localhost/flask-api and flask-worker
#                            at VERSION, as left by `make images FLASK_IMAGES_KEEP=1`
#
# Both need their vulnerability databases: govulncheck reads vuln.go.dev
# (GOVULNDB overrides), trivy downloads its DB on first use (TRIVY_CACHE_DIR
# keeps it). A scan that cannot run fails and says why; it never passes
# without having looked.
#
# govulncheck is installed pinned with go install into the tools cache
# (FLASK_TOOLS_DIR). trivy is taken from PATH (in Jenkins the scan pod copies
# it from the pinned aquasec/trivy image); TRIVY_BUILD=1 builds the pinned
# release from the Go module proxy into the tools cache instead (several
# minutes, once). Reports go to $REPORTS/scan-*.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0
TRIVY_VERSION=v0.74.0
tools="${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}"
REPORTS="${REPORTS:-reports}"
mkdir -p "$REPORTS"
failed=()

say() { echo "scan: $*" >&2; }

trivy_bin() {
	if command -v trivy >/dev/null; then
		command -v trivy
		return
	fi
	local t="$tools/trivy@$TRIVY_VERSION/trivy"
	if [[ ! -x "$t" && "${TRIVY_BUILD:-}" == 1 ]]; then
		say "building trivy $TRIVY_VERSION into $tools (several minutes, once)"
		# trivy uses encoding/json/v2, an experiment in Go 1.26.
		GOEXPERIMENT=jsonv2 GOBIN="$(dirname "$t")" go install "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION" >&2
	fi
	[[ -x "$t" ]] && echo "$t"
}

# trivy_run NAME ARGS... runs trivy, tees its table into $REPORTS/scan-NAME.txt
# and records a failure.
trivy_run() {
	local name="$1" trivy
	shift
	if ! trivy="$(trivy_bin)"; then
		say "trivy is not installed: it runs in the Jenkins scan pod (aquasec/trivy); TRIVY_BUILD=1 builds it here"
		failed+=("trivy $name (not installed)")
		return
	fi
	if ! "$trivy" "$@" --severity HIGH,CRITICAL --exit-code 1 --no-progress 2>&1 | tee "$REPORTS/scan-$name.txt"; then
		failed+=("trivy $name")
	fi
}

case "${1:-}" in
source)
	govulncheck="$tools/govulncheck@$GOVULNCHECK_VERSION/govulncheck"
	if [[ ! -x "$govulncheck" ]]; then
		say "installing govulncheck $GOVULNCHECK_VERSION into $tools"
		GOBIN="$(dirname "$govulncheck")" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
	fi
	db="${GOVULNDB:-https://vuln.go.dev}"
	if [[ "$db" == https://* ]] && ! curl -fsS --max-time 15 -o /dev/null "$db/index/db.json" 2>"$REPORTS/scan-govulncheck.txt"; then
		say "the Go vulnerability database $db is unreachable: govulncheck did not run ($(cat "$REPORTS/scan-govulncheck.txt"))"
		failed+=("govulncheck (database unreachable)")
	elif ! "$govulncheck" -db "$db" ./... 2>&1 | tee "$REPORTS/scan-govulncheck.txt"; then
		# govulncheck exits 3 when the code calls a vulnerable function; the
		# Go database has no severities, so every reachable finding fails.
		failed+=("govulncheck")
	fi
	trivy_run fs fs --scanners vuln,secret --ignore-unfixed .
	trivy_run config config .
	;;
images)
	version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
	command -v podman >/dev/null || { say "podman is not installed: run make images first"; exit 1; }
	if [[ -f "$tools/images/storage.conf" ]]; then
		# The storage scripts/images.sh builds into.
		export CONTAINERS_CONF="$tools/images/containers.conf" CONTAINERS_STORAGE_CONF="$tools/images/storage.conf"
	fi
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/flask-scan.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	for image in flask-api flask-worker; do
		podman save --format oci-archive -o "$tmp/$image.tar" "localhost/$image:$version" ||
			{ failed+=("$image:$version (not built: make images FLASK_IMAGES_KEEP=1)"); continue; }
		trivy_run "image-$image" image --input "$tmp/$image.tar"
	done
	;;
*)
	echo "usage: scripts/scan.sh source|images" >&2
	exit 2
	;;
esac

if ((${#failed[@]} > 0)); then
	say "FAILED: ${failed[*]}"
	exit 1
fi
say "no HIGH or CRITICAL findings"
