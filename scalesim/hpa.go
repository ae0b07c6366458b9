package scalesim

import "math"

// MetricReplicas is the HPA's proposal for one External metric with an
// AverageValue target: ceil(metric / target), unless the usage ratio
// metric / (target × current) is within tolerance of 1, when the current
// count stays. A ratio exactly at 1 ± tolerance keeps the count, as
// Kubernetes' Tolerances.isWithin tests it: 1 − tolerance ≤ ratio ≤
// 1 + tolerance (not |1 − ratio| ≤ tolerance, which floating point makes
// false at 1.1).
func MetricReplicas(metric, target float64, current int, tolerance float64) int {
	return metricReplicas(metric, target, current, tolerance, tolerance)
}

// metricReplicas is MetricReplicas with a tolerance for each direction:
// the count stays while 1 − down ≤ ratio ≤ 1 + up.
func metricReplicas(metric, target float64, current int, down, up float64) int {
	if current > 0 {
		ratio := metric / (target * float64(current))
		if 1-down <= ratio && ratio <= 1+up {
			return current
		}
	}
	return int(math.Ceil(metric / target))
}

// scaleEvent is one change of the replica count, for the policies' periods.
type scaleEvent struct {
	at, change int
}

// recommendation is one sync's proposal, for the stabilization windows.
type recommendation struct {
	at, replicas int
}

// hpa is the state the HPA controller keeps per object between syncs:
// the recommendations of past syncs and the scale events.
type hpa struct {
	behavior   Behavior
	min, max   int
	recs       []recommendation
	ups, downs []scaleEvent
}

func newHPA(b Behavior, min, max int) *hpa {
	if min < 1 {
		min = 1 // the HPA KEDA creates never goes below 1
	}
	return &hpa{behavior: b, min: min, max: max}
}

// desired runs one sync at second now with the current replicas and the
// metric proposal, and returns the new count: the proposal clamped to
// min…max when the count is outside them, else stabilized and limited by
// the policies as Kubernetes' normalizeDesiredReplicasWithBehaviors does.
func (h *hpa) desired(now, current, proposal int) int {
	if current > h.max {
		return h.record(now, current, h.max)
	}
	if current < h.min {
		return h.record(now, current, h.min)
	}
	if h.behavior.Unset {
		return h.record(now, current, h.legacy(now, current, proposal))
	}
	stabilized := h.stabilize(now, current, proposal)
	return h.record(now, current, h.limit(now, current, stabilized))
}

// stabilize keeps the proposal among the recommendations and returns the
// current count moved towards it only as far as every recommendation of
// the windows allows: up to the lowest of the scale-up window, down to the
// highest of the scale-down window.
func (h *hpa) stabilize(now, current, proposal int) int {
	up, down := proposal, proposal
	upCut := now - h.behavior.ScaleUp.StabilizationWindowSeconds
	downCut := now - h.behavior.ScaleDown.StabilizationWindowSeconds
	keep := h.recs[:0]
	for _, r := range h.recs {
		inUp, inDown := r.at > upCut, r.at > downCut
		if inUp {
			up = min(up, r.replicas)
		}
		if inDown {
			down = max(down, r.replicas)
		}
		if inUp || inDown {
			keep = append(keep, r)
		}
	}
	h.recs = append(keep, recommendation{now, proposal})
	rec := current
	rec = max(rec, up)
	rec = min(rec, down)
	return rec
}

// legacyDownscaleWindow is the controller manager's
// --horizontal-pod-autoscaler-downscale-stabilization default (5 min).
const legacyDownscaleWindow = 300

// legacy is Kubernetes' normalizeDesiredReplicas, for an HPA without a
// behavior: the highest recommendation of the last 300 s, edges included
// (stabilizeRecommendation drops only those before the cutoff), clamped to
// min … min(max, max(2 × current, 4)) (convertDesiredReplicasWithRules).
func (h *hpa) legacy(now, current, proposal int) int {
	rec := proposal
	keep := h.recs[:0]
	for _, r := range h.recs {
		if r.at >= now-legacyDownscaleWindow {
			rec = max(rec, r.replicas)
			keep = append(keep, r)
		}
	}
	h.recs = append(keep, recommendation{now, proposal})
	return min(max(rec, h.min), h.max, max(2*current, 4))
}

// limit applies the min/max and the scaling policies of the direction.
func (h *hpa) limit(now, current, desired int) int {
	lo, hi := h.min, h.max
	switch {
	case desired > current:
		limit := h.policyLimit(now, current, h.behavior.ScaleUp, true)
		limit = max(limit, current)
		hi = min(hi, limit)
	case desired < current:
		limit := h.policyLimit(now, current, h.behavior.ScaleDown, false)
		limit = min(limit, current)
		lo = max(lo, limit)
	}
	return min(max(desired, lo), hi)
}

// changeIn sums the changes of events less than period seconds old.
func changeIn(events []scaleEvent, now, period int) int {
	sum := 0
	for _, e := range events {
		if e.at > now-period {
			sum += e.change
		}
	}
	return sum
}

// periodStart is the replica count at the start of a policy's period.
func (h *hpa) periodStart(now, current, period int) int {
	return current - changeIn(h.ups, now, period) + changeIn(h.downs, now, period)
}

// policyLimit is the furthest count the policies of one direction allow
// from current, as calculateScaleUpLimitWithScalingRules and
// calculateScaleDownLimitWithBehaviors compute it: each policy proposes a
// count from the replicas at the start of its period; Max picks the
// largest change, Min the smallest, Disabled allows none.
func (h *hpa) policyLimit(now, current int, r ScalingRules, up bool) int {
	if r.Select == SelectDisabled {
		return current
	}
	highest := (r.Select != SelectMin) == up
	result := current
	for i, p := range r.Policies {
		start := h.periodStart(now, current, p.PeriodSeconds)
		var proposed int
		switch {
		case p.Type == PolicyPods && up:
			proposed = start + p.Value
		case p.Type == PolicyPods:
			proposed = start - p.Value
		case up: // rounded up, or a small count could never grow
			proposed = int(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		default:
			proposed = int(float64(start) * (1 - float64(p.Value)/100))
		}
		if i == 0 || (highest && proposed > result) || (!highest && proposed < result) {
			result = proposed
		}
	}
	return result
}

// record stores a scale event when the count changes and returns it.
func (h *hpa) record(now, current, desired int) int {
	switch {
	case desired > current:
		h.ups = appendEvent(h.ups, now, desired-current)
	case desired < current:
		h.downs = appendEvent(h.downs, now, current-desired)
	}
	return desired
}

// appendEvent adds an event and forgets those older than any policy period
// can reach (30 min, the API's bound).
func appendEvent(events []scaleEvent, now, change int) []scaleEvent {
	keep := events[:0]
	for _, e := range events {
		if e.at > now-1800 {
			keep = append(keep, e)
		}
	}
	return append(keep, scaleEvent{now, change})
}
