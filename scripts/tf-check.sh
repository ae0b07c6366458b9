#!/usr/bin/env bash
# Offline checks of the Terraform under deploy/terraform:
#   1. terraform and the local provider mirror are present (never pass silently);
#   2. terraform fmt;
#   3. every root and module (bootstrap, envs/*, modules/* including the
#      platform module the envs call): init against the mirror with the
#      committed lock file (read-only), validate, and terraform test with
#      mocked providers;
#   4. the policy tests (Go, deploy/terraform/policy), run alongside 3.
# No network is needed except the Go module proxy for the policy module's
# dependencies on a cold module cache.
#
# Environment:
#   TF_PLUGIN_DIR  provider mirror (default /opt/tf-plugins)
#   TF_CHECK_JOBS  directories checked in parallel (default: number of CPUs)
set -euo pipefail

die() {
	echo "tf-check: $*" >&2
	exit 1
}

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tf_root="$repo_root/deploy/terraform"
plugin_dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
jobs_max="${TF_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}"

# --- 1. tools ------------------------------------------------------------------

# No user CLI config (no network mirrors, no credential helpers), no prompts,
# no version checkpoint calls. TF_DATA_DIR (per directory, below) keeps
# .terraform out of the work tree.
export TF_CLI_CONFIG_FILE=/dev/null TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
unset TF_PLUGIN_CACHE_DIR TF_WORKSPACE

command -v terraform >/dev/null 2>&1 || die "terraform is not on PATH (need >= 1.10, e.g. /usr/local/bin/terraform)"
[[ -d "$plugin_dir/registry.terraform.io/hashicorp/aws" ]] ||
	die "provider mirror missing: $plugin_dir/registry.terraform.io/hashicorp/aws (hashicorp/aws 5.100.x expected; set TF_PLUGIN_DIR)"
command -v go >/dev/null 2>&1 || die "go is not on PATH (needed for the policy tests in deploy/terraform/policy)"
[[ "$jobs_max" =~ ^[1-9][0-9]*$ ]] || die "TF_CHECK_JOBS must be a positive integer, got '$jobs_max'"

tf_version="$(terraform version | sed -n '1s/^Terraform v\([0-9][0-9.]*\).*/\1/p')"
IFS=. read -r tf_major tf_minor _ <<<"$tf_version"
if [[ -z "$tf_version" ]] || ((tf_major < 1 || (tf_major == 1 && tf_minor < 10))); then
	die "terraform ${tf_version:-of unknown version} found; >= 1.10 is needed (S3 native locking, mock providers)"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tf-check.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "tf-check: terraform $tf_version, providers from $plugin_dir"

# --- 2. fmt --------------------------------------------------------------------

if ! terraform fmt -check -recursive -diff "$tf_root"; then
	die "formatting differs (above); run: terraform fmt -recursive deploy/terraform"
fi
echo "ok   fmt"

# --- 3. init, validate, test every root and module ----------------------------

# The directories whose tests plan the whole platform go first, so that the
# small modules fill the other slot instead of one long job running alone at
# the end.
dirs=()
for d in "$tf_root"/modules/platform/ "$tf_root"/envs/*/ "$tf_root"/modules/*/ "$tf_root"/bootstrap/; do
	d="${d%/}"
	d="${d#"$tf_root"/}"
	[[ " ${dirs[*]} " == *" $d "* ]] || dirs+=("$d")
done

# check_dir REL runs in the background; it writes its log and an exit marker.
check_dir() {
	local rel="$1"
	local dir="$tf_root/$rel"
	local slug="${rel//\//_}"
	local log="$tmp/$slug.log"
	# Per-directory data dir: .terraform out of the work tree, and parallel
	# inits never share one. The provider is not copied: init links the
	# unpacked package in the mirror.
	export TF_DATA_DIR="$tmp/data/$slug"
	{
		if [[ ! -f "$dir/.terraform.lock.hcl" ]]; then
			echo "missing .terraform.lock.hcl: run 'TF_CLI_CONFIG_FILE=/dev/null terraform init -backend=false -plugin-dir=$plugin_dir' in $rel and commit it"
			return 1
		fi
		# -lockfile=readonly: the committed lock must already list a hash the
		# mirror satisfies; init fails instead of rewriting it.
		terraform -chdir="$dir" init -backend=false -plugin-dir="$plugin_dir" \
			-input=false -lockfile=readonly -no-color || return 1
		terraform -chdir="$dir" validate -no-color || return 1
		if compgen -G "$dir/tests/*.tftest.hcl" >/dev/null; then
			terraform -chdir="$dir" test -no-color || return 1
		elif [[ "$rel" == modules/* ]]; then
			echo "no tests/*.tftest.hcl: every module needs mocked-provider tests"
			return 1
		fi
	} >"$log" 2>&1
}

run_check() {
	local rel="$1" slug="${1//\//_}" start=$SECONDS
	if check_dir "$rel"; then
		echo ok >"$tmp/$slug.status"
	else
		echo fail >"$tmp/$slug.status"
	fi
	echo $((SECONDS - start)) >"$tmp/$slug.secs"
}

# --- 4. policy tests, in the background meanwhile ------------------------------

# Independent of the Terraform checks; on a cold Go build cache compiling
# the HCL libraries overlaps with them instead of adding to the total.
(
	if (cd "$tf_root/policy" && GOWORK=off GOFLAGS="${GOFLAGS:-} -mod=readonly" go test -count=1 ./...) >"$tmp/policy.log" 2>&1; then
		echo ok >"$tmp/policy.status"
	else
		echo fail >"$tmp/policy.status"
	fi
) &

for rel in "${dirs[@]}"; do
	while (($(jobs -rp | wc -l) >= jobs_max)); do
		wait -n || true
	done
	run_check "$rel" &
done
wait

failed=0
for rel in "${dirs[@]}"; do
	slug="${rel//\//_}"
	status="$(cat "$tmp/$slug.status" 2>/dev/null || echo fail)"
	tests="$(sed -n 's/^Success! \([0-9]*\) passed, 0 failed\.$/\1/p' "$tmp/$slug.log" | tail -n 1)"
	secs="$(cat "$tmp/$slug.secs" 2>/dev/null || echo '?')"
	if [[ "$status" == ok ]]; then
		echo "ok   $rel (init, validate${tests:+, $tests terraform tests}; ${secs}s)"
	else
		failed=$((failed + 1))
		echo "FAIL $rel" >&2
		sed 's/^/     /' "$tmp/$slug.log" >&2
	fi
done
if [[ "$(cat "$tmp/policy.status" 2>/dev/null)" == ok ]]; then
	echo "ok   policy tests (deploy/terraform/policy)"
else
	failed=$((failed + 1))
	echo "FAIL policy tests (deploy/terraform/policy)" >&2
	sed 's/^/     /' "$tmp/policy.log" >&2
fi
((failed == 0)) || die "$failed check(s) failed (logs above)"

echo "tf-check: all checks passed (fmt, ${#dirs[@]} Terraform directories, policy) in ${SECONDS}s"
