package scalesim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Values is the chart's values, merged from one or more files like
// `helm -f a.yaml -f b.yaml`: later files win, maps merge, null deletes.
type Values struct {
	tree map[string]any
}

// maxValuesBytes bounds one values file.
const maxValuesBytes = 4 << 20

// ParseValues reads one values file and checks the keys the simulator
// reads (broker.type and everything under worker), naming the path of an
// unknown key as the chart's schema does. name is for messages.
func ParseValues(name string, data []byte) (Values, error) {
	if len(data) > maxValuesBytes {
		return Values{}, fmt.Errorf("%s: larger than %d bytes", name, maxValuesBytes)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return Values{}, fmt.Errorf("%s: %w", name, err)
	}
	if doc == nil {
		return Values{tree: map[string]any{}}, nil
	}
	tree, ok := doc.(map[string]any)
	if !ok {
		return Values{}, fmt.Errorf("%s: want a map of values at the top", name)
	}
	if err := checkKeys(tree, valuesKeys, ""); err != nil {
		return Values{}, fmt.Errorf("%s: %w", name, err)
	}
	return Values{tree: tree}, nil
}

// Merge returns v overlaid with over (over wins). Values not set in any
// file keep the chart's defaults (DefaultRules), which a test keeps equal
// to deploy/helm/flask/values.yaml.
func (v Values) Merge(over Values) Values {
	return Values{tree: mergeMaps(v.tree, over.tree)}
}

func mergeMaps(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, val := range base {
		out[k] = val
	}
	for k, val := range over {
		if val == nil {
			// helm drops the key; nil marks it dropped, so that a chart
			// default removed on purpose (behavior: null) stays removed.
			out[k] = nil
			continue
		}
		bm, ok1 := out[k].(map[string]any)
		om, ok2 := val.(map[string]any)
		if ok1 && ok2 {
			out[k] = mergeMaps(bm, om)
			continue
		}
		out[k] = val
	}
	return out
}

// Key specs: what a values map may hold.
type (
	// keys is a map with these keys only.
	keys map[string]any
	// mapOf is a map with any names, each value following the spec.
	mapOf struct{ spec any }
	// listOf is a list whose items follow the spec.
	listOf struct{ spec any }
	// free is content the simulator does not read (Kubernetes objects,
	// settings of other parts of the chart).
	free struct{}
)

// scalar is a leaf value.
var scalar any

var scalingRulesKeys = keys{
	"stabilizationWindowSeconds": scalar,
	"policies":                   listOf{keys{"type": scalar, "value": scalar, "periodSeconds": scalar}},
	"selectPolicy":               scalar,
	"tolerance":                  scalar,
}

var groupKeys = keys{
	"enabled":       scalar,
	"mode":          scalar,
	"queues":        listOf{keys{"name": scalar, "concurrency": scalar}},
	"concurrency":   scalar,
	"replicas":      scalar,
	"shutdownGrace": scalar,
	"resources":     free{},
	"autoscaling": keys{
		"trigger":                 scalar,
		"minReplicaCount":         scalar,
		"maxReplicaCount":         scalar,
		"pollingInterval":         scalar,
		"cooldownPeriod":          scalar,
		"initialCooldownPeriod":   scalar,
		"targetBacklogPerReplica": scalar,
		"activationBacklog":       scalar,
		"scaleOnInFlight":         scalar,
		"fallback":                keys{"enabled": scalar, "failureThreshold": scalar, "replicas": scalar},
		"behavior":                keys{"scaleUp": scalingRulesKeys, "scaleDown": scalingRulesKeys},
	},
	"job":            free{},
	"pdb":            free{},
	"env":            free{},
	"podAnnotations": free{},
	"nodeSelector":   free{},
	"tolerations":    free{},
	"affinity":       free{},
}

var valuesKeys = keys{
	"broker": keys{"type": scalar, "nats": free{}, "sqs": free{}},
	"worker": keys{
		"image":                         free{},
		"shutdownGrace":                 scalar,
		"terminationGraceMarginSeconds": scalar,
		"env":                           free{},
		"httpSigningSecret":             free{},
		"keda": keys{"enabled": scalar, "podIdentityProvider": scalar, "identityOwner": scalar, "awsRegion": scalar,
			"metricsApi": keys{"url": scalar, "valueLocation": scalar, "unsafeSsl": scalar, "tokenSecret": scalar, "tokenKey": scalar}},
		"defaults": groupKeys,
		"groups":   mapOf{groupKeys},
	},
}

// checkKeys walks v against spec; at the top level only broker and worker
// are checked (the rest of the chart is helm's and its schema's business).
func checkKeys(v any, spec any, path string) error {
	switch sp := spec.(type) {
	case free:
		return nil
	case nil:
		if _, isMap := v.(map[string]any); isMap {
			return fmt.Errorf("%s: want a value, not a map", path)
		}
		return nil
	case keys, mapOf:
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				return nil
			}
			return fmt.Errorf("%s: want a map", path)
		}
		for _, k := range sortedKeys(m) {
			p := join(path, k)
			sub, known := any(nil), true
			if ks, isKeys := sp.(keys); isKeys {
				sub, known = ks[k]
			} else {
				sub = sp.(mapOf).spec
			}
			if !known {
				if path == "" {
					continue
				}
				return fmt.Errorf("unknown key %s", p)
			}
			if err := checkKeys(m[k], sub, p); err != nil {
				return err
			}
		}
	case listOf:
		l, ok := v.([]any)
		if !ok {
			if v == nil {
				return nil
			}
			return fmt.Errorf("%s: want a list", path)
		}
		for i, item := range l {
			if err := checkKeys(item, sp.spec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Groups lists the enabled worker groups in deployment mode, "default"
// first, then by name.
func (v Values) Groups() []string {
	groups, _ := lookup(v.tree, "worker", "groups").(map[string]any)
	var names []string
	for name, g := range groups {
		gm, _ := g.(map[string]any)
		if g == nil || gm["enabled"] == false || (gm["mode"] != nil && gm["mode"] != "deployment") {
			continue
		}
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		if (a == "default") != (b == "default") {
			if a == "default" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return names
}

func lookup(tree map[string]any, path ...string) any {
	var cur any = tree
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

// Rules builds the scaling rules of a worker group (empty: the first of
// Groups) and one of its queues (empty: the group's first) as the chart
// renders them: worker.defaults overlaid with the group, the trigger from
// broker.type (or a "trigger" key), the concurrency of the queue.
// Settings the chart has no value for (start-up delay, HPA sync period,
// tolerance, metric lag) keep base's.
func (v Values) Rules(group, queue string, base Rules) (Rules, string, string, error) {
	r := base
	if group == "" {
		gs := v.Groups()
		if len(gs) == 0 {
			return r, "", "", errors.New("no enabled worker group in deployment mode (worker.groups)")
		}
		group = gs[0]
	}
	groups, _ := lookup(v.tree, "worker", "groups").(map[string]any)
	gv, ok := groups[group]
	if !ok {
		return r, "", "", fmt.Errorf("worker.groups.%s: no such group (have %s)", group, strings.Join(v.Groups(), ", "))
	}
	gm, _ := gv.(map[string]any)
	if mode, _ := gm["mode"].(string); mode == "job" {
		return r, "", "", fmt.Errorf("worker.groups.%s: mode job (ScaledJob) is not simulated; only deployment mode", group)
	}
	defaults, _ := lookup(v.tree, "worker", "defaults").(map[string]any)
	g := mergeMaps(defaults, gm)
	if sg, ok := lookup(v.tree, "worker", "shutdownGrace").(string); ok {
		if _, set := gm["shutdownGrace"]; !set {
			g["shutdownGrace"] = sg
		}
	}
	rd := reader{prefix: "worker.groups." + group}

	if bt, ok := lookup(v.tree, "broker", "type").(string); ok {
		t, err := ParseTrigger(bt)
		if err != nil {
			return r, "", "", fmt.Errorf("broker.type: %w", err)
		}
		r.Trigger = t
	}
	// autoscaling.trigger: broker (the broker's own scaler, above) or
	// metrics-api (the API's stats endpoint, which answers the field
	// worker.keda.metricsApi.valueLocation names: backlog counts running
	// jobs, queued does not).
	apiCountsRunning := false
	if tv, set := lookup(g, "autoscaling", "trigger").(string); set && tv != "broker" {
		if tv != "metrics-api" {
			return r, "", "", fmt.Errorf("%s.autoscaling.trigger: %q: want broker or metrics-api", rd.prefix, tv)
		}
		r.Trigger = TriggerMetricsAPI
		loc, _ := lookup(v.tree, "worker", "keda", "metricsApi", "valueLocation").(string)
		switch loc {
		case "", "backlog":
			apiCountsRunning = true
		case "queued":
		default:
			return r, "", "", fmt.Errorf("worker.keda.metricsApi.valueLocation: %q: the simulator knows backlog and queued", loc)
		}
	}

	as, _ := g["autoscaling"].(map[string]any)
	rd.num(as, "autoscaling.targetBacklogPerReplica", &r.Target)
	rd.num(as, "autoscaling.activationBacklog", &r.Activation)
	rd.boolean(as, "autoscaling.scaleOnInFlight", &r.ScaleOnInFlight)
	if r.Trigger == TriggerMetricsAPI {
		r.ScaleOnInFlight = apiCountsRunning // scaleOnInFlight is SQS's
	}
	rd.integer(as, "autoscaling.minReplicaCount", &r.Min)
	rd.integer(as, "autoscaling.maxReplicaCount", &r.Max)
	rd.integer(as, "autoscaling.pollingInterval", &r.PollingInterval)
	rd.integer(as, "autoscaling.cooldownPeriod", &r.CooldownPeriod)
	rd.integer(as, "autoscaling.initialCooldownPeriod", &r.InitialCooldownPeriod)
	switch b := as["behavior"].(type) {
	case map[string]any:
		// Helm merges maps and replaces lists: start from base's behavior
		// (the chart's) and take what the values set.
		rd.rules(b, "autoscaling.behavior.scaleUp", &r.Behavior.ScaleUp)
		rd.rules(b, "autoscaling.behavior.scaleDown", &r.Behavior.ScaleDown)
	case nil:
		if _, set := as["behavior"]; set {
			// behavior: null renders no behavior, and KEDA passes none to
			// the HPA: the controller's legacy rules (Behavior.Unset).
			r.Behavior = Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown(), Unset: true}
		}
	}
	if s, ok := g["shutdownGrace"].(string); ok {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			rd.fail("shutdownGrace", "a Go duration such as 30s")
		} else {
			r.DrainGrace = int(math.Ceil(d.Seconds()))
		}
	}
	rd.integer(g, "concurrency", &r.Concurrency)
	queues, _ := g["queues"].([]any)
	if len(queues) == 0 {
		return r, "", "", fmt.Errorf("%s.queues: the group drains no queue", rd.prefix)
	}
	found := false
	for i, q := range queues {
		qm, _ := q.(map[string]any)
		name, _ := qm["name"].(string)
		if queue == "" {
			queue = name
		}
		if name != queue {
			continue
		}
		found = true
		if qm["concurrency"] != nil {
			rd.integer(qm, fmt.Sprintf("queues[%d].concurrency", i), &r.Concurrency)
		}
		break
	}
	if !found {
		return r, "", "", fmt.Errorf("%s.queues: no queue %q", rd.prefix, queue)
	}
	if rd.err != nil {
		return r, "", "", rd.err
	}
	return r, group, queue, nil
}

// reader reads typed values, keeping the first error with its path.
type reader struct {
	prefix string
	err    error
}

func (rd *reader) fail(key, want string) {
	if rd.err == nil {
		rd.err = fmt.Errorf("%s.%s: want %s", rd.prefix, key, want)
	}
}

// last is the last element of a dotted key.
func last(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[i+1:]
	}
	return key
}

func (rd *reader) num(m map[string]any, key string, dst *float64) {
	v, ok := m[last(key)]
	if !ok || v == nil {
		return
	}
	switch n := v.(type) {
	case int:
		*dst = float64(n)
	case float64:
		*dst = n
	default:
		rd.fail(key, "a number")
	}
}

func (rd *reader) integer(m map[string]any, key string, dst *int) {
	readAs(rd, m, key, "a whole number", dst)
}

func (rd *reader) boolean(m map[string]any, key string, dst *bool) {
	readAs(rd, m, key, "true or false", dst)
}

// readAs sets dst from m's value for key when it is set and of type T.
func readAs[T any](rd *reader, m map[string]any, key, want string, dst *T) {
	v, ok := m[last(key)]
	if !ok || v == nil {
		return
	}
	t, isT := v.(T)
	if !isT {
		rd.fail(key, want)
		return
	}
	*dst = t
}

func (rd *reader) rules(b map[string]any, key string, dst *ScalingRules) {
	m, ok := b[last(key)].(map[string]any)
	if !ok {
		return
	}
	rd.integer(m, key+".stabilizationWindowSeconds", &dst.StabilizationWindowSeconds)
	if tv, set := m["tolerance"]; set && tv != nil {
		if tol, ok := quantity(tv); ok {
			dst.Tolerance = &tol
		} else {
			rd.fail(key+".tolerance", `a number or a quantity such as "0.05" or "50m"`)
		}
	}
	if s, ok := m["selectPolicy"].(string); ok {
		dst.Select = SelectPolicy(s)
	}
	if ps, ok := m["policies"].([]any); ok {
		dst.Policies = nil
		for i, p := range ps {
			pm, _ := p.(map[string]any)
			var pol Policy
			t, _ := pm["type"].(string)
			pol.Type = PolicyType(t)
			rd.integer(pm, fmt.Sprintf("%s.policies[%d].value", key, i), &pol.Value)
			rd.integer(pm, fmt.Sprintf("%s.policies[%d].periodSeconds", key, i), &pol.PeriodSeconds)
			dst.Policies = append(dst.Policies, pol)
		}
	}
}

// quantity reads a Kubernetes quantity as the chart's schema allows it
// for a tolerance: a number, or a string of a decimal with an optional
// "m" (milli) suffix.
func quantity(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case string:
		scale := 1.0
		if s, ok := strings.CutSuffix(n, "m"); ok {
			n, scale = s, 1e-3
		}
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f * scale, true
	}
	return 0, false
}

// chartDefaults are the values of deploy/helm/flask/values.yaml that the
// simulator reads; a test keeps them equal to the chart's.
const chartDefaults = `
broker:
  type: nats
worker:
  shutdownGrace: 30s
  defaults:
    concurrency: 10
    autoscaling:
      trigger: broker
      minReplicaCount: 1
      maxReplicaCount: 10
      pollingInterval: 15
      cooldownPeriod: 300
      initialCooldownPeriod: 0
      targetBacklogPerReplica: 20
      activationBacklog: 0
      scaleOnInFlight: true
      behavior:
        scaleDown:
          stabilizationWindowSeconds: 300
          policies:
            - type: Percent
              value: 50
              periodSeconds: 60
        scaleUp:
          stabilizationWindowSeconds: 0
          policies:
            - type: Percent
              value: 100
              periodSeconds: 15
            - type: Pods
              value: 4
              periodSeconds: 15
          selectPolicy: Max
  groups:
    default:
      enabled: true
      mode: deployment
      queues:
        - name: default
          concurrency: 20
`

// ChartDefaults are the chart's own values (the part the simulator reads):
// the bottom layer under the files given, as in helm.
func ChartDefaults() Values {
	v, err := ParseValues("chart defaults", []byte(chartDefaults))
	if err != nil {
		panic(err) // a constant: covered by the tests
	}
	return v
}
