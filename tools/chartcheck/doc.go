// Package chartcheck holds the offline checks of the Helm chart in
// deploy/helm/flask, in a Go module of its own so that the product's go.mod
// never carries what only the checks need.
//
// The tests render the chart with helm for every example under ci/ and:
//
//   - validate every object strictly with kubeconform against local JSON
//     schemas that cmd/kubeschemas generates from the OpenAPI document of the
//     k8s.io/kubernetes module and the CRDs of KEDA, External Secrets and the
//     Prometheus Operator (a misspelled field fails, which a test proves);
//   - apply the policies: no root, limits and probes set, pinned images,
//     secrets only from Secrets, a worker grace period above its drain, KEDA
//     triggers matching the broker, every FLASK_* variable documented;
//   - compare the output with golden files under testdata/golden
//     (go test -update rewrites them);
//   - check that values.schema.json accepts Terraform's helm_values shape and
//     rejects unknown keys and wrong types.
//
// scripts/chart-check.sh installs helm and kubeconform, writes the schemas
// and runs these tests; run it rather than go test alone.
package chartcheck
