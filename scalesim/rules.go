package scalesim

import (
	"fmt"
	"math"
)

// Trigger is the kind of KEDA trigger, which decides what the metric counts.
type Trigger string

// The trigger kinds the chart renders.
const (
	// TriggerNATS is nats-jetstream: lag = num_pending + num_ack_pending,
	// so queued and running jobs.
	TriggerNATS Trigger = "nats-jetstream"
	// TriggerSQS is aws-sqs-queue: ApproximateNumberOfMessages, plus the
	// in-flight messages (ApproximateNumberOfMessagesNotVisible) with
	// scaleOnInFlight.
	TriggerSQS Trigger = "aws-sqs-queue"
	// TriggerMetricsAPI is metrics-api reading Flask's stats endpoint:
	// backlog = queued + running.
	TriggerMetricsAPI Trigger = "metrics-api"
)

// ParseTrigger accepts the chart's and KEDA's names of a trigger kind:
// nats, nats-jetstream, sqs, aws-sqs-queue, metrics-api.
func ParseTrigger(s string) (Trigger, error) {
	switch s {
	case "nats", "nats-jetstream":
		return TriggerNATS, nil
	case "sqs", "aws-sqs-queue":
		return TriggerSQS, nil
	case "metrics-api", "metricsApi", "metrics":
		return TriggerMetricsAPI, nil
	}
	return "", fmt.Errorf("trigger %q: use nats, sqs or metrics-api", s)
}

// PolicyType is an HPA scaling policy's type.
type PolicyType string

// The HPA's policy types.
const (
	PolicyPods    PolicyType = "Pods"
	PolicyPercent PolicyType = "Percent"
)

// Policy limits how many pods one direction may add or remove per period.
type Policy struct {
	Type          PolicyType
	Value         int
	PeriodSeconds int
}

// SelectPolicy picks among several policies: Max (the largest change, the
// HPA's default), Min (the smallest) or Disabled (no scaling that way).
type SelectPolicy string

// The HPA's selectPolicy values.
const (
	SelectMax      SelectPolicy = "Max"
	SelectMin      SelectPolicy = "Min"
	SelectDisabled SelectPolicy = "Disabled"
)

// ScalingRules is one direction of the HPA behavior.
type ScalingRules struct {
	// StabilizationWindowSeconds: how far back recommendations count.
	StabilizationWindowSeconds int
	Policies                   []Policy
	Select                     SelectPolicy
	// Tolerance is this direction's tolerance (Kubernetes 1.33+ with the
	// HPAConfigurableTolerance feature gate); nil: Rules.Tolerance.
	Tolerance *float64
}

// Behavior is the HPA behavior: scale-up and scale-down rules.
type Behavior struct {
	ScaleUp, ScaleDown ScalingRules
	// Unset is an HPA without spec.behavior (the chart's behavior: null):
	// the controller then skips ScaleUp and ScaleDown for its older
	// normalizeDesiredReplicas: the highest recommendation of the last
	// 300 s (--horizontal-pod-autoscaler-downscale-stabilization), then at
	// most max(2 × current, 4) replicas, no scale-down rate limit.
	Unset bool
}

// DefaultScaleUp is Kubernetes' scale-up rule for a behavior that leaves
// scaleUp out: no stabilization, the larger of +100 % and +4 pods per 15 s.
func DefaultScaleUp() ScalingRules {
	return ScalingRules{
		StabilizationWindowSeconds: 0,
		Policies:                   []Policy{{PolicyPercent, 100, 15}, {PolicyPods, 4, 15}},
		Select:                     SelectMax,
	}
}

// DefaultScaleDown is Kubernetes' scale-down rule for a behavior that
// leaves scaleDown out: a 300 s window, then every pod may go within 15 s
// (100 %).
func DefaultScaleDown() ScalingRules {
	return ScalingRules{
		StabilizationWindowSeconds: 300,
		Policies:                   []Policy{{PolicyPercent, 100, 15}},
		Select:                     SelectMax,
	}
}

// Rules are a worker group's scaling rules and the pod facts the simulation
// needs. Durations are whole seconds.
type Rules struct {
	Trigger Trigger
	// Target is the AverageValue target: backlog per replica
	// (targetBacklogPerReplica; NATS lagThreshold, SQS queueLength).
	Target float64
	// Activation: KEDA is active when the metric is above it.
	Activation float64
	// ScaleOnInFlight counts running jobs in the metric: SQS's in-flight
	// messages (scaleOnInFlight), metrics-api's backlog rather than queued
	// (valueLocation). NATS's lag always counts them.
	ScaleOnInFlight bool
	Min, Max        int
	// Idle is idleReplicaCount; -1 when unset.
	Idle                  int
	PollingInterval       int
	CooldownPeriod        int
	InitialCooldownPeriod int
	Behavior              Behavior
	// HPASyncPeriod is the HPA controller's sync period (15 s).
	HPASyncPeriod int
	// Tolerance is the HPA controller's tolerance around ratio 1 (0.1),
	// for each direction whose behavior sets none.
	Tolerance float64
	// Startup is how long a new pod takes to become ready.
	Startup int
	// Concurrency is the jobs one pod runs at once from this queue.
	Concurrency int
	// DrainGrace is how long a removed pod's running jobs may finish
	// (shutdownGrace) before they are handed back.
	DrainGrace int
	// MetricLag is how stale the metric is when the scalers read it.
	MetricLag int
}

// DefaultRules are the chart's defaults (deploy/helm/flask/values.yaml) for
// the default group on NATS, and Kubernetes' own HPA settings.
func DefaultRules() Rules {
	return Rules{
		Trigger:         TriggerNATS,
		Target:          20,
		Activation:      0,
		ScaleOnInFlight: true,
		Min:             1,
		Max:             10,
		Idle:            -1,
		PollingInterval: 15,
		CooldownPeriod:  300,
		Behavior: Behavior{
			ScaleUp: ScalingRules{StabilizationWindowSeconds: 0, Select: SelectMax,
				Policies: []Policy{{PolicyPercent, 100, 15}, {PolicyPods, 4, 15}}},
			ScaleDown: ScalingRules{StabilizationWindowSeconds: 300, Select: SelectMax,
				Policies: []Policy{{PolicyPercent, 50, 60}}},
		},
		HPASyncPeriod: 15,
		Tolerance:     0.1,
		Startup:       10,
		Concurrency:   20,
		DrainGrace:    30,
	}
}

// Validate says what is wrong with the rules, naming the knob.
func (r Rules) Validate() error {
	switch {
	case r.Trigger != TriggerNATS && r.Trigger != TriggerSQS && r.Trigger != TriggerMetricsAPI:
		return fmt.Errorf("trigger %q: use nats, sqs or metrics-api", r.Trigger)
	case !(r.Target > 0) || math.IsInf(r.Target, 0):
		return fmt.Errorf("target %v: must be above 0", r.Target)
	case r.Activation < 0 || math.IsNaN(r.Activation) || math.IsInf(r.Activation, 0):
		return fmt.Errorf("activation %v: must be 0 or more", r.Activation)
	case r.Min < 0:
		return fmt.Errorf("min %d: must be 0 or more", r.Min)
	case r.Max < 1 || r.Max > MaxReplicas:
		return fmt.Errorf("max %d: must be 1 to %d", r.Max, MaxReplicas)
	case r.Min > r.Max:
		return fmt.Errorf("min %d is above max %d", r.Min, r.Max)
	case r.Idle > 0:
		return fmt.Errorf("idle %d: KEDA supports only 0 as idleReplicaCount (other values make the HPA and KEDA fight)", r.Idle)
	case r.Idle >= 0 && r.Idle >= r.Min:
		return fmt.Errorf("idle %d: must be below min %d (KEDA's idleReplicaCount)", r.Idle, r.Min)
	case r.PollingInterval < 1:
		return fmt.Errorf("polling %d: must be at least 1 s", r.PollingInterval)
	case r.CooldownPeriod < 0 || r.InitialCooldownPeriod < 0:
		return fmt.Errorf("cooldown %d, initial cooldown %d: must be 0 or more", r.CooldownPeriod, r.InitialCooldownPeriod)
	case r.HPASyncPeriod < 1:
		return fmt.Errorf("hpa-sync %d: must be at least 1 s", r.HPASyncPeriod)
	case r.Tolerance < 0 || r.Tolerance >= 1:
		return fmt.Errorf("tolerance %v: must be 0 to below 1", r.Tolerance)
	case r.Startup < 0 || r.DrainGrace < 0 || r.MetricLag < 0:
		return fmt.Errorf("startup %d, drain-grace %d, metric-lag %d: must be 0 or more", r.Startup, r.DrainGrace, r.MetricLag)
	case r.Concurrency < 1 || r.Concurrency > 100000:
		return fmt.Errorf("concurrency %d: must be 1 to 100000", r.Concurrency)
	}
	for _, d := range []struct {
		name string
		s    int
	}{{"polling", r.PollingInterval}, {"cooldown", r.CooldownPeriod}, {"initial cooldown", r.InitialCooldownPeriod},
		{"hpa-sync", r.HPASyncPeriod}, {"startup", r.Startup}, {"drain-grace", r.DrainGrace}, {"metric-lag", r.MetricLag}} {
		if d.s > MaxSeconds {
			return fmt.Errorf("%s %d: at most %d s", d.name, d.s, MaxSeconds)
		}
	}
	for _, d := range []struct {
		name string
		r    ScalingRules
	}{{"scaleUp", r.Behavior.ScaleUp}, {"scaleDown", r.Behavior.ScaleDown}} {
		if d.r.StabilizationWindowSeconds < 0 || d.r.StabilizationWindowSeconds > 3600 {
			return fmt.Errorf("%s.stabilizationWindowSeconds %d: must be 0 to 3600", d.name, d.r.StabilizationWindowSeconds)
		}
		if d.r.Select != SelectMax && d.r.Select != SelectMin && d.r.Select != SelectDisabled {
			return fmt.Errorf("%s.selectPolicy %q: use Max, Min or Disabled", d.name, d.r.Select)
		}
		if tol := d.r.Tolerance; tol != nil && !(*tol >= 0 && *tol < 1) {
			return fmt.Errorf("%s.tolerance %v: must be 0 to below 1", d.name, *tol)
		}
		if len(d.r.Policies) == 0 && d.r.Select != SelectDisabled {
			return fmt.Errorf("%s.policies: at least one policy (or selectPolicy Disabled)", d.name)
		}
		for i, p := range d.r.Policies {
			if p.Type != PolicyPods && p.Type != PolicyPercent {
				return fmt.Errorf("%s.policies[%d].type %q: use Pods or Percent", d.name, i, p.Type)
			}
			if p.Value < 1 {
				return fmt.Errorf("%s.policies[%d].value %d: must be above 0", d.name, i, p.Value)
			}
			if p.PeriodSeconds < 1 || p.PeriodSeconds > 1800 {
				return fmt.Errorf("%s.policies[%d].periodSeconds %d: must be 1 to 1800", d.name, i, p.PeriodSeconds)
			}
		}
	}
	return nil
}

// upTolerance and downTolerance are the tolerances the HPA applies above
// and below ratio 1.
func (r Rules) upTolerance() float64   { return tolerance(r.Behavior.ScaleUp, r.Tolerance) }
func (r Rules) downTolerance() float64 { return tolerance(r.Behavior.ScaleDown, r.Tolerance) }

func tolerance(s ScalingRules, controller float64) float64 {
	if s.Tolerance != nil {
		return *s.Tolerance
	}
	return controller
}

// MaxReplicas bounds maxReplicaCount so a run stays small.
const MaxReplicas = 10000

// MaxSeconds bounds every time of the rules (polling, cooldowns, HPA sync,
// start-up, drain grace, metric lag): KEDA's and Kubernetes' fields are
// int32, and the bound keeps second and millisecond sums from wrapping.
const MaxSeconds = math.MaxInt32
