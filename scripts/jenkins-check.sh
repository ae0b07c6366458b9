#!/usr/bin/env bash
# Offline checks of the pipeline (docs/pipeline.md):
#   1. the Jenkinsfile parses (Debian's groovy, JDK 17) and its declarative
#      structure holds (tools/jenkinscheck/JenkinsCheck.groovy): sections,
#      steps, post blocks, agents, credentials, and every `sh 'make X'`
#      target exists (make -n);
#   2. every broken Jenkinsfile under tools/jenkinscheck/testdata fails it;
#   3. the pod templates it references are valid YAML Pods with pinned
#      images and least privilege (Go, tools/jenkinscheck), with tests;
#   4. the targets that need AWS run in DRY_RUN mode for dev and prod
#      (push, tf-plan, tf-apply, chart-diff, deploy, rollback): the chart is
#      rendered with the images at the commit's tag;
#   5. the smoke step submits a real job to a Flask started here
#      (flaskctl dev on a random port) and waits for it to succeed.
# Installs groovy with apt-get when missing (as root); helm comes from PATH
# or is installed once into the tools cache (scripts/deploy.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "jenkins-check: $*" >&2
	exit 1
}

if ! command -v groovy >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
	echo "jenkins-check: installing groovy with apt-get" >&2
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq groovy; } >&2 ||
		echo "jenkins-check: apt-get could not install groovy" >&2
fi
command -v groovy >/dev/null || die "groovy is not installed (apt-get install groovy)"
if [[ -z "${JAVA_HOME:-}" || ! -x "${JAVA_HOME:-}/bin/java" ]]; then
	for j in /usr/lib/jvm/java-17-openjdk-*; do
		[[ -x "$j/bin/java" ]] && export JAVA_HOME="$j" && break
	done
fi
[[ -x "${JAVA_HOME:-}/bin/java" ]] || die "no JDK 17 found (apt-get install openjdk-17-jdk-headless, or set JAVA_HOME)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/jenkins-check.XXXXXX")"
pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1 and 2: one JVM each.
groovy tools/jenkinscheck/JenkinsCheck.groovy --refs "$tmp/pods" Jenkinsfile
groovy tools/jenkinscheck/JenkinsCheck.groovy --fixtures tools/jenkinscheck/testdata/jenkinsfiles >"$tmp/fixtures.log" ||
	{ cat "$tmp/fixtures.log" >&2; die "a broken Jenkinsfile was not rejected as expected"; }
tail -n 1 "$tmp/fixtures.log"

# 3.
(cd tools/jenkinscheck && GOWORK=off GOFLAGS=-mod=readonly go test -count=1 ./... && go build -o "$tmp/podcheck" .)
mapfile -t pods <"$tmp/pods"
((${#pods[@]} > 0)) || die "the Jenkinsfile references no pod template"
"$tmp/podcheck" "${pods[@]}"

# 4.
tag="$(git rev-parse HEAD)"
for env in dev prod; do
	for target in push tf-plan tf-apply chart-diff deploy rollback; do
		if ! make --no-print-directory "$target" ENV="$env" TAG="$tag" DRY_RUN=1 REPORTS="$tmp/reports" \
			REGISTRY=123456789012.dkr.ecr.eu-west-1.amazonaws.com API_URL=http://127.0.0.1:1 >"$tmp/dry.log" 2>&1; then
			cat "$tmp/dry.log" >&2
			die "make $target ENV=$env DRY_RUN=1 failed"
		fi
	done
	echo "ok   dry run of push, tf-plan, tf-apply, chart-diff, deploy, rollback for $env"
done

# 5. A real smoke job against Flask in one process (SQLite, embedded NATS).
go build -o "$tmp/flaskctl" ./cmd/flaskctl
for attempt in 1 2 3 4 5; do
	port=$(((RANDOM << 15 | RANDOM) % 40000 + 20000))
	"$tmp/flaskctl" dev --addr "127.0.0.1:$port" --data-dir "$tmp/dev-$attempt" >"$tmp/dev.log" 2>&1 &
	pid=$!
	up=""
	for _ in $(seq 1 100); do
		if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n "$up" ]] && break
	wait "$pid" 2>/dev/null || true
	pid=""
	((attempt < 5)) || { grep -v FLASK_API_KEY "$tmp/dev.log" >&2; die "flaskctl dev did not start"; }
done
# The dev server's admin key (a throwaway; the pipeline's smoke key is a
# Jenkins credential). Kept out of any output.
key="$(cat "$tmp/dev-$attempt/admin-api-key" 2>/dev/null)" || die "flaskctl dev wrote no admin-api-key"
FLASK_API_KEY="$key" ENV=dev API_URL="http://127.0.0.1:$port" DRY_RUN="" scripts/deploy.sh smoke >"$tmp/smoke.log" 2>&1 ||
	{ cat "$tmp/smoke.log" >&2; grep -v FLASK_API_KEY "$tmp/dev.log" >&2; die "the smoke job did not succeed"; }
grep -q succeeded "$tmp/smoke.log" || { cat "$tmp/smoke.log" >&2; die "the smoke job did not report success"; }
echo "ok   smoke job succeeded on a local Flask (127.0.0.1:$port)"
echo "jenkins-check: Jenkinsfile, fixtures, pod templates, dry runs and smoke passed in ${SECONDS}s"
