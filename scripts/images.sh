#!/usr/bin/env bash
# make images: builds Dockerfile.api and Dockerfile.worker for real with
# podman (buildah inside) and checks what came out (docs/images.md):
#
#   - each image runs as the numeric non-root user 65532 and holds only its
#     binary, the CA certificates, /etc/passwd and /etc/group: no shell;
#   - version and commit were injected (labels and the start-up log);
#   - 'flask-api migrate' migrates a throwaway PostgreSQL from the API image;
#   - both images start with a read-only root file system and no
#     capabilities, against that PostgreSQL and a local NATS JetStream, and
#     answer /readyz.
#
# There is no registry here, so the pinned builder image (the FROM of the
# build stage) is a local stand-in built once and cached: a Debian minbase
# rootfs from debootstrap plus the same Go release from the Go module proxy
# (golang.org/toolchain), imported under the builder's exact name and tag.
# The final stage is scratch, which needs no image. Builds use --pull=never.
#
# Runs as root (podman without user namespaces). Installs podman, buildah,
# runc and debootstrap with apt-get when missing. Container storage and the
# stand-in live in ${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}/images, apart
# from any other podman storage on the machine; podman is configured through
# CONTAINERS_CONF/CONTAINERS_STORAGE_CONF files written there (runtime runc,
# lowered default ulimits), /etc is not touched. Every container and image
# built here, the NATS server and the temp dir are removed on exit, by ID.
#
# Environment: VERSION, COMMIT (default: from git, as in the Makefile),
# FLASK_IMAGES_KEEP=1 keeps the built images (tagged localhost/flask-api:$VERSION
# and localhost/flask-worker:$VERSION) instead of removing them.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "images: $*" >&2; }
die() { say "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root: podman builds here without user namespaces"

# A throwaway PostgreSQL for the migration and the API (with-postgres.sh
# exports TEST_DATABASE_URL and stops it afterwards).
if [[ -z "${FLASK_IMAGES_UNDER_PG:-}" ]]; then
	FLASK_IMAGES_UNDER_PG=1 exec scripts/with-postgres.sh "$0" "$@"
fi

missing=()
for tool in podman buildah runc debootstrap; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
	say "installing ${missing[*]} with apt-get"
	{ apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			podman buildah runc debootstrap ca-certificates; } >&2 ||
		die "apt-get could not install podman, buildah, runc and debootstrap"
fi

tools=${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}
cache=$tools/images
mkdir -p "$cache/storage" "$cache/run" "$cache/tmp" "$cache/go-build"
work=$(mktemp -d /tmp/flask-images.XXXXXX)

# podman's configuration, kept out of /etc: runc as the runtime, default
# ulimits low enough for any host, no systemd or journald, and a storage of
# our own so that nothing here touches other images on the machine.
cat >"$cache/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:4096"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "none"
tmp_dir = "$cache/tmp"
EOF
cat >"$cache/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$cache/storage"
runroot = "$cache/run"
EOF
export CONTAINERS_CONF=$cache/containers.conf CONTAINERS_STORAGE_CONF=$cache/storage.conf

containers=()
images=()
nats_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local id
	for id in "${containers[@]}"; do podman rm -f -t 2 "$id" >/dev/null 2>&1 || true; done
	if [[ "${FLASK_IMAGES_KEEP:-}" != 1 ]]; then
		for id in "${images[@]}"; do podman rmi -f "$id" >/dev/null 2>&1 || true; done
	fi
	if [[ -n "$nats_pid" ]] && kill -0 "$nats_pid" 2>/dev/null; then
		kill "$nats_pid" 2>/dev/null || true
		wait "$nats_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Layers cached by earlier runs (podman build --layers) are reused; drop the
# ones no run has created for a day, so the storage does not grow forever.
podman image prune -f --filter until=24h >/dev/null

# --- the builder stand-in --------------------------------------------------

builder=""
for df in Dockerfile.api Dockerfile.worker; do
	b=$(awk 'toupper($1) == "FROM" && $2 != "scratch" { print $2; exit }' "$df")
	[[ -z "$builder" || "$b" == "$builder" ]] || die "$df builds FROM $b, the other Dockerfile FROM $builder: use one builder"
	builder=$b
done
[[ "$builder" =~ ^golang:([0-9]+\.[0-9]+\.[0-9]+)-([a-z]+)$ ]] ||
	die "builder $builder: expected golang:X.Y.Z-<debian suite> (update scripts/images.sh for another base)"
go_version=${BASH_REMATCH[1]} suite=${BASH_REMATCH[2]}
builder_ref=docker.io/library/$builder
case $(uname -m) in
x86_64) goarch=amd64 ;;
aarch64) goarch=arm64 ;;
*) die "no Go toolchain for $(uname -m)" ;;
esac

# The stand-in is rebuilt when its recipe changes: this script's recipe
# version, and the local CA certificates it trusts (see below).
local_cas=(/usr/local/share/ca-certificates/*.crt)
[[ -e "${local_cas[0]}" ]] || local_cas=()
recipe="2-$(cat "${local_cas[@]}" </dev/null | sha256sum | cut -c1-12)"
if podman image exists "$builder_ref" &&
	[[ $(podman image inspect --format '{{index .Labels "org.flaskhq.flask.standin"}}' "$builder_ref") == "$recipe" ]]; then
	say "builder stand-in $builder_ref is cached"
else
	podman rmi -f "$builder_ref" >/dev/null 2>&1 || true
	say "building the stand-in for $builder_ref: debootstrap $suite minbase + Go $go_version (once)"
	start=$SECONDS
	rootfs=$work/rootfs
	# The same Go release as the official image, from the Go module proxy
	# (the module's files carry no executable bits: restore them as the go
	# command does when it switches toolchains).
	gomod=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "golang.org/toolchain@v0.0.1-go$go_version.linux-$goarch") ||
		die "could not download Go $go_version from the module proxy"
	godir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$gomod")
	[[ -f "$godir/bin/go" ]] || die "no go binary in $godir"
	mkdir -p "$cache/debs"
	debootstrap --variant=minbase --include=ca-certificates --cache-dir="$cache/debs" \
		"$suite" "$rootfs" http://deb.debian.org/debian \
		>"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	# The CAs this machine adds to Debian's (its network intercepts TLS), so
	# that 'go mod download' in the build reaches the module proxy. The
	# official image trusts only Debian's; images built elsewhere are unchanged.
	if ((${#local_cas[@]})); then
		cp "${local_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
		chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in the stand-in"
	fi
	mkdir -p "$rootfs/usr/local" "$rootfs/go/bin" "$rootfs/go/src"
	cp -a "$godir" "$rootfs/usr/local/go"
	chmod -R u+w "$rootfs/usr/local/go"
	chmod +x "$rootfs"/usr/local/go/bin/* "$rootfs"/usr/local/go/pkg/tool/*/*
	"$rootfs/usr/local/go/bin/go" version >/dev/null || die "the Go toolchain in the stand-in does not run"
	tar -C "$rootfs" -c . | podman import \
		--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change "ENV GOLANG_VERSION=$go_version" \
		--change 'ENV GOTOOLCHAIN=local' \
		--change 'ENV GOPATH=/go' \
		--change 'WORKDIR /go' \
		--change 'CMD ["bash"]' \
		--change "LABEL org.flaskhq.flask.standin=$recipe" \
		- "$builder_ref" >"$work/import.log" 2>&1 || { cat "$work/import.log" >&2; die "podman import failed"; }
	rm -rf "$rootfs"
	say "stand-in ready in $((SECONDS - start))s"
fi

# --- build -------------------------------------------------------------------

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
for name in api worker; do
	tag=localhost/flask-$name:$VERSION
	say "building $tag"
	start=$SECONDS
	# --network=host: the build stage's 'go mod download' reaches the module
	# proxy. The volume keeps Go's build cache between runs and images (it is
	# never part of an image); the Dockerfiles themselves need nothing special.
	podman build --pull=never --network=host --layers -v "$cache/go-build:/root/.cache/go-build" \
		-f "Dockerfile.$name" --build-arg "VERSION=$VERSION" --build-arg "COMMIT=$COMMIT" \
		--iidfile "$work/$name.iid" -t "$tag" . >"$work/build-$name.log" 2>&1 ||
		{ tail -40 "$work/build-$name.log" >&2; die "building Dockerfile.$name failed"; }
	images+=("$(cat "$work/$name.iid")")
	say "built $tag in $((SECONDS - start))s"
done
api_image=${images[0]} worker_image=${images[1]}

# --- static checks of each image ---------------------------------------------

inspect() { podman image inspect --format "$2" "$1"; }
for name in api worker; do
	if [[ $name == api ]]; then id=$api_image port=8080; else id=$worker_image port=8081; fi
	bin=/usr/local/bin/flask-$name
	[[ $(inspect "$id" '{{.Config.User}}') == 65532:65532 ]] || die "flask-$name: user is $(inspect "$id" '{{.Config.User}}'), want 65532:65532"
	[[ $(inspect "$id" '{{json .Config.Entrypoint}}') == "[\"$bin\"]" ]] || die "flask-$name: entrypoint is $(inspect "$id" '{{json .Config.Entrypoint}}')"
	[[ $(inspect "$id" '{{json .Config.ExposedPorts}}') == "{\"$port/tcp\":{}}" ]] || die "flask-$name: exposes $(inspect "$id" '{{json .Config.ExposedPorts}}')"
	[[ $(inspect "$id" '{{index .Labels "org.opencontainers.image.version"}}') == "$VERSION" ]] || die "flask-$name: version label is not $VERSION"
	[[ $(inspect "$id" '{{index .Labels "org.opencontainers.image.revision"}}') == "$COMMIT" ]] || die "flask-$name: revision label is not $COMMIT"

	# The whole file system: only the binary and the runtime files.
	mnt=$(podman image mount "$id")
	files=$(cd "$mnt" && find . ! -type d | sed 's|^\.||' | sort | tr '\n' ' ')
	podman image unmount "$id" >/dev/null
	want="/etc/group /etc/passwd /etc/ssl/certs/ca-certificates.crt $bin "
	[[ "$files" == "$want" ]] || die "flask-$name holds: $files; want only: $want"

	# No shell to start.
	if podman run --rm --network=none --entrypoint /bin/sh "$id" -c true >/dev/null 2>&1; then
		die "flask-$name: /bin/sh ran in the image"
	fi
	say "flask-$name: user 65532, entrypoint $bin, only its binary + CA certificates + passwd, no shell"
done

# --- run them ----------------------------------------------------------------

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$(((RANDOM << 15 | RANDOM) % 30000 + 20000))
		if ! (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free port"
}

# wait_http URL PROCESS-CHECK: polls until URL answers 200, up to 60 s.
wait_http() {
	local url=$1 cid=$2
	for _ in $(seq 1 300); do
		if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
		[[ $(podman inspect --format '{{.State.Running}}' "$cid") == true ]] || return 1
		sleep 0.2
	done
	return 1
}

# A local NATS JetStream server: the nats-server release the product embeds.
go build -o "$work/nats-server" github.com/nats-io/nats-server/v2
nats_port=$(free_port)
"$work/nats-server" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats" >"$work/nats.log" 2>&1 &
nats_pid=$!
for _ in $(seq 1 100); do
	(: </dev/tcp/127.0.0.1/"$nats_port") 2>/dev/null && break
	kill -0 "$nats_pid" 2>/dev/null || { cat "$work/nats.log" >&2; die "nats-server did not start"; }
	sleep 0.1
done

db=$TEST_DATABASE_URL
hardened=(--network=host --read-only --cap-drop=ALL --security-opt=no-new-privileges --pids-limit=512)

out=$(podman run --rm "${hardened[@]}" -e "FLASK_DATABASE_URL=$db" "$api_image" migrate 2>&1) ||
	die "flask-api migrate failed: $out"
[[ "$out" == "applied migrations ["* ]] || die "flask-api migrate said: $out"
say "flask-api migrate: $out"

common=(-e "FLASK_DATABASE_URL=$db" -e "FLASK_NATS_URL=nats://127.0.0.1:$nats_port" -e FLASK_LOG_FORMAT=json)
for name in api worker; do
	if [[ $name == api ]]; then id=$api_image; else id=$worker_image; fi
	port=$(free_port)
	cid=$(podman run -d "${hardened[@]}" "${common[@]}" -e "FLASK_HTTP_ADDR=127.0.0.1:$port" "$id")
	containers+=("$cid")
	if ! wait_http "http://127.0.0.1:$port/readyz" "$cid"; then
		podman logs "$cid" >&2 || true
		die "flask-$name did not answer /readyz on 127.0.0.1:$port"
	fi
	pid=$(podman inspect --format '{{.State.Pid}}' "$cid")
	uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
	[[ "$uids" == "65532 65532 65532 65532" ]] || die "flask-$name runs as uids $uids, want 65532"
	podman logs "$cid" 2>&1 | grep -q "\"version\":\"$VERSION\",\"commit\":\"$COMMIT\"" ||
		{ podman logs "$cid" >&2; die "flask-$name did not log version $VERSION commit $COMMIT at start"; }
	curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" || die "flask-$name: /healthz failed"
	say "flask-$name: runs as uid 65532 (pid $pid), answers /readyz and /healthz on 127.0.0.1:$port, version $VERSION"
done

say "both images built and checked"
