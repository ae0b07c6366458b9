#!/usr/bin/env bash
# make bench: end-to-end throughput and latency of Flask, written to
# docs/benchmarks.md. Builds the driver (bench/) into a temp dir and runs it
# against a throwaway PostgreSQL 15 (scripts/with-postgres.sh, fsync on); the
# driver builds flask-api and flask-worker, starts NATS, the API and a worker
# per scenario on 127.0.0.1, and stops each by PID. This script stops the
# driver, then PostgreSQL, by PID and removes its temp dir, also on failure
# or interrupt.
#
#   make bench                          # full run, about 3 minutes
#   BENCH_QUICK=1 scripts/bench.sh      # 30-second smoke run; report printed, docs/ untouched
#   scripts/bench.sh -concurrency 500   # extra flags go to the driver (go run ./bench -h)
#   BENCH_BROKER=sqs scripts/bench.sh   # the same scenarios on SQS (the fauxqs emulator of
#                                       # scripts/with-sqs.sh), written to docs/benchmarks-sqs.md
#
# BENCH_OUT names the report file (default docs/benchmarks.md; a temp file
# when BENCH_QUICK=1).

# shellcheck disable=SC2317 # the functions below run from the EXIT trap
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d /tmp/flask-bench-run.XXXXXX)
runner=""

# running PID: the process exists and is not a zombie waiting to be reaped.
running() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n "$state" && "$state" != Z ]]
}

# wait_gone PID SECONDS: wait up to SECONDS for PID to end; false if it did not.
wait_gone() {
	for _ in $(seq 1 $(($2 * 10))); do
		running "$1" || return 0
		sleep 0.1
	done
	! running "$1"
}

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL.
stop_pid() {
	running "$1" || return 0
	kill -TERM "$1" 2>/dev/null || true
	wait_gone "$1" "$2" || kill -KILL "$1" 2>/dev/null || true
}

cleanup() {
	# The driver first: it stops its NATS, API and worker processes by PID.
	local driver
	if [[ -s "$tmp/driver.pid" ]]; then
		driver=$(<"$tmp/driver.pid")
		# Only if that PID is still our driver (the file outlives a killed one).
		if tr '\0' ' ' <"/proc/$driver/cmdline" 2>/dev/null | grep -q "^$tmp/flask-bench "; then
			stop_pid "$driver" 60
		fi
	fi
	if [[ -n "$runner" ]]; then
		# With the driver gone the PostgreSQL wrapper stops the server and
		# removes its directory by itself; a signal now would cut that short.
		wait_gone "$runner" 30 || stop_pid "$runner" 30
		wait "$runner" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$tmp/flask-bench" ./bench

if [[ "${BENCH_QUICK:-}" == 1 ]]; then
	out=${BENCH_OUT:-$tmp/benchmarks-quick.md}
	args=(-quick -command "BENCH_QUICK=1 make bench" -out "$out"
		-n 5000 -clients 4 -single-n 3000 -single-clients 64
		-rate 500 -duration 5s -concurrency 2000
		-store-duration 1s -store-flushers "1,4" -profile-n 5000 -profile-single-n 2000 -timeout 60s)
else
	out=${BENCH_OUT:-docs/benchmarks.md}
	args=(-out "$out"
		-n 50000 -clients 4 -single-n 30000 -single-clients 64
		-rate 1000 -duration 20s -concurrency 2000
		-store-duration 4s -store-flushers "1,2,4,8" -profile-n 30000 -profile-single-n 10000 -timeout 120s)
fi

if [[ "${BENCH_BROKER:-nats}" == sqs ]]; then
	# Fresh SQS queues per scenario on one emulator; the in-process profile
	# and the store micro-benchmark do not involve the broker.
	[[ "${BENCH_QUICK:-}" == 1 ]] || out=${BENCH_OUT:-docs/benchmarks-sqs.md}
	args+=(-broker sqs -profile=false -store=false -command "BENCH_BROKER=sqs ${BENCH_QUICK:+BENCH_QUICK=1 }make bench")
	args=("${args[@]/#docs\/benchmarks.md/$out}")
	wrap=(scripts/with-sqs.sh)
else
	wrap=()
fi
scripts/with-postgres.sh "${wrap[@]}" "$tmp/flask-bench" -pidfile "$tmp/driver.pid" "${args[@]}" "$@" &
runner=$!
status=0
wait "$runner" || status=$?
runner=""
if [[ "${BENCH_QUICK:-}" == 1 && -z "${BENCH_OUT:-}" && -f "$out" ]]; then
	cat "$out"
fi
exit "$status"
