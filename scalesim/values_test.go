package scalesim

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const chartDir = "../deploy/helm/flask"

func readValuesFile(t *testing.T, path string) Values {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	v, err := ParseValues(path, data)
	require.NoError(t, err)
	return v
}

// The chart's real values.yaml parses and gives the rules the simulator
// assumes when no file is given (ChartDefaults, DefaultRules).
func TestChartValuesMatchDefaults(t *testing.T) {
	t.Parallel()
	chart := readValuesFile(t, filepath.Join(chartDir, "values.yaml"))
	fromChart, g, q, err := chart.Rules("", "", DefaultRules())
	require.NoError(t, err)
	require.Equal(t, "default", g)
	require.Equal(t, "default", q)
	fromConst, _, _, err := ChartDefaults().Rules("", "", DefaultRules())
	require.NoError(t, err)
	require.Equal(t, fromChart, fromConst)
	require.Equal(t, DefaultRules(), fromChart)
}

func TestChartExamples(t *testing.T) {
	t.Parallel()
	chart := readValuesFile(t, filepath.Join(chartDir, "values.yaml"))
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		v := chart.Merge(readValuesFile(t, f))
		for _, g := range v.Groups() {
			_, _, _, err := v.Rules(g, "", DefaultRules())
			require.NoError(t, err, "%s group %s", f, g)
		}
	}
	get := func(file, group string) Rules {
		v := chart.Merge(readValuesFile(t, filepath.Join(chartDir, "ci", file)))
		r, _, _, err := v.Rules(group, "", DefaultRules())
		require.NoError(t, err)
		return r
	}
	r := get("nats-values.yaml", "default")
	require.Equal(t, TriggerNATS, r.Trigger)
	require.Equal(t, []any{0, 20, 400.0, 5.0, 200, 45}, []any{r.Min, r.Max, r.Target, r.Activation, r.Concurrency, r.DrainGrace})
	// mail's queue has no concurrency of its own: the group's 5.
	r = get("nats-values.yaml", "mail")
	require.Equal(t, []any{1, 4, 10.0, 5}, []any{r.Min, r.Max, r.Target, r.Concurrency})
	r = get("production-values.yaml", "default")
	require.Equal(t, TriggerSQS, r.Trigger)
	// pollingInterval 10 comes from worker.defaults, the rest from the group.
	require.Equal(t, []any{2, 40, 1000.0, 10, 500, 120}, []any{r.Min, r.Max, r.Target, r.PollingInterval, r.Concurrency, r.DrainGrace})
	r = get("production-values.yaml", "mail")
	require.Equal(t, []any{0, 5, 600, 50.0, 10.0, 20}, []any{r.Min, r.Max, r.CooldownPeriod, r.Target, r.Activation, r.Concurrency})

	// ScaledJob groups are refused with the reason.
	v := chart.Merge(readValuesFile(t, filepath.Join(chartDir, "ci", "sqs-values.yaml")))
	_, _, _, err = v.Rules("reports", "", DefaultRules())
	require.ErrorContains(t, err, "worker.groups.reports: mode job")
	require.Equal(t, []string{"default"}, v.Groups())
}

func TestValuesErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ yaml, want string }{
		{"worker:\n  groups:\n    default:\n      autoscaling:\n        pollingIntervall: 5\n", "unknown key worker.groups.default.autoscaling.pollingIntervall"},
		{"worker:\n  defaults:\n    autoscaling:\n      behavior:\n        scaleUp:\n          policies:\n            - type: Pods\n              valu: 4\n", "unknown key worker.defaults.autoscaling.behavior.scaleUp.policies[0].valu"},
		{"worker:\n  kdea: {}\n", "unknown key worker.kdea"},
		{"worker: [1]\n", "worker: want a map"},
		{"- a\n", "want a map of values"},
		{"worker: {\n", "yaml"},
	} {
		_, err := ParseValues("f.yaml", []byte(c.yaml))
		require.ErrorContains(t, err, c.want, c.yaml)
		require.ErrorContains(t, err, "f.yaml")
	}
	// Wrong types are named with their path when read.
	v, err := ParseValues("f.yaml", []byte("worker:\n  groups:\n    default:\n      autoscaling:\n        maxReplicaCount: ten\n"))
	require.NoError(t, err)
	_, _, _, err = ChartDefaults().Merge(v).Rules("", "", DefaultRules())
	require.ErrorContains(t, err, "worker.groups.default.autoscaling.maxReplicaCount: want a whole number")
	_, _, _, err = ChartDefaults().Rules("nope", "", DefaultRules())
	require.ErrorContains(t, err, "worker.groups.nope: no such group")
	_, _, _, err = ChartDefaults().Rules("", "nope", DefaultRules())
	require.ErrorContains(t, err, `no queue "nope"`)
	// Other parts of the chart are not the simulator's to check.
	_, err = ParseValues("f.yaml", []byte("api:\n  whatever: 1\nmonitoring:\n  prometheusRule:\n    enabled: true\n"))
	require.NoError(t, err)
}

func TestValuesMergeAndTriggers(t *testing.T) {
	t.Parallel()
	parse := func(s string) Values {
		v, err := ParseValues("f.yaml", []byte(s))
		require.NoError(t, err)
		return v
	}
	rules := func(v Values) Rules {
		r, _, _, err := ChartDefaults().Merge(v).Rules("", "", DefaultRules())
		require.NoError(t, err)
		return r
	}
	// Later files win; lists replace; maps merge.
	a := parse("worker:\n  defaults:\n    autoscaling:\n      maxReplicaCount: 30\n      behavior:\n        scaleDown:\n          stabilizationWindowSeconds: 600\n")
	b := parse("worker:\n  defaults:\n    autoscaling:\n      maxReplicaCount: 40\n")
	r := rules(a.Merge(b))
	require.Equal(t, 40, r.Max)
	require.Equal(t, 600, r.Behavior.ScaleDown.StabilizationWindowSeconds)
	require.Equal(t, []Policy{{PolicyPercent, 50, 60}}, r.Behavior.ScaleDown.Policies, "the chart's policies stay")
	// behavior: null renders none: the HPA's legacy rules.
	r = rules(parse("worker:\n  defaults:\n    autoscaling:\n      behavior: null\n"))
	require.Equal(t, Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown(), Unset: true}, r.Behavior)
	// The trigger: the broker's scaler after broker.type, or metrics-api
	// on the group, counting running jobs unless valueLocation is queued.
	require.Equal(t, TriggerSQS, rules(parse("broker:\n  type: sqs\n")).Trigger)
	r = rules(parse("worker:\n  groups:\n    default:\n      autoscaling:\n        trigger: metrics-api\n"))
	require.Equal(t, TriggerMetricsAPI, r.Trigger)
	require.True(t, r.ScaleOnInFlight, "valueLocation backlog (the default) counts running jobs")
	r = rules(parse("worker:\n  keda:\n    metricsApi:\n      valueLocation: queued\n  groups:\n    default:\n      autoscaling:\n        trigger: metrics-api\n"))
	require.False(t, r.ScaleOnInFlight, "valueLocation queued leaves running jobs out")
	require.Equal(t, TriggerSQS, rules(parse("broker:\n  type: sqs\nworker:\n  groups:\n    default:\n      autoscaling:\n        trigger: broker\n")).Trigger)
	_, _, _, err := ChartDefaults().Merge(parse("worker:\n  groups:\n    default:\n      autoscaling:\n        trigger: cpu\n")).Rules("", "", DefaultRules())
	require.ErrorContains(t, err, "worker.groups.default.autoscaling.trigger")
}

func TestValuesTolerance(t *testing.T) {
	t.Parallel()
	// The chart's schema takes behavior.<direction>.tolerance as a number or
	// a string (a Kubernetes quantity); the simulator used to accept the key
	// and ignore it.
	v, err := ParseValues("t.yaml", []byte("worker:\n  defaults:\n    autoscaling:\n      behavior:\n        scaleUp:\n          tolerance: 0\n        scaleDown:\n          tolerance: \"50m\"\n"))
	require.NoError(t, err)
	r, _, _, err := ChartDefaults().Merge(v).Rules("", "", DefaultRules())
	require.NoError(t, err)
	require.Equal(t, 0.0, r.upTolerance())
	require.Equal(t, 0.05, r.downTolerance())
	v, err = ParseValues("t.yaml", []byte("worker:\n  defaults:\n    autoscaling:\n      behavior:\n        scaleDown:\n          tolerance: lots\n"))
	require.NoError(t, err)
	_, _, _, err = ChartDefaults().Merge(v).Rules("", "", DefaultRules())
	require.ErrorContains(t, err, "autoscaling.behavior.scaleDown.tolerance: want")
}

// A key the chart's schema rejects is rejected here too: the chart renders
// no idleReplicaCount (only the --idle flag sets it).
func TestValuesRejectIdleReplicaCount(t *testing.T) {
	t.Parallel()
	_, err := ParseValues("x.yaml", []byte("worker:\n  defaults:\n    autoscaling:\n      idleReplicaCount: 0\n"))
	require.ErrorContains(t, err, "worker.defaults.autoscaling.idleReplicaCount")
}
