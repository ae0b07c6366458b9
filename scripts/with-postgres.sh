#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL 15 cluster: initdb into a temp dir
# (as the postgres user when run as root), listen on 127.0.0.1 and a random free
# port, export TEST_DATABASE_URL, run the command, then stop the server by PID
# and delete the directory — also on failure or interrupt.
#
#   scripts/with-postgres.sh go test ./...
#
# PG_BIN overrides the binaries' folder (default /usr/lib/postgresql/15/bin).
# PG_FAST=1 turns off fsync (tests); leave it unset for benchmarks.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [[ ! -x "$PG_BIN/initdb" && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
	echo "with-postgres: installing postgresql-15 with apt-get" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15; } >&2 ||
		echo "with-postgres: apt-get could not install postgresql-15" >&2
fi
if [[ ! -x "$PG_BIN/initdb" ]]; then
	echo "with-postgres: no PostgreSQL binaries in $PG_BIN (install postgresql-15, or set PG_BIN)" >&2
	exit 1
fi

dir=$(mktemp -d /tmp/flask-pg.XXXXXX)
pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -INT "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg=()
if [[ $(id -u) -eq 0 ]]; then
	chown postgres: "$dir"
	as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

"${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; echo "with-postgres: initdb failed" >&2; exit 1; }

opts=(-c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir" -c max_connections=300
	-c shared_buffers=256MB -c log_min_messages=warning)
if [[ "${PG_FAST:-}" == 1 ]]; then
	opts+=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off)
fi

for attempt in $(seq 1 20); do
	port=$(( (RANDOM << 15 | RANDOM) % 40000 + 20000 ))
	"${as_pg[@]}" "$PG_BIN/postgres" -D "$dir/data" -p "$port" "${opts[@]}" >"$dir/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then break; fi
	wait "$pid" 2>/dev/null || true
	pid=""
	if [[ $attempt -eq 20 ]]; then
		cat "$dir/server.log" >&2
		echo "with-postgres: could not start PostgreSQL" >&2
		exit 1
	fi
done

export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "with-postgres: PostgreSQL on 127.0.0.1:$port (pid $pid)" >&2
status=0
"$@" || status=$?
exit "$status"
