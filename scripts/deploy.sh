#!/usr/bin/env bash
# The pipeline's steps that touch AWS, one command each (the Makefile's
# push, tf-mirror, tf-plan, tf-apply, chart-diff, deploy, smoke and rollback
# targets call them; docs/pipeline.md):
#
#   scripts/deploy.sh push      push the images make images kept to REGISTRY (ECR) as TAG
#   scripts/deploy.sh mirror    download the locked Terraform providers into TF_PLUGIN_DIR
#   scripts/deploy.sh plan      terraform plan for ENV -> $REPORTS/tfplan-ENV.{bin,txt}
#   scripts/deploy.sh apply     terraform apply $REPORTS/tfplan-ENV.bin (the approved plan)
#   scripts/deploy.sh diff      render the release for ENV at TAG, diff against the live one
#   scripts/deploy.sh deploy    helm upgrade --install --atomic --wait, helm test, smoke job
#   scripts/deploy.sh smoke     submit a demo job to API_URL and wait for it to succeed
#   scripts/deploy.sh rollback  helm rollback to REVISION (empty: the previous release)
#
# Environment:
#   ENV          dev or prod (required)
#   TAG          image tag: the commit SHA (default: git rev-parse HEAD)
#   REGISTRY     <account>.dkr.ecr.<region>.amazonaws.com (push)
#   REVISION     helm revision for rollback (default: the previous one)
#   DRY_RUN=1    print every command that would reach AWS or the cluster and
#                run only the offline part: the chart is rendered with helm
#                template from deploy/jenkins/dry-run/helm-values-ENV.json (the
#                shape of Terraform's helm_values output). Works offline.
#   REPORTS      where plans, renders and diffs go (default reports)
#   TF_BACKEND_CONFIG  backend.hcl of the S3 state (a Jenkins file credential)
#   TF_VARS_FILE       terraform.tfvars of ENV (a Jenkins file credential)
#   API_URL      smoke target (default https://<the chart's ingress host>)
#   FLASK_API_KEY  API key of the smoke job (a Jenkins secret text), if the API wants one
#   HELM_TIMEOUT helm --timeout for upgrade and rollback (default 10m)
# AWS credentials come from the environment (EKS Pod Identity in Jenkins);
# nothing here reads or prints a secret.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
ECR_LOGIN_VERSION=v0.12.0
RELEASE=flask
NAMESPACE=flask
CHART=deploy/helm/flask

die() {
	echo "deploy: $*" >&2
	exit 1
}

cmd="${1:-}"
[[ $# -eq 1 ]] || die "usage: scripts/deploy.sh push|mirror|plan|apply|diff|deploy|smoke|rollback"
ENV="${ENV:-}"
TAG="${TAG:-$(git rev-parse HEAD 2>/dev/null || true)}"
REPORTS="${REPORTS:-reports}"
mkdir -p "$REPORTS"
REPORTS="$(cd "$REPORTS" && pwd)"
HELM_TIMEOUT="${HELM_TIMEOUT:-10m}"
dry="${DRY_RUN:-}"
tools="${FLASK_TOOLS_DIR:-$HOME/.cache/flask/tools}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/flask-deploy.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# run prints a command that reaches AWS or the cluster; without DRY_RUN it
# also runs it. Arguments are never secrets (those stay in the environment).
run() {
	printf '+' >&2
	printf ' %q' "$@" >&2
	printf '\n' >&2
	[[ -n "$dry" ]] || "$@"
}

need_env() {
	[[ "$ENV" == dev || "$ENV" == prod ]] || die "ENV must be dev or prod, got '${ENV}'"
}

need_tag() {
	[[ "$TAG" =~ ^[0-9a-f]{7,40}$ ]] || die "TAG must be a commit SHA (7-40 hex digits), got '${TAG}'"
}

tfdir() { echo "deploy/terraform/envs/$ENV"; }

# tf_init initializes ENV's root module against its S3 state, with the
# .terraform directory outside the work tree.
tf_init() {
	export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
	export TF_DATA_DIR="${TF_DATA_DIR:-$tmp/tf-data}"
	local args=(-input=false -lockfile=readonly -no-color)
	if [[ -n "$dry" ]]; then
		args+=("-backend-config=\$TF_BACKEND_CONFIG")
	else
		[[ -f "${TF_BACKEND_CONFIG:-}" ]] || die "TF_BACKEND_CONFIG must name the backend.hcl file (Jenkins credential flask-tf-backend)"
		args+=("-backend-config=$TF_BACKEND_CONFIG")
	fi
	if [[ -d "${TF_PLUGIN_DIR:-}" ]]; then
		args+=("-plugin-dir=$TF_PLUGIN_DIR")
	fi
	run terraform -chdir="$(tfdir)" init "${args[@]}"
}

helm_bin() {
	if command -v helm >/dev/null; then
		command -v helm
		return
	fi
	local h="$tools/helm@$HELM_VERSION/helm"
	# scripts/chart-check.sh keeps the same helm release in $tools/bin.
	if [[ ! -x "$h" ]] && go version -m "$tools/bin/helm" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+helm.sh/helm/v3[[:space:]]+${HELM_VERSION}[[:space:]]"; then
		echo "$tools/bin/helm"
		return
	fi
	if [[ ! -x "$h" ]]; then
		echo "deploy: installing helm $HELM_VERSION into $tools (a few minutes, once)" >&2
		GOBIN="$(dirname "$h")" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
	fi
	echo "$h"
}

# infra_values writes the chart values that come from Terraform to a file
# and prints its path.
infra_values() {
	local out="$tmp/infra-$ENV.json"
	if [[ -n "$dry" ]]; then
		printf '+ terraform -chdir=%s output -json helm_values > %s\n' "$(tfdir)" "$out" >&2
		cp "deploy/jenkins/dry-run/helm-values-$ENV.json" "$out"
	else
		tf_init >&2
		terraform -chdir="$(tfdir)" output -json helm_values >"$out"
	fi
	echo "$out"
}

# kube_login points KUBECONFIG at ENV's cluster (a file in the temp dir).
kube_login() {
	export KUBECONFIG="$tmp/kubeconfig"
	local cluster region
	if [[ -n "$dry" ]]; then
		cluster="flask-$ENV"
		region="\$AWS_REGION"
	else
		cluster="$(terraform -chdir="$(tfdir)" output -raw cluster_name)"
		region="$(terraform -chdir="$(tfdir)" output -raw region)"
	fi
	run aws eks update-kubeconfig --name "$cluster" --region "$region" --kubeconfig "$KUBECONFIG"
}

# render runs helm template for ENV at TAG into $REPORTS/chart-ENV.yaml and
# checks that both images carry the tag.
render() {
	local values="$1" helm kube out="$REPORTS/chart-$ENV.yaml"
	[[ -d "$CHART" ]] || die "no chart at $CHART"
	helm="$(helm_bin)"
	# Render for the cluster's Kubernetes version, as Terraform sets it.
	kube="$(sed -n 's/^ *kubernetes_version *= *"\([0-9.]*\)".*/\1/p' "$(tfdir)/main.tf")"
	[[ -n "$kube" ]] || die "no kubernetes_version in $(tfdir)/main.tf"
	"$helm" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --kube-version "$kube" -f "$values" \
		--set "api.image.tag=$TAG" --set "worker.image.tag=$TAG" >"$out"
	for image in flask-api flask-worker; do
		grep -Eq "image: \"?[^ \"]*/$image:$TAG\"?\$" "$out" ||
			die "rendered chart has no $image:$TAG image (see $out)"
	done
	echo "deploy: rendered $RELEASE for $ENV at $TAG into $out ($(grep -c '^kind:' "$out") objects)" >&2
}

smoke() {
	local url="${API_URL:-}"
	if [[ -z "$url" ]]; then
		# The API's public address: the Ingress host of the rendered release.
		[[ -f "$REPORTS/chart-$ENV.yaml" ]] || { need_tag; render "$(infra_values)"; }
		local host
		host="$(sed -n 's/^ *- host: *"\{0,1\}\([^" ]*\)"\{0,1\} *$/\1/p' "$REPORTS/chart-$ENV.yaml" | head -n 1)"
		[[ -n "$host" ]] || die "API_URL is not set and the chart renders no Ingress host"
		url="https://$host"
	fi
	echo "deploy: smoke job on $url" >&2
	# flaskctl reads FLASK_API_KEY from the environment when it is set.
	run go run ./cmd/flaskctl jobs submit --api "$url" --type demo.sleep --payload '{"ms": 100}' \
		--timeout 30s --wait --poll-interval 500ms
}

case "$cmd" in
push)
	need_tag
	[[ -n "${REGISTRY:-}" || -n "$dry" ]] || die "REGISTRY must be <account>.dkr.ecr.<region>.amazonaws.com"
	registry="${REGISTRY:-123456789012.dkr.ecr.eu-west-1.amazonaws.com}"
	# Built by `make images FLASK_IMAGES_KEEP=1` as localhost/<image>:VERSION,
	# in the container storage scripts/images.sh configures.
	version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
	if [[ -f "$tools/images/storage.conf" ]]; then
		export CONTAINERS_CONF="$tools/images/containers.conf" CONTAINERS_STORAGE_CONF="$tools/images/storage.conf"
	fi
	# ECR credentials from the AWS environment (Pod Identity) through the ECR
	# credential helper: no password passes through this script or the log.
	helper="$tools/docker-credential-ecr-login@$ECR_LOGIN_VERSION"
	if [[ -z "$dry" && ! -x "$helper/docker-credential-ecr-login" ]]; then
		GOBIN="$helper" go install "github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login@$ECR_LOGIN_VERSION"
	fi
	export PATH="$helper:$PATH" REGISTRY_AUTH_FILE="$tmp/auth.json"
	printf '{"credHelpers": {"%s": "ecr-login"}}\n' "$registry" >"$REGISTRY_AUTH_FILE"
	for image in flask-api flask-worker; do
		# ECR tags are immutable: a commit is pushed once, never overwritten.
		run podman push "localhost/$image:$version" "docker://$registry/$image:$TAG"
	done
	;;
mirror)
	dir="${TF_PLUGIN_DIR:-/opt/tf-plugins}"
	if [[ -d "$dir/registry.terraform.io/hashicorp/aws" ]]; then
		echo "deploy: providers already in $dir" >&2
		exit 0
	fi
	export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1
	run terraform -chdir=deploy/terraform/envs/dev providers mirror -platform=linux_amd64 "$dir"
	;;
plan)
	need_env
	tf_init
	vars="\$TF_VARS_FILE"
	if [[ -z "$dry" ]]; then
		[[ -f "${TF_VARS_FILE:-}" ]] || die "TF_VARS_FILE must name $ENV's terraform.tfvars (Jenkins credential flask-tfvars-$ENV)"
		vars="$TF_VARS_FILE"
	fi
	plan="$REPORTS/tfplan-$ENV.bin"
	run terraform -chdir="$(tfdir)" plan -input=false -no-color -lock-timeout=5m -var-file="$vars" -out="$plan"
	if [[ -z "$dry" ]]; then
		terraform -chdir="$(tfdir)" show -no-color "$plan" >"$REPORTS/tfplan-$ENV.txt"
		echo "deploy: plan for $ENV in $REPORTS/tfplan-$ENV.txt" >&2
	fi
	;;
apply)
	need_env
	plan="$REPORTS/tfplan-$ENV.bin"
	[[ -f "$plan" || -n "$dry" ]] || die "no saved plan $plan: run make tf-plan ENV=$ENV first"
	tf_init
	run terraform -chdir="$(tfdir)" apply -input=false -no-color -lock-timeout=5m "$plan"
	;;
diff)
	need_env
	need_tag
	values="$(infra_values)"
	render "$values"
	kube_login
	live="$REPORTS/chart-$ENV.live.yaml"
	if [[ -n "$dry" ]]; then
		printf '+ helm get manifest %s --namespace %s > %s\n' "$RELEASE" "$NAMESPACE" "$live" >&2
	else
		"$(helm_bin)" get manifest "$RELEASE" --namespace "$NAMESPACE" >"$live" 2>/dev/null || : >"$live"
		diff -u "$live" "$REPORTS/chart-$ENV.yaml" >"$REPORTS/chart-$ENV.diff" || true
		echo "deploy: $(grep -c '^[-+][^-+]' "$REPORTS/chart-$ENV.diff" || true) changed lines in $REPORTS/chart-$ENV.diff" >&2
	fi
	;;
deploy)
	need_env
	need_tag
	values="$(infra_values)"
	render "$values"
	kube_login
	helm="$(helm_bin)"
	# --atomic: a release that does not become ready in time is rolled back.
	run "$helm" upgrade --install "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
		--atomic --wait --timeout "$HELM_TIMEOUT" -f "$values" \
		--set "api.image.tag=$TAG" --set "worker.image.tag=$TAG"
	run "$helm" test "$RELEASE" --namespace "$NAMESPACE" --timeout 5m --logs
	smoke
	echo "deploy: $ENV at $TAG$([[ -n "$dry" ]] && echo ' (dry run)')" >&2
	;;
smoke)
	need_env
	smoke
	;;
rollback)
	need_env
	[[ -z "${REVISION:-}" || "$REVISION" =~ ^[1-9][0-9]*$ ]] || die "REVISION must be a helm revision number, got '$REVISION'"
	[[ -n "$dry" ]] || tf_init
	kube_login
	helm="$(helm_bin)"
	run "$helm" history "$RELEASE" --namespace "$NAMESPACE" --max 10
	args=("$RELEASE")
	[[ -n "${REVISION:-}" ]] && args+=("$REVISION")
	run "$helm" rollback "${args[@]}" --namespace "$NAMESPACE" --wait --timeout "$HELM_TIMEOUT"
	;;
*)
	die "unknown command '$cmd' (push, mirror, plan, apply, diff, deploy, smoke, rollback)"
	;;
esac
