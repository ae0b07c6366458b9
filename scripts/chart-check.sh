#!/usr/bin/env bash
# Offline checks of the Helm chart deploy/helm/flask:
#   1. helm and kubeconform, built from the Go module proxy into
#      ${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}/bin (skipped when the
#      pinned version is already there);
#   2. strict JSON schemas for kubeconform, generated once into the same
#      cache from the OpenAPI document of the k8s.io/kubernetes module and the
#      CRDs of the KEDA, External Secrets and Prometheus Operator modules
#      (tools/chartcheck/cmd/kubeschemas);
#   3. helm lint --strict with every ci/*-values.yaml;
#   4. the Go tests of tools/chartcheck (a module of its own): helm template
#      of every example validated by kubeconform -strict, a misspelled field
#      proven to fail, the policies, golden files, the values schema, the
#      Terraform contract, and the monitoring objects: the PrometheusRule
#      checked by Prometheus' rule-file parser and every alert evaluated on
#      fixture series by Prometheus' query engine (promqltest), every
#      dashboard query parsed, and every flask_* metric they name found in
#      the metrics reference of docs/observability.md. These use packages of
#      github.com/prometheus/prometheus inside tools/chartcheck rather than a
#      promtool binary: promtool's cold build took over 5 minutes here, the
#      packages' about 1m40s.
# Nothing but the Go module proxy is reached, and only on a cold cache.
#
# Usage: scripts/chart-check.sh [-update]   (-update rewrites the golden files)
#
# Environment:
#   FLASK_TOOLS_DIR   tool cache (default ~/.cache/flask/tools)
set -euo pipefail

die() {
	echo "chart-check: $*" >&2
	exit 1
}

# Pinned versions: the Kubernetes the chart is rendered and validated for
# (EKS 1.34, deploy/terraform/envs/*/main.tf) and the CRD versions.
HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VERSION=v1.34.4
KEDA_VERSION=v2.21.0
EXTERNAL_SECRETS_VERSION=v1.3.2
PROMETHEUS_OPERATOR_VERSION=v0.85.0

update=0
case "${1:-}" in
"") ;;
-update) update=1 ;;
*) die "usage: scripts/chart-check.sh [-update]" ;;
esac

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart="$repo_root/deploy/helm/flask"
checks="$repo_root/tools/chartcheck"
tools_dir="${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}"
bin="$tools_dir/bin"
command -v go >/dev/null 2>&1 || die "go is not on PATH"
mkdir -p "$bin"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/chart-check.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
# helm keeps no state of ours: its cache, config and data live in the temp dir.
export HELM_CACHE_HOME="$tmp/helm/cache" HELM_CONFIG_HOME="$tmp/helm/config" HELM_DATA_HOME="$tmp/helm/data"
export GOWORK=off
start=$SECONDS

# --- 1. tools ------------------------------------------------------------------

# installed_version BIN prints the module version a Go binary was built from.
installed_version() {
	[[ -x "$1" ]] || return 0
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

install_tool() { # name package version
	local name="$1" pkg="$2" version="$3"
	if [[ "$(installed_version "$bin/$name")" == "$version" ]]; then
		return 0
	fi
	# scripts/deploy.sh keeps its helm in $tools_dir/helm@VERSION/: reuse a
	# build of the same version rather than compiling it twice.
	local other="$tools_dir/$name@$version/$name"
	if [[ "$(installed_version "$other")" == "$version" ]]; then
		cp "$other" "$bin/$name.tmp" && mv "$bin/$name.tmp" "$bin/$name"
		return 0
	fi
	echo "chart-check: installing $name $version (go install; a few minutes on a cold cache)"
	GOBIN="$bin" GOFLAGS='' go install "$pkg@$version" || die "go install $pkg@$version failed"
	[[ "$(installed_version "$bin/$name")" == "$version" ]] || die "$bin/$name is not $version after go install"
}

# Both at once: on a cold cache most of the time is compiling helm.
install_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" &
helm_pid=$!
install_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" &
kc_pid=$!
wait "$helm_pid" || die "helm install failed"
wait "$kc_pid" || die "kubeconform install failed"
echo "ok   tools: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION ($((SECONDS - start))s)"

# --- 2. schemas ----------------------------------------------------------------

# The directory name holds every input, including the generator's own hash,
# so a change to any of them makes a fresh set.
gen_hash="$(cat "$checks/cmd/kubeschemas/main.go" "$checks/go.sum" | sha256sum | cut -c1-12)"
schemas="$tools_dir/kube-schemas/k8s-$KUBERNETES_VERSION-keda-$KEDA_VERSION-eso-$EXTERNAL_SECRETS_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION-$gen_hash"
if [[ ! -f "$schemas/.complete" ]]; then
	step=$SECONDS
	rm -rf "$schemas.tmp"
	(cd "$checks" && GOFLAGS=-mod=readonly go run ./cmd/kubeschemas -out "$schemas.tmp" \
		-kubernetes "$KUBERNETES_VERSION" -keda "$KEDA_VERSION" \
		-external-secrets "$EXTERNAL_SECRETS_VERSION" -prometheus-operator "$PROMETHEUS_OPERATOR_VERSION") ||
		die "schema generation failed"
	rm -rf "$schemas"
	mv "$schemas.tmp" "$schemas"
	touch "$schemas/.complete"
	echo "ok   schemas generated in $((SECONDS - step))s: $schemas"
else
	echo "ok   schemas (cached): $schemas"
fi

# --- 3. helm lint ---------------------------------------------------------------

kube_version="${KUBERNETES_VERSION#v}"
shopt -s nullglob
values=("$chart"/ci/*-values.yaml)
((${#values[@]} > 0)) || die "no ci/*-values.yaml in $chart"
for f in "${values[@]}"; do
	if ! out="$("$bin/helm" lint --strict --kube-version "$kube_version" -f "$f" "$chart" 2>&1)"; then
		echo "$out" >&2
		die "helm lint --strict failed with ${f#"$repo_root"/}"
	fi
done
echo "ok   helm lint --strict with ${#values[@]} ci values files"

# --- 4. Go tests: kubeconform, policies, golden files, schema, contract ---------

export CHARTCHECK_HELM="$bin/helm" CHARTCHECK_KUBECONFORM="$bin/kubeconform"
export CHARTCHECK_SCHEMAS="$schemas" CHARTCHECK_KUBE_VERSION="$kube_version"
if ((update)); then
	(cd "$checks" && GOFLAGS=-mod=readonly go test -count=1 -run TestGolden . -update) || die "updating the golden files failed"
	echo "ok   golden files rewritten under tools/chartcheck/testdata/golden"
fi
(cd "$checks" && GOFLAGS=-mod=readonly go vet ./... && GOFLAGS=-mod=readonly go test -count=1 ./...) || die "chart tests failed (above)"

echo "chart-check: all checks passed in $((SECONDS - start))s"
