#!/usr/bin/env bash
# govulncheck on Flask's module against a pinned snapshot of the Go
# vulnerability database, offline: the snapshot is the golang.org/x/vulndb
# module (its data/osv reports) from the Go module proxy, indexed once into
# the tools cache with x/vulndb's own indexdb. It fails when the code calls a
# vulnerable function of a dependency or of the standard library.
#
# The snapshot ages: bump VULNDB_VERSION (`go list -m -json
# golang.org/x/vulndb@latest`) to take newer reports. `make scan` and the
# Jenkins scan stage read the live database (vuln.go.dev) instead, which
# this machine cannot reach.
#
# Environment: FLASK_TOOLS_DIR, the tools cache (default ~/.cache/flask/tools).
set -euo pipefail
cd "$(dirname "$0")/.."

GOVULNCHECK_VERSION=v1.9.0                        # as in scripts/scan.sh
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018 # reports up to 2026-11-05
tools="${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}"

say() { echo "vulncheck: $*" >&2; }

govulncheck="$tools/govulncheck@$GOVULNCHECK_VERSION/govulncheck"
if [[ ! -x "$govulncheck" ]]; then
	say "installing govulncheck $GOVULNCHECK_VERSION into $tools"
	GOBIN="$(dirname "$govulncheck")" go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
fi

db="$tools/vulndb@$VULNDB_VERSION"
if [[ ! -f "$db/index/db.json" ]]; then
	say "indexing the vulnerability database snapshot $VULNDB_VERSION into $db (once)"
	indexdb="$tools/indexdb@$VULNDB_VERSION/indexdb"
	if [[ ! -x "$indexdb" ]]; then
		GOBIN="$(dirname "$indexdb")" go install "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION"
	fi
	src="$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -d "$src/data/osv" ]] || { say "no data/osv in golang.org/x/vulndb@$VULNDB_VERSION ($src)"; exit 1; }
	tmp="$(mktemp -d "$tools/vulndb.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	"$indexdb" -vulns "$src/data/osv" -out "$tmp/db"
	rm -rf "$db"
	mv "$tmp/db" "$db"
fi

say "govulncheck $GOVULNCHECK_VERSION, database snapshot $VULNDB_VERSION"
"$govulncheck" -db "file://$db" ./...
