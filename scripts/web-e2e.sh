#!/usr/bin/env bash
# Browser tests of the web dashboard (web/e2e): builds flaskctl, starts
# `flaskctl dev` (API, dashboard, worker, embedded NATS, SQLite) on a random
# 127.0.0.1 port with a temp data dir, and drives headless Debian Chromium
# with playwright-core. Everything it starts is stopped by PID and the temp
# dir removed, also on failure.
#
#   scripts/web-e2e.sh          screenshots go to web/e2e/out/
#   scripts/web-e2e.sh --docs   ... and are copied to docs/img/ for the README
#
# It installs what it needs when missing: Debian's chromium (and nodejs/npm)
# with apt-get when run as root, and playwright-core with `npm ci` from the
# committed lockfile, cached in web/e2e/node_modules (skipped while the
# lockfile is unchanged) and ${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}/npm.
# playwright-core never downloads a browser: it runs /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

docs=0
for arg in "$@"; do
	case "$arg" in
	--docs) docs=1 ;;
	*) echo "web-e2e: unknown argument $arg (use --docs)" >&2; exit 2 ;;
	esac
done

tools=${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}
mkdir -p "$tools/npm"

apt_install() {
	if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
		return 1
	fi
	echo "web-e2e: installing $* with apt-get" >&2
	# Other scripts may hold the dpkg lock: wait for it rather than fail.
	{ apt-get -o DPkg::Lock::Timeout=600 update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@"; } >&2
}

chromium=${CHROMIUM:-/usr/bin/chromium}
if [[ ! -x "$chromium" ]]; then
	apt_install chromium fonts-dejavu-core || true
fi
[[ -x "$chromium" ]] || { echo "web-e2e: no Chromium at $chromium: install Debian's chromium package (or set CHROMIUM)" >&2; exit 1; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt_install nodejs npm || true
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "web-e2e: node and npm are needed for the browser tests" >&2
	exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ $node_major -ge 20 ]] || { echo "web-e2e: node $node_major is too old: playwright-core needs 20 or newer" >&2; exit 1; }

# npm ci only when the lockfile changed since the last install.
e2e=web/e2e
stamp=$e2e/node_modules/.flask-lock-sha256
want=$(sha256sum "$e2e/package-lock.json" | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	echo "web-e2e: npm ci (playwright-core)" >&2
	(cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --prefer-offline --cache "$tools/npm" >&2)
	echo "$want" >"$stamp"
fi

tmp=$(mktemp -d /tmp/flask-web-e2e.XXXXXX)
pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "web-e2e: building flaskctl" >&2
CGO_ENABLED=0 go build -o "$tmp/bin/" ./cmd/flaskctl

# Port 0: the kernel picks a free port; the banner names it. The banner is
# printed once the port listens, so the browser can connect from then on.
: >"$tmp/flask.log"
"$tmp/bin/flaskctl" dev --addr 127.0.0.1:0 --data-dir "$tmp/data" --queues default:10,e2e:4 >>"$tmp/flask.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 300); do
	url=$(sed -nE 's|^Flask is running at (http://127\.0\.0\.1:[0-9]+) \(.*|\1|p' "$tmp/flask.log" || true)
	[[ -n "$url" ]] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z "$url" ]]; then
	echo "web-e2e: flaskctl dev did not start:" >&2
	cat "$tmp/flask.log" >&2
	exit 1
fi
echo "web-e2e: Flask at $url" >&2

out=$root/$e2e/out
rm -rf "$out"
status=0
key=$(cat "$tmp/data/admin-api-key")
(cd "$e2e" && FLASK_URL=$url FLASK_API_KEY=$key CHROMIUM=$chromium SCREENSHOT_DIR=$out node --test --test-concurrency=1 --test-reporter=spec) || status=$?
if [[ $status -ne 0 ]]; then
	echo "web-e2e: browser tests failed; the Flask log:" >&2
	tail -n 50 "$tmp/flask.log" >&2
	exit "$status"
fi
if [[ $docs -eq 1 ]]; then
	mkdir -p docs/img
	cp "$out/overview.png" "$out/job.png" docs/img/
	echo "web-e2e: screenshots copied to docs/img/" >&2
fi
echo "web-e2e: screenshots in $out" >&2
