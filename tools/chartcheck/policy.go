package chartcheck

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DrainMargin is what `flask-worker drain` waits beyond FLASK_SHUTDOWN_GRACE
// (app/drain.go drainMargin); the pod's grace period must exceed both.
const DrainMargin = 15 * time.Second

// DrainCommand is the worker's preStop hook.
var DrainCommand = []string{"/usr/local/bin/flask-worker", "drain"}

// PodTemplate is a pod spec found in a rendered object, with where it was.
type PodTemplate struct {
	// Owner is "Kind/name" of the object holding it.
	Owner string
	// Kind of the owner.
	Kind string
	// Spec is the pod spec.
	Spec map[string]any
	// Annotations of the pod template (nil for a bare Pod's own).
	Annotations map[string]any
	// LongRunning is true for Deployments: they need liveness and readiness probes.
	LongRunning bool
}

// PodTemplates returns every pod spec in the objects: Deployments, Jobs,
// KEDA ScaledJobs and bare Pods.
func PodTemplates(objs []Object) []PodTemplate {
	var out []PodTemplate
	for _, o := range objs {
		owner := o.Kind() + "/" + o.Name()
		var tpl any
		switch o.Kind() {
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			tpl = Get(o, "spec", "template")
		case "ScaledJob":
			tpl = Get(o, "spec", "jobTargetRef", "template")
		case "Pod":
			tpl = map[string]any(o)
		default:
			continue
		}
		spec, _ := Get(tpl, "spec").(map[string]any)
		ann, _ := Get(tpl, "metadata", "annotations").(map[string]any)
		out = append(out, PodTemplate{Owner: owner, Kind: o.Kind(), Spec: spec, Annotations: ann, LongRunning: o.Kind() == "Deployment"})
	}
	return out
}

func containers(spec map[string]any) []map[string]any {
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		l, _ := spec[key].([]any)
		for _, c := range l {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// CheckPodSecurity: restricted Pod Security Standard, no service account
// token, numeric non-root users.
func CheckPodSecurity(p PodTemplate) []string {
	var v []string
	if p.Spec == nil {
		return []string{p.Owner + ": no pod spec"}
	}
	psc, _ := p.Spec["securityContext"].(map[string]any)
	if Get(psc, "runAsNonRoot") != true {
		v = append(v, p.Owner+": pod securityContext.runAsNonRoot is not true")
	}
	if n, ok := Get(psc, "runAsUser").(float64); !ok || n == 0 {
		v = append(v, p.Owner+": pod securityContext.runAsUser is not a non-zero number")
	}
	if Get(psc, "seccompProfile", "type") != "RuntimeDefault" {
		v = append(v, p.Owner+": pod seccompProfile is not RuntimeDefault")
	}
	if p.Spec["automountServiceAccountToken"] != false {
		v = append(v, p.Owner+": automountServiceAccountToken is not false")
	}
	for _, key := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if p.Spec[key] == true {
			v = append(v, p.Owner+": "+key+" is set")
		}
	}
	for _, c := range containers(p.Spec) {
		name := fmt.Sprintf("%s container %v", p.Owner, c["name"])
		sc, _ := c["securityContext"].(map[string]any)
		if Get(sc, "allowPrivilegeEscalation") != false {
			v = append(v, name+": allowPrivilegeEscalation is not false")
		}
		if Get(sc, "readOnlyRootFilesystem") != true {
			v = append(v, name+": readOnlyRootFilesystem is not true")
		}
		if Get(sc, "privileged") == true {
			v = append(v, name+": privileged")
		}
		if n, ok := Get(sc, "runAsUser").(float64); ok && n == 0 {
			v = append(v, name+": runs as root (runAsUser 0)")
		}
		drop, _ := Get(sc, "capabilities", "drop").([]any)
		if len(drop) != 1 || drop[0] != "ALL" {
			v = append(v, name+": capabilities.drop is not [ALL]")
		}
		if add, _ := Get(sc, "capabilities", "add").([]any); len(add) > 0 {
			v = append(v, name+": adds capabilities")
		}
	}
	return v
}

// CheckResources: requests and limits of CPU and memory on every container.
func CheckResources(p PodTemplate) []string {
	var v []string
	for _, c := range containers(p.Spec) {
		for _, k := range []string{"limits", "requests"} {
			for _, r := range []string{"cpu", "memory"} {
				if Get(c, "resources", k, r) == nil {
					v = append(v, fmt.Sprintf("%s container %v: resources.%s.%s is not set", p.Owner, c["name"], k, r))
				}
			}
		}
	}
	return v
}

// CheckProbes: long-running containers have a liveness probe on /healthz and
// a readiness probe on /readyz (separate: a busy database must not restart pods).
func CheckProbes(p PodTemplate) []string {
	if !p.LongRunning {
		return nil
	}
	var v []string
	for _, c := range containers(p.Spec) {
		name := fmt.Sprintf("%s container %v", p.Owner, c["name"])
		if Get(c, "livenessProbe", "httpGet", "path") != "/healthz" {
			v = append(v, name+": livenessProbe is not GET /healthz")
		}
		if Get(c, "readinessProbe", "httpGet", "path") != "/readyz" {
			v = append(v, name+": readinessProbe is not GET /readyz")
		}
	}
	return v
}

var digestRE = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)

// CheckImages: every image pinned by tag or digest, never latest, never
// pulled Always, and no shell anywhere (the images have none).
func CheckImages(p PodTemplate) []string {
	var v []string
	for _, c := range containers(p.Spec) {
		name := fmt.Sprintf("%s container %v", p.Owner, c["name"])
		img, _ := c["image"].(string)
		if !digestRE.MatchString(img) {
			slash := strings.LastIndex(img, "/")
			colon := strings.LastIndex(img, ":")
			if colon <= slash {
				v = append(v, name+": image "+img+" has no tag")
			} else if tag := img[colon+1:]; tag == "latest" || tag == "" {
				v = append(v, name+": image "+img+" uses tag "+strconv.Quote(tag))
			}
		}
		if c["imagePullPolicy"] == "Always" {
			v = append(v, name+": imagePullPolicy Always")
		}
		var words []any
		for _, k := range []string{"command", "args"} {
			l, _ := c[k].([]any)
			words = append(words, l...)
		}
		if l, ok := Get(c, "lifecycle", "preStop", "exec", "command").([]any); ok {
			words = append(words, l...)
		}
		for _, w := range words {
			s, _ := w.(string)
			if b := s[strings.LastIndex(s, "/")+1:]; b == "sh" || b == "bash" || b == "ash" {
				v = append(v, name+": runs a shell ("+s+"): the images have none")
			}
		}
	}
	return v
}

var secretNameRE = regexp.MustCompile(`(DATABASE_URL|SECRET|PASSWORD|TOKEN|CREDENTIALS)$`)

// CheckSecretsFromSecrets: a secret-looking variable gets its value only
// through secretKeyRef; no ConfigMap holds one; the chart renders no Secret.
func CheckSecretsFromSecrets(objs []Object) []string {
	var v []string
	for _, o := range objs {
		switch o.Kind() {
		case "Secret":
			v = append(v, "Secret/"+o.Name()+": the chart must not render Secrets (use existing ones)")
		case "ConfigMap":
			data, _ := o["data"].(map[string]any)
			for k, val := range data {
				s, _ := val.(string)
				if secretNameRE.MatchString(k) || regexp.MustCompile(`://[^/\s]*:[^/\s]*@`).MatchString(s) {
					v = append(v, fmt.Sprintf("ConfigMap/%s: %s looks like a secret", o.Name(), k))
				}
			}
		}
	}
	for _, p := range PodTemplates(objs) {
		for _, c := range containers(p.Spec) {
			env, _ := c["env"].([]any)
			for _, e := range env {
				name, _ := Get(e, "name").(string)
				if !secretNameRE.MatchString(name) {
					continue
				}
				if Get(e, "valueFrom", "secretKeyRef", "name") == nil {
					v = append(v, fmt.Sprintf("%s container %v: %s does not come from a Secret", p.Owner, c["name"], name))
				}
			}
		}
	}
	return v
}

// Env returns a container's literal env values, with ConfigMap values
// from envFrom underneath.
func Env(objs []Object, c map[string]any) map[string]string {
	out := map[string]string{}
	from, _ := c["envFrom"].([]any)
	for _, f := range from {
		if name, ok := Get(f, "configMapRef", "name").(string); ok {
			if cm := findObj(objs, "ConfigMap", name); cm != nil {
				data, _ := cm["data"].(map[string]any)
				for k, val := range data {
					out[k], _ = val.(string)
				}
			}
		}
	}
	env, _ := c["env"].([]any)
	for _, e := range env {
		name, _ := Get(e, "name").(string)
		if val, ok := Get(e, "value").(string); ok {
			out[name] = val
		} else {
			out[name] = ""
		}
	}
	return out
}

func findObj(objs []Object, kind, name string) Object {
	for _, o := range objs {
		if o.Kind() == kind && o.Name() == name {
			return o
		}
	}
	return nil
}

// CheckWorkerDrain: every worker pod drains in preStop with
// `flask-worker drain`, and its grace period exceeds FLASK_SHUTDOWN_GRACE
// plus the drain's own margin, so Kubernetes never kills a job that is being
// handed back.
func CheckWorkerDrain(objs []Object) []string {
	var v []string
	for _, p := range PodTemplates(objs) {
		for _, c := range containers(p.Spec) {
			if c["name"] != "worker" {
				continue
			}
			name := p.Owner + " container worker"
			cmd, _ := Get(c, "lifecycle", "preStop", "exec", "command").([]any)
			if fmt.Sprint(cmd) != fmt.Sprint(toAny(DrainCommand)) {
				v = append(v, fmt.Sprintf("%s: preStop is %v, want exec %v", name, cmd, DrainCommand))
			}
			env := Env(objs, c)
			grace, err := time.ParseDuration(env["FLASK_SHUTDOWN_GRACE"])
			if err != nil {
				v = append(v, fmt.Sprintf("%s: FLASK_SHUTDOWN_GRACE %q: %v", name, env["FLASK_SHUTDOWN_GRACE"], err))
				continue
			}
			tgps, ok := p.Spec["terminationGracePeriodSeconds"].(float64)
			if !ok {
				v = append(v, p.Owner+": terminationGracePeriodSeconds is not set")
				continue
			}
			if time.Duration(tgps)*time.Second <= grace+DrainMargin {
				v = append(v, fmt.Sprintf("%s: terminationGracePeriodSeconds %v is not above FLASK_SHUTDOWN_GRACE %v + drain margin %v", p.Owner, tgps, grace, DrainMargin))
			}
		}
	}
	return v
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// CheckRuntime: GOMAXPROCS follows the container's own CPU limit, pods of
// Deployments roll on config change, and spread across zones.
func CheckRuntime(objs []Object) []string {
	var v []string
	for _, p := range PodTemplates(objs) {
		for _, c := range containers(p.Spec) {
			if c["name"] == "readyz" { // the helm test pod is not a Go program
				continue
			}
			found := false
			env, _ := c["env"].([]any)
			for _, e := range env {
				if Get(e, "name") == "GOMAXPROCS" {
					found = Get(e, "valueFrom", "resourceFieldRef", "resource") == "limits.cpu" &&
						Get(e, "valueFrom", "resourceFieldRef", "containerName") == c["name"]
				}
			}
			if !found {
				v = append(v, fmt.Sprintf("%s container %v: GOMAXPROCS does not come from its limits.cpu", p.Owner, c["name"]))
			}
		}
		if p.Kind == "Deployment" || p.Kind == "ScaledJob" {
			if sum, _ := p.Annotations["checksum/config"].(string); len(sum) != 64 {
				v = append(v, p.Owner+": no checksum/config annotation")
			}
			zone := false
			tsc, _ := p.Spec["topologySpreadConstraints"].([]any)
			for _, c := range tsc {
				if Get(c, "topologyKey") == "topology.kubernetes.io/zone" {
					zone = true
				}
			}
			if !zone {
				v = append(v, p.Owner+": no topologySpreadConstraint across zones")
			}
		}
	}
	return v
}

// CheckKEDA: each worker Deployment is the target of one ScaledObject whose
// triggers are exactly one per queue in FLASK_QUEUES, of the broker's type:
// nats-jetstream on the queue's durable consumer flask-<queue> in the
// configured stream, or aws-sqs-queue on the queue's URL, authenticated
// through a TriggerAuthentication with AWS pod identity. ScaledJobs follow
// the same rules.
func CheckKEDA(objs []Object) []string {
	var v []string
	var broker, stream string
	queueURLs := map[string]bool{}
	for _, cm := range ofKindObjs(objs, "ConfigMap") {
		data, _ := cm["data"].(map[string]any)
		if b, ok := data["FLASK_BROKER"].(string); ok {
			broker = b
			stream, _ = data["FLASK_NATS_STREAM"].(string)
		}
	}
	if broker == "" {
		return []string{"no ConfigMap sets FLASK_BROKER"}
	}
	targets := map[string]Object{} // Deployment or ScaledJob name → object with the worker pod
	for _, p := range PodTemplates(objs) {
		for _, c := range containers(p.Spec) {
			if c["name"] == "worker" {
				targets[p.Owner] = nil
			}
		}
	}
	scaled := map[string]bool{}
	check := func(owner string, triggers []any, podOwner string) {
		scaled[podOwner] = true
		var c map[string]any
		for _, p := range PodTemplates(objs) {
			if p.Owner == podOwner {
				for _, x := range containers(p.Spec) {
					if x["name"] == "worker" {
						c = x
					}
				}
			}
		}
		if c == nil {
			v = append(v, fmt.Sprintf("%s targets %s, which runs no worker", owner, podOwner))
			return
		}
		var queues []string
		for _, q := range strings.Split(Env(objs, c)["FLASK_QUEUES"], ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(q), ":")
			queues = append(queues, name)
		}
		sort.Strings(queues)
		var got []string
		for _, tr := range triggers {
			typ, _ := Get(tr, "type").(string)
			md, _ := Get(tr, "metadata").(map[string]any)
			if typ == "metrics-api" {
				if q, ok := checkMetricsAPITrigger(objs, owner, tr, md, &v); ok {
					got = append(got, q)
				}
				continue
			}
			switch broker {
			case "nats":
				if typ != "nats-jetstream" {
					v = append(v, fmt.Sprintf("%s: trigger %s with broker nats", owner, typ))
					continue
				}
				if md["stream"] != stream {
					v = append(v, fmt.Sprintf("%s: trigger stream %v, FLASK_NATS_STREAM is %s", owner, md["stream"], stream))
				}
				for _, k := range []string{"natsServerMonitoringEndpoint", "account", "lagThreshold", "activationLagThreshold"} {
					if s, _ := md[k].(string); s == "" {
						v = append(v, fmt.Sprintf("%s: nats-jetstream trigger without %s", owner, k))
					}
				}
				consumer, _ := md["consumer"].(string)
				got = append(got, strings.TrimPrefix(consumer, "flask-"))
				if !strings.HasPrefix(consumer, "flask-") {
					v = append(v, fmt.Sprintf("%s: consumer %q is not flask-<queue>", owner, consumer))
				}
			case "sqs":
				if typ != "aws-sqs-queue" {
					v = append(v, fmt.Sprintf("%s: trigger %s with broker sqs", owner, typ))
					continue
				}
				url, _ := md["queueURL"].(string)
				queueURLs[url] = true
				got = append(got, url[strings.LastIndex(url, "/")+1:])
				for _, k := range []string{"queueLength", "activationQueueLength", "scaleOnInFlight", "awsRegion"} {
					if s, _ := md[k].(string); s == "" {
						v = append(v, fmt.Sprintf("%s: aws-sqs-queue trigger without %s", owner, k))
					}
				}
				ref, _ := Get(tr, "authenticationRef", "name").(string)
				ta := findObj(objs, "TriggerAuthentication", ref)
				if ta == nil || Get(ta, "spec", "podIdentity", "provider") != "aws" {
					v = append(v, fmt.Sprintf("%s: aws-sqs-queue trigger without a TriggerAuthentication using pod identity provider aws", owner))
				}
			default:
				v = append(v, "unknown broker "+broker)
			}
		}
		if broker == "sqs" {
			// SQS queue names carry a prefix: match by suffix.
			matched := 0
			for _, q := range queues {
				for _, g := range got {
					if strings.HasSuffix(g, "-"+q) || g == q {
						matched++
						break
					}
				}
			}
			if matched != len(queues) || len(got) != len(queues) {
				v = append(v, fmt.Sprintf("%s: SQS triggers %v do not match the queues %v", owner, got, queues))
			}
			return
		}
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(queues) {
			v = append(v, fmt.Sprintf("%s: triggers on consumers of %v, worker drains %v", owner, got, queues))
		}
	}
	for _, so := range ofKindObjs(objs, "ScaledObject") {
		target, _ := Get(so, "spec", "scaleTargetRef", "name").(string)
		triggers, _ := Get(so, "spec", "triggers").([]any)
		check("ScaledObject/"+so.Name(), triggers, "Deployment/"+target)
	}
	for _, sj := range ofKindObjs(objs, "ScaledJob") {
		triggers, _ := Get(sj, "spec", "triggers").([]any)
		check("ScaledJob/"+sj.Name(), triggers, "ScaledJob/"+sj.Name())
	}
	kedaOn := len(ofKindObjs(objs, "ScaledObject"))+len(ofKindObjs(objs, "ScaledJob")) > 0
	if kedaOn {
		for owner := range targets {
			if !scaled[owner] {
				v = append(v, owner+": a worker group without a ScaledObject")
			}
		}
	}
	return v
}

func ofKindObjs(objs []Object, kind string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Kind() == kind {
			out = append(out, o)
		}
	}
	return out
}

var flaskVarRE = regexp.MustCompile(`FLASK_[A-Z0-9_]+`)

// CheckDocumentedVars: every FLASK_* variable the chart sets is listed in
// docs/configuration.md. pending maps variables another change is adding to
// their family (a prefix such as "FLASK_SQS_"): one is excused only while
// the documentation mentions nothing of its family; once it documents one,
// it must document all.
func CheckDocumentedVars(objs []Object, docs string, pending map[string]string) []string {
	documented := map[string]bool{}
	for _, m := range flaskVarRE.FindAllString(docs, -1) {
		documented[m] = true
	}
	used := map[string]bool{}
	for _, cm := range ofKindObjs(objs, "ConfigMap") {
		data, _ := cm["data"].(map[string]any)
		for k := range data {
			used[k] = true
		}
	}
	for _, p := range PodTemplates(objs) {
		for _, c := range containers(p.Spec) {
			env, _ := c["env"].([]any)
			for _, e := range env {
				if n, _ := Get(e, "name").(string); n != "" {
					used[n] = true
				}
			}
		}
	}
	var v []string
	for n := range used {
		if !strings.HasPrefix(n, "FLASK_") || documented[n] {
			continue
		}
		if family, ok := pending[n]; ok && !strings.Contains(docs, family) {
			continue
		}
		v = append(v, n+" is set by the chart but not documented in docs/configuration.md")
	}
	sort.Strings(v)
	return v
}

// checkMetricsAPITrigger: a metrics-api trigger reads the API's
// /v1/stats/queues/{queue} with a bearer token from a TriggerAuthentication
// whose token comes from a Secret. It returns the trigger's queue.
func checkMetricsAPITrigger(objs []Object, owner string, tr any, md map[string]any, v *[]string) (string, bool) {
	url, _ := md["url"].(string)
	_, q, ok := strings.Cut(url, "/v1/stats/queues/")
	if !ok || q == "" || strings.Contains(q, "/") {
		*v = append(*v, fmt.Sprintf("%s: metrics-api url %q is not the API's /v1/stats/queues/{queue}", owner, url))
		return "", false
	}
	if md["authMode"] != "bearer" {
		*v = append(*v, fmt.Sprintf("%s: metrics-api trigger of queue %s without authMode bearer", owner, q))
	}
	if md["valueLocation"] != "backlog" && md["valueLocation"] != "queued" {
		*v = append(*v, fmt.Sprintf("%s: metrics-api valueLocation %v is not backlog or queued", owner, md["valueLocation"]))
	}
	name, _ := Get(tr, "authenticationRef", "name").(string)
	ta := findObj(objs, "TriggerAuthentication", name)
	refs, _ := Get(ta, "spec", "secretTargetRef").([]any)
	token := false
	for _, r := range refs {
		if Get(r, "parameter") == "token" && Get(r, "name") != nil && Get(r, "key") != nil {
			token = true
		}
	}
	if !token {
		*v = append(*v, fmt.Sprintf("%s: metrics-api trigger of queue %s without a TriggerAuthentication giving its token from a Secret", owner, q))
	}
	return q, true
}
