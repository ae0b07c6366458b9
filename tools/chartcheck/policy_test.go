package chartcheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Variables that changes landing alongside the chart are adding (the SQS
// broker; the API's metrics listener and bootstrap key), by the family that
// marks them documented: each is excused only while docs/configuration.md
// mentions nothing of its family, so the exemption ends by itself.
var pendingDocs = map[string]string{
	"FLASK_SQS_QUEUE_PREFIX":       "FLASK_SQS_",
	"FLASK_SQS_ENDPOINT":           "FLASK_SQS_",
	"FLASK_SQS_CREATE_QUEUES":      "FLASK_SQS_",
	"FLASK_SQS_VISIBILITY_TIMEOUT": "FLASK_SQS_",
	"FLASK_METRICS_ADDR":           "FLASK_METRICS_ADDR",
	"FLASK_BOOTSTRAP_API_KEY_FILE": "FLASK_BOOTSTRAP_API_KEY",
}

func allPolicies(t *testing.T, objs []Object) []string {
	t.Helper()
	docs, err := os.ReadFile(filepath.Join(repoRoot, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	var v []string
	for _, p := range PodTemplates(objs) {
		v = append(v, CheckPodSecurity(p)...)
		v = append(v, CheckResources(p)...)
		v = append(v, CheckProbes(p)...)
		v = append(v, CheckImages(p)...)
	}
	v = append(v, CheckSecretsFromSecrets(objs)...)
	v = append(v, CheckWorkerDrain(objs)...)
	v = append(v, CheckRuntime(objs)...)
	v = append(v, CheckKEDA(objs)...)
	v = append(v, CheckDocumentedVars(objs, string(docs), pendingDocs)...)
	return v
}

// TestPolicies applies every policy to every ci example.
func TestPolicies(t *testing.T) {
	for name := range ciValues(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, name).objs
			if len(PodTemplates(objs)) < 4 {
				t.Fatalf("only %d pod templates rendered: the checks would see too little", len(PodTemplates(objs)))
			}
			for _, msg := range allPolicies(t, objs) {
				t.Error(msg)
			}
		})
	}
}

// clone deep-copies rendered objects so a test can break them.
func clone(t *testing.T, objs []Object) []Object {
	t.Helper()
	b, err := json.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	var out []Object
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func podSpecOf(t *testing.T, objs []Object, kind, name string) map[string]any {
	t.Helper()
	for _, p := range PodTemplates(objs) {
		if p.Owner == kind+"/"+name {
			return p.Spec
		}
	}
	t.Fatalf("no pod template in %s/%s", kind, name)
	return nil
}

func firstContainer(spec map[string]any) map[string]any {
	return spec["containers"].([]any)[0].(map[string]any)
}

// TestPoliciesCatchViolations proves each policy fails on the violation it
// is about, starting from a rendering that passes.
func TestPoliciesCatchViolations(t *testing.T) {
	cases := []struct {
		name, values string
		breakIt      func(objs []Object, t *testing.T) []Object
		want         string
	}{
		{"root user", "minimal", func(o []Object, t *testing.T) []Object {
			podSpecOf(t, o, "Deployment", "flask-api")["securityContext"].(map[string]any)["runAsUser"] = 0.0
			return o
		}, "runAsUser is not a non-zero number"},
		{"writable root", "minimal", func(o []Object, t *testing.T) []Object {
			firstContainer(podSpecOf(t, o, "Deployment", "flask-worker-default"))["securityContext"].(map[string]any)["readOnlyRootFilesystem"] = false
			return o
		}, "readOnlyRootFilesystem is not true"},
		{"no limits", "nats", func(o []Object, t *testing.T) []Object {
			delete(firstContainer(podSpecOf(t, o, "Deployment", "flask-worker-mail"))["resources"].(map[string]any), "limits")
			return o
		}, "resources.limits.cpu is not set"},
		{"no readiness probe", "minimal", func(o []Object, t *testing.T) []Object {
			delete(firstContainer(podSpecOf(t, o, "Deployment", "flask-api")), "readinessProbe")
			return o
		}, "readinessProbe is not GET /readyz"},
		{"latest tag", "minimal", func(o []Object, t *testing.T) []Object {
			firstContainer(podSpecOf(t, o, "Deployment", "flask-api"))["image"] = "ghcr.io/flaskhq/flask-api:latest"
			return o
		}, `uses tag "latest"`},
		{"untagged image", "minimal", func(o []Object, t *testing.T) []Object {
			firstContainer(podSpecOf(t, o, "Job", "flask-migrate"))["image"] = "registry.local:5000/flask-api"
			return o
		}, "has no tag"},
		{"shell", "minimal", func(o []Object, t *testing.T) []Object {
			firstContainer(podSpecOf(t, o, "Job", "flask-migrate"))["command"] = []any{"/bin/sh", "-c", "flask-api migrate"}
			return o
		}, "runs a shell"},
		{"database URL in plain env", "minimal", func(o []Object, t *testing.T) []Object {
			c := firstContainer(podSpecOf(t, o, "Deployment", "flask-api"))
			c["env"] = append(c["env"].([]any), map[string]any{"name": "FLASK_DATABASE_URL", "value": "postgres://u:p@db/flask"})
			return o
		}, "FLASK_DATABASE_URL does not come from a Secret"},
		{"secret in ConfigMap", "minimal", func(o []Object, t *testing.T) []Object {
			mustFind(t, o, "ConfigMap", "flask-config")["data"].(map[string]any)["FLASK_NATS_URL"] = "nats://user:pw@nats:4222"
			return o
		}, "FLASK_NATS_URL looks like a secret"},
		{"grace below drain", "nats", func(o []Object, t *testing.T) []Object {
			podSpecOf(t, o, "Deployment", "flask-worker-default")["terminationGracePeriodSeconds"] = 50.0 // FLASK_SHUTDOWN_GRACE 45s + 15s
			return o
		}, "is not above FLASK_SHUTDOWN_GRACE"},
		{"no preStop drain", "sqs", func(o []Object, t *testing.T) []Object {
			delete(firstContainer(podSpecOf(t, o, "ScaledJob", "flask-worker-reports")), "lifecycle")
			return o
		}, "preStop is"},
		{"GOMAXPROCS of another container", "minimal", func(o []Object, t *testing.T) []Object {
			c := firstContainer(podSpecOf(t, o, "Deployment", "flask-api"))
			for _, e := range c["env"].([]any) {
				if Get(e, "name") == "GOMAXPROCS" {
					e.(map[string]any)["valueFrom"].(map[string]any)["resourceFieldRef"].(map[string]any)["containerName"] = "worker"
				}
			}
			return o
		}, "GOMAXPROCS does not come from its limits.cpu"},
		{"SQS trigger with NATS", "nats", func(o []Object, t *testing.T) []Object {
			so := mustFind(t, o, "ScaledObject", "flask-worker-mail")
			Get(so, "spec", "triggers", 0).(map[string]any)["type"] = "aws-sqs-queue"
			return o
		}, "trigger aws-sqs-queue with broker nats"},
		{"trigger on another queue", "nats", func(o []Object, t *testing.T) []Object {
			so := mustFind(t, o, "ScaledObject", "flask-worker-mail")
			Get(so, "spec", "triggers", 0, "metadata").(map[string]any)["consumer"] = "flask-default"
			return o
		}, "triggers on consumers of [default], worker drains [mail]"},
		{"SQS trigger without pod identity", "production", func(o []Object, t *testing.T) []Object {
			mustFind(t, o, "TriggerAuthentication", "flask-sqs")["spec"] = map[string]any{"podIdentity": map[string]any{"provider": "none"}}
			return o
		}, "without a TriggerAuthentication using pod identity provider aws"},
		{"worker group without ScaledObject", "nats", func(o []Object, t *testing.T) []Object {
			var kept []Object
			for _, x := range o {
				if !(x.Kind() == "ScaledObject" && x.Name() == "flask-worker-mail") {
					kept = append(kept, x)
				}
			}
			return kept
		}, "Deployment/flask-worker-mail: a worker group without a ScaledObject"},
		{"undocumented variable", "minimal", func(o []Object, t *testing.T) []Object {
			mustFind(t, o, "ConfigMap", "flask-config")["data"].(map[string]any)["FLASK_NO_SUCH_SETTING"] = "1"
			return o
		}, "FLASK_NO_SUCH_SETTING is set by the chart but not documented"},
		{"metrics-api trigger without bearer auth", "production", func(o []Object, t *testing.T) []Object {
			tr := Get(mustFind(t, o, "ScaledObject", "flask-worker-mail"), "spec", "triggers").([]any)[0].(map[string]any)
			delete(tr["metadata"].(map[string]any), "authMode")
			return o
		}, "metrics-api trigger of queue mail without authMode bearer"},
		{"metrics-api token not from a Secret", "production", func(o []Object, t *testing.T) []Object {
			delete(mustFind(t, o, "TriggerAuthentication", "flask-metrics-api")["spec"].(map[string]any), "secretTargetRef")
			return o
		}, "without a TriggerAuthentication giving its token from a Secret"},
		{"rendered Secret", "minimal", func(o []Object, t *testing.T) []Object {
			return append(o, Object{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "x"}})
		}, "must not render Secrets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			objs := clone(t, render(t, c.values).objs)
			if v := allPolicies(t, objs); len(v) != 0 {
				t.Fatalf("the unbroken rendering already violates: %v", v)
			}
			v := allPolicies(t, c.breakIt(objs, t))
			if !strings.Contains(strings.Join(v, "\n"), c.want) {
				t.Fatalf("want a violation containing %q, got %q", c.want, v)
			}
		})
	}
}

// TestPendingVariablesExpire: the SQS variables are excused only while
// the docs name no FLASK_SQS_ variable at all.
func TestPendingVariablesExpire(t *testing.T) {
	objs := render(t, "sqs").objs
	if v := CheckDocumentedVars(objs, "FLASK_BROKER FLASK_DATABASE_URL", pendingDocs); strings.Contains(strings.Join(v, " "), "FLASK_SQS_") {
		t.Fatalf("pending SQS variables reported before the docs mention any: %v", v)
	}
	v := CheckDocumentedVars(objs, "FLASK_SQS_QUEUE_PREFIX", pendingDocs)
	if !strings.Contains(strings.Join(v, " "), "FLASK_SQS_VISIBILITY_TIMEOUT is set by the chart but not documented") {
		t.Fatalf("once one FLASK_SQS_ variable is documented every one must be: %v", v)
	}
}
