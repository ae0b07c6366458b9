package chartcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func wantEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func envOf(t *testing.T, objs []Object, kind, name, container string) map[string]string {
	t.Helper()
	for _, p := range PodTemplates(objs) {
		if p.Owner != kind+"/"+name {
			continue
		}
		for _, c := range containers(p.Spec) {
			if c["name"] == container {
				return Env(objs, c)
			}
		}
	}
	t.Fatalf("no container %s in %s/%s", container, kind, name)
	return nil
}

// TestKEDAKnobs: every ScaledObject knob ops tune reaches the object,
// including zero values (scale to zero) that a naive merge would drop.
func TestKEDAKnobs(t *testing.T) {
	t.Parallel()
	objs := renderWith(t, nil,
		"worker.groups.default.autoscaling.minReplicaCount=0",
		"worker.groups.default.autoscaling.maxReplicaCount=7",
		"worker.groups.default.autoscaling.pollingInterval=5",
		"worker.groups.default.autoscaling.cooldownPeriod=120",
		"worker.groups.default.autoscaling.initialCooldownPeriod=60",
		"worker.groups.default.autoscaling.targetBacklogPerReplica=50",
		"worker.groups.default.autoscaling.activationBacklog=3",
		"worker.groups.default.autoscaling.fallback.enabled=false",
		"worker.groups.default.autoscaling.behavior.scaleDown.stabilizationWindowSeconds=600",
		"broker.nats.account=FLASK",
		"broker.nats.monitoringEndpoint=nats-0.nats.nats:8222",
	)
	so := mustFind(t, objs, "ScaledObject", "flask-worker-default")
	spec := so["spec"].(map[string]any)
	wantEq(t, "minReplicaCount", spec["minReplicaCount"], 0)
	wantEq(t, "maxReplicaCount", spec["maxReplicaCount"], 7)
	wantEq(t, "pollingInterval", spec["pollingInterval"], 5)
	wantEq(t, "cooldownPeriod", spec["cooldownPeriod"], 120)
	wantEq(t, "initialCooldownPeriod", spec["initialCooldownPeriod"], 60)
	if _, has := spec["fallback"]; has {
		t.Errorf("fallback rendered although disabled: %v", spec["fallback"])
	}
	b := Get(spec, "advanced", "horizontalPodAutoscalerConfig", "behavior")
	wantEq(t, "scaleDown.stabilizationWindowSeconds", Get(b, "scaleDown", "stabilizationWindowSeconds"), 600)
	wantEq(t, "scaleDown policy kept from defaults", Get(b, "scaleDown", "policies", 0, "type"), "Percent")
	wantEq(t, "scaleUp.selectPolicy", Get(b, "scaleUp", "selectPolicy"), "Max")
	md := Get(spec, "triggers", 0, "metadata")
	wantEq(t, "trigger type", Get(spec, "triggers", 0, "type"), "nats-jetstream")
	wantEq(t, "lagThreshold", Get(md, "lagThreshold"), "50")
	wantEq(t, "activationLagThreshold", Get(md, "activationLagThreshold"), "3")
	wantEq(t, "account", Get(md, "account"), "FLASK")
	wantEq(t, "natsServerMonitoringEndpoint", Get(md, "natsServerMonitoringEndpoint"), "nats-0.nats.nats:8222")
	wantEq(t, "stream", Get(md, "stream"), "FLASK_JOBS")
	wantEq(t, "consumer", Get(md, "consumer"), "flask-default")

	objs = renderWith(t, nil, "worker.defaults.autoscaling.fallback.failureThreshold=5", "worker.defaults.autoscaling.fallback.replicas=4")
	so = mustFind(t, objs, "ScaledObject", "flask-worker-default")
	wantEq(t, "fallback.failureThreshold", Get(so, "spec", "fallback", "failureThreshold"), 5)
	wantEq(t, "fallback.replicas", Get(so, "spec", "fallback", "replicas"), 4)
}

// TestSQSKnobs: the aws-sqs-queue trigger and its pod-identity
// authentication, with the queue prefix derived from Terraform's URLs.
func TestSQSKnobs(t *testing.T) {
	t.Parallel()
	objs := renderWith(t, []string{ciValues(t)["terraform"]},
		"worker.groups.default.autoscaling.scaleOnInFlight=false",
		"worker.groups.default.autoscaling.targetBacklogPerReplica=30",
		"worker.groups.default.autoscaling.activationBacklog=2",
	)
	so := mustFind(t, objs, "ScaledObject", "flask-worker-default")
	tr := Get(so, "spec", "triggers", 0)
	wantEq(t, "type", Get(tr, "type"), "aws-sqs-queue")
	wantEq(t, "queueURL", Get(tr, "metadata", "queueURL"), "https://sqs.eu-west-1.amazonaws.com/123456789012/flask-prod-default")
	wantEq(t, "queueLength", Get(tr, "metadata", "queueLength"), "30")
	wantEq(t, "activationQueueLength", Get(tr, "metadata", "activationQueueLength"), "2")
	wantEq(t, "scaleOnInFlight", Get(tr, "metadata", "scaleOnInFlight"), "false")
	wantEq(t, "awsRegion", Get(tr, "metadata", "awsRegion"), "eu-west-1")
	wantEq(t, "authenticationRef", Get(tr, "authenticationRef", "name"), "flask-sqs")
	ta := mustFind(t, objs, "TriggerAuthentication", "flask-sqs")
	wantEq(t, "podIdentity.provider", Get(ta, "spec", "podIdentity", "provider"), "aws")
	wantEq(t, "podIdentity.identityOwner", Get(ta, "spec", "podIdentity", "identityOwner"), "keda")
	env := envOf(t, objs, "Deployment", "flask-worker-default", "worker")
	wantEq(t, "FLASK_BROKER", env["FLASK_BROKER"], "sqs")
	wantEq(t, "FLASK_SQS_QUEUE_PREFIX (derived)", env["FLASK_SQS_QUEUE_PREFIX"], "flask-prod")
	wantEq(t, "FLASK_SQS_CREATE_QUEUES", env["FLASK_SQS_CREATE_QUEUES"], "false")
	wantEq(t, "AWS_REGION", env["AWS_REGION"], "eu-west-1")
	if _, has := env["FLASK_NATS_URL"]; has {
		t.Error("FLASK_NATS_URL set with the SQS broker")
	}
	wantEq(t, "worker service account (Pod Identity binding)", podSpecOf(t, objs, "Deployment", "flask-worker-default")["serviceAccountName"], "flask-worker")
	wantEq(t, "API service account", podSpecOf(t, objs, "Deployment", "flask-api")["serviceAccountName"], "flask-api")

	for _, np := range []string{"flask-api", "flask-worker"} {
		if !egressTo(mustFind(t, objs, "NetworkPolicy", np), "169.254.170.23/32", 80) {
			t.Errorf("NetworkPolicy %s: no egress to the Pod Identity agent with SQS", np)
		}
	}

	objs = renderWith(t, []string{ciValues(t)["terraform"]}, "broker.sqs.queuePrefix=custom", "worker.keda.podIdentityProvider=none")
	wantEq(t, "explicit FLASK_SQS_QUEUE_PREFIX", envOf(t, objs, "Deployment", "flask-api", "api")["FLASK_SQS_QUEUE_PREFIX"], "custom")
	if find(objs, "TriggerAuthentication", "flask-sqs") != nil {
		t.Error("TriggerAuthentication rendered with podIdentityProvider none")
	}
}

// TestWithoutKEDA: fixed replicas, no KEDA objects.
func TestWithoutKEDA(t *testing.T) {
	t.Parallel()
	objs := renderWith(t, nil, "worker.keda.enabled=false", "worker.groups.default.replicas=3")
	wantEq(t, "replicas", Get(mustFind(t, objs, "Deployment", "flask-worker-default"), "spec", "replicas"), 3)
	if len(ofKind(objs, "ScaledObject"))+len(ofKind(objs, "ScaledJob")) != 0 {
		t.Error("KEDA objects rendered with worker.keda.enabled=false")
	}
	if Get(mustFind(t, objs, "Deployment", "flask-worker-default"), "spec", "replicas") == nil {
		t.Error("no replicas without KEDA")
	}
	objs = renderWith(t, nil)
	if r := Get(mustFind(t, objs, "Deployment", "flask-worker-default"), "spec", "replicas"); r != nil {
		t.Errorf("replicas %v set although KEDA owns them", r)
	}
}

// TestGraceDerivedFromDrain: terminationGracePeriodSeconds is the group's
// FLASK_SHUTDOWN_GRACE plus the margin, per group.
func TestGraceDerivedFromDrain(t *testing.T) {
	t.Parallel()
	objs := renderWith(t, nil,
		"worker.shutdownGrace=2m",
		"worker.terminationGraceMarginSeconds=25",
		"worker.groups.slow.queues[0].name=reports",
		"worker.groups.slow.shutdownGrace=1h30m",
		"api.shutdownTimeout=45s",
	)
	wantEq(t, "default group grace", podSpecOf(t, objs, "Deployment", "flask-worker-default")["terminationGracePeriodSeconds"], 145)
	wantEq(t, "default group FLASK_SHUTDOWN_GRACE", envOf(t, objs, "Deployment", "flask-worker-default", "worker")["FLASK_SHUTDOWN_GRACE"], "2m")
	wantEq(t, "slow group grace", podSpecOf(t, objs, "Deployment", "flask-worker-slow")["terminationGracePeriodSeconds"], 5425)
	wantEq(t, "slow group FLASK_SHUTDOWN_GRACE", envOf(t, objs, "Deployment", "flask-worker-slow", "worker")["FLASK_SHUTDOWN_GRACE"], "1h30m")
	wantEq(t, "slow group FLASK_QUEUES", envOf(t, objs, "Deployment", "flask-worker-slow", "worker")["FLASK_QUEUES"], "reports")
	wantEq(t, "API grace", podSpecOf(t, objs, "Deployment", "flask-api")["terminationGracePeriodSeconds"], 55)
	if v := CheckWorkerDrain(objs); len(v) != 0 {
		t.Error(v)
	}
}

// TestConfigChecksumRolls: the checksum changes with the configuration and
// only then.
func TestConfigChecksumRolls(t *testing.T) {
	t.Parallel()
	sum := func(objs []Object) any {
		return Get(mustFind(t, objs, "Deployment", "flask-worker-default"), "spec", "template", "metadata", "annotations", "checksum/config")
	}
	a, b := sum(renderWith(t, nil)), sum(renderWith(t, nil, "api.replicas=5"))
	c := sum(renderWith(t, nil, "config.logLevel=debug"))
	if a != b {
		t.Errorf("checksum changed without a config change: %v, %v", a, b)
	}
	if a == c {
		t.Errorf("checksum %v did not change with config.logLevel", a)
	}
}

// TestAPIKnobs: HPA with the requests-per-second Pods metric, fixed
// replicas without it, the Ingress, PDB.
func TestAPIKnobs(t *testing.T) {
	t.Parallel()
	objs := renderWith(t, nil,
		"api.autoscaling.requestsPerSecond.enabled=true",
		"api.autoscaling.requestsPerSecond.averageValue=150",
		"api.autoscaling.minReplicas=3",
		"api.autoscaling.behavior.scaleDown.stabilizationWindowSeconds=120",
		"ingress.enabled=true", "ingress.host=jobs.example.org",
	)
	hpa := mustFind(t, objs, "HorizontalPodAutoscaler", "flask-api")
	wantEq(t, "minReplicas", Get(hpa, "spec", "minReplicas"), 3)
	wantEq(t, "cpu target", Get(hpa, "spec", "metrics", 0, "resource", "target", "averageUtilization"), 70)
	wantEq(t, "rps metric", Get(hpa, "spec", "metrics", 1, "pods", "metric", "name"), "flask_http_requests_per_second")
	wantEq(t, "rps target", Get(hpa, "spec", "metrics", 1, "pods", "target", "averageValue"), "150")
	wantEq(t, "behavior", Get(hpa, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds"), 120)
	if r := Get(mustFind(t, objs, "Deployment", "flask-api"), "spec", "replicas"); r != nil {
		t.Errorf("API replicas %v set although the HPA owns them", r)
	}
	ing := mustFind(t, objs, "Ingress", "flask-api")
	wantEq(t, "ingressClassName", Get(ing, "spec", "ingressClassName"), "alb")
	wantEq(t, "tls host", Get(ing, "spec", "tls", 0, "hosts", 0), "jobs.example.org")
	wantEq(t, "pdb", Get(mustFind(t, objs, "PodDisruptionBudget", "flask-api"), "spec", "maxUnavailable"), 1)

	objs = renderWith(t, nil, "api.autoscaling.enabled=false", "api.replicas=4")
	wantEq(t, "replicas", Get(mustFind(t, objs, "Deployment", "flask-api"), "spec", "replicas"), 4)
	if find(objs, "HorizontalPodAutoscaler", "flask-api") != nil {
		t.Error("HPA rendered although disabled")
	}
}

// TestScaledJobMode: a job-mode group is a ScaledJob only.
func TestScaledJobMode(t *testing.T) {
	t.Parallel()
	objs := render(t, "sqs").objs
	sj := mustFind(t, objs, "ScaledJob", "flask-worker-reports")
	wantEq(t, "maxReplicaCount", Get(sj, "spec", "maxReplicaCount"), 5)
	wantEq(t, "scalingStrategy", Get(sj, "spec", "scalingStrategy", "strategy"), "accurate")
	wantEq(t, "restartPolicy", Get(sj, "spec", "jobTargetRef", "template", "spec", "restartPolicy"), "Never")
	wantEq(t, "queueLength", Get(sj, "spec", "triggers", 0, "metadata", "queueLength"), "1")
	for _, kind := range []string{"Deployment", "ScaledObject", "PodDisruptionBudget"} {
		if find(objs, kind, "flask-worker-reports") != nil {
			t.Errorf("%s rendered for a job-mode group", kind)
		}
	}
	// A Job's worker must end when its queues are empty; a Deployment's must not.
	wantEq(t, "job FLASK_EXIT_WHEN_IDLE", envOf(t, objs, "ScaledJob", "flask-worker-reports", "worker")["FLASK_EXIT_WHEN_IDLE"], "60s")
	for _, d := range ofKind(objs, "Deployment") {
		name := fmt.Sprint(Get(d, "metadata", "name"))
		if !strings.HasPrefix(name, "flask-worker-") {
			continue
		}
		if v, ok := envOf(t, objs, "Deployment", name, "worker")["FLASK_EXIT_WHEN_IDLE"]; ok {
			t.Errorf("Deployment %s sets FLASK_EXIT_WHEN_IDLE=%s: its pods would exit and restart", name, v)
		}
	}
}

// TestMigrationHook: the hook runs `flask-api migrate` from the API image
// before install and upgrade, after the ExternalSecret that writes its URL.
func TestMigrationHook(t *testing.T) {
	t.Parallel()
	objs := render(t, "production").objs
	job := mustFind(t, objs, "Job", "flask-migrate")
	wantEq(t, "hook", Get(job, "metadata", "annotations", "helm.sh/hook"), "pre-install,pre-upgrade")
	c := firstContainer(podSpecOf(t, objs, "Job", "flask-migrate"))
	wantEq(t, "args", c["args"], []any{"migrate"})
	wantEq(t, "image", c["image"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com/flask-api:1.4.2")
	es := mustFind(t, objs, "ExternalSecret", "flask-database")
	wantEq(t, "ExternalSecret hook", Get(es, "metadata", "annotations", "helm.sh/hook"), "pre-install,pre-upgrade")
	wantEq(t, "ExternalSecret before the Job", Get(es, "metadata", "annotations", "helm.sh/hook-weight"), "-10")
	wantEq(t, "URL template", Get(es, "spec", "target", "template", "data", "url"),
		"postgres://{{ .username | urlquery }}:{{ .password | urlquery }}@flask-prod.abcdefghijkl.eu-west-1.rds.amazonaws.com:5432/flask?sslmode=verify-full&sslrootcert=/etc/flask/db-ca/global-bundle.pem")
}

// egressTo reports whether a NetworkPolicy allows egress to cidr on port.
func egressTo(np Object, cidr string, port float64) bool {
	rules, _ := Get(np, "spec", "egress").([]any)
	for _, r := range rules {
		to, _ := Get(r, "to").([]any)
		ports, _ := Get(r, "ports").([]any)
		hasCIDR, hasPort := false, false
		for _, peer := range to {
			hasCIDR = hasCIDR || Get(peer, "ipBlock", "cidr") == cidr
		}
		for _, p := range ports {
			hasPort = hasPort || Get(p, "port") == port
		}
		if hasCIDR && hasPort {
			return true
		}
	}
	return false
}

// TestMetricsEndpoints: the API serves /metrics on its own port (9090,
// FLASK_METRICS_ADDR), outside the Service the Ingress uses; the
// ServiceMonitor's Services point at a named container port that exists.
func TestMetricsEndpoints(t *testing.T) {
	t.Parallel()
	objs := render(t, "nats").objs
	env := envOf(t, objs, "Deployment", "flask-api", "api")
	wantEq(t, "FLASK_METRICS_ADDR", env["FLASK_METRICS_ADDR"], ":9090")
	for _, p := range Get(mustFind(t, objs, "Service", "flask-api"), "spec", "ports").([]any) {
		if Get(p, "targetPort") != "http" {
			t.Errorf("the API Service exposes %v: only the API port belongs there", p)
		}
	}
	sm := mustFind(t, objs, "ServiceMonitor", "flask")
	wantEq(t, "ServiceMonitor port", Get(sm, "spec", "endpoints", 0, "port"), "metrics")
	found := 0
	for _, svc := range ofKind(objs, "Service") {
		if Get(svc, "metadata", "labels", "flask.dev/metrics") != "true" {
			continue
		}
		found++
		component := Get(svc, "spec", "selector", "app.kubernetes.io/component")
		target := Get(svc, "spec", "ports", 0, "targetPort")
		wantEq(t, svc.Name()+" port name", Get(svc, "spec", "ports", 0, "name"), "metrics")
		ok := false
		for _, p := range PodTemplates(objs) {
			if p.Kind != "Deployment" {
				continue
			}
			for _, c := range containers(p.Spec) {
				for _, port := range c["ports"].([]any) {
					if Get(port, "name") == target && strings.Contains(p.Owner, fmt.Sprint(component)) {
						ok = true
					}
				}
			}
		}
		if !ok {
			t.Errorf("Service %s targets port %v, which no %v container names", svc.Name(), target, component)
		}
	}
	wantEq(t, "metrics Services", found, 2)
	np := mustFind(t, objs, "NetworkPolicy", "flask-api")
	wantEq(t, "API metrics ingress port", Get(np, "spec", "ingress", 1, "ports", 0, "port"), "metrics")
}

// TestMetricsAPINetworkPolicy: with a metrics-api trigger and apiFrom set,
// the API's ingress admits networkPolicy.kedaFrom (KEDA's operator by
// default); an empty kedaFrom (KEDA already among apiFrom) adds no peer
// and still renders.
func TestMetricsAPINetworkPolicy(t *testing.T) {
	t.Parallel()
	peers := func(objs []Object) []any {
		from, _ := Get(mustFind(t, objs, "NetworkPolicy", "flask-api"), "spec", "ingress", 0, "from").([]any)
		return from
	}
	prod := ciValues(t)["production"]
	from := peers(render(t, "production").objs)
	wantEq(t, "API ingress peers", len(from), 3)
	wantEq(t, "KEDA operator peer", Get(from[2], "podSelector", "matchLabels", "app.kubernetes.io/name"), "keda-operator")

	none := filepath.Join(t.TempDir(), "no-keda-peer.yaml")
	if err := os.WriteFile(none, []byte("networkPolicy:\n  kedaFrom: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	from = peers(renderWith(t, []string{prod, none}))
	wantEq(t, "API ingress peers without kedaFrom", len(from), 2)
	wantEq(t, "first peer", Get(from[0], "ipBlock", "cidr"), "10.20.0.0/16")
}

// TestTracingHeadersFromSecret: the OTLP exporter's headers (they may hold
// a collector's credentials) reach the API and the workers from a Secret,
// not the migration hook, and are absent unless asked for.
func TestTracingHeadersFromSecret(t *testing.T) {
	t.Parallel()
	ref := func(objs []Object, kind, name string) any {
		for _, p := range PodTemplates(objs) {
			if p.Owner != kind+"/"+name {
				continue
			}
			env, _ := firstContainer(p.Spec)["env"].([]any)
			for _, e := range env {
				if Get(e, "name") == "OTEL_EXPORTER_OTLP_HEADERS" {
					return Get(e, "valueFrom", "secretKeyRef")
				}
			}
			return nil
		}
		t.Fatalf("no pod template of %s/%s", kind, name)
		return nil
	}
	objs := renderWith(t, nil, "migrations.enabled=true", "tracing.headersSecret=otel-auth", "tracing.headersSecretKey=h")
	want := map[string]any{"name": "otel-auth", "key": "h"}
	wantEq(t, "API headers", ref(objs, "Deployment", "flask-api"), want)
	wantEq(t, "worker headers", ref(objs, "Deployment", "flask-worker-default"), want)
	wantEq(t, "migration headers", ref(objs, "Job", "flask-migrate"), nil)
	objs = renderWith(t, nil)
	wantEq(t, "API headers by default", ref(objs, "Deployment", "flask-api"), nil)
}
