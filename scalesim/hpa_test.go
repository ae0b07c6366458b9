package scalesim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMetricReplicasTolerance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name           string
		metric, target float64
		current, want  int
	}{
		// ratio 105 / (10 × 10) = 1.05: within 0.1 of 1, keep 10.
		{"inside tolerance above", 105, 10, 10, 10},
		// ratio 95 / 100 = 0.95: within tolerance, keep 10.
		{"inside tolerance below", 95, 10, 10, 10},
		// ratio 120 / 100 = 1.2 > 1.1: ceil(120 / 10) = 12.
		{"above tolerance", 120, 10, 10, 12},
		// ratio 111 / 100 = 1.11: ceil(11.1) = 12.
		{"just above tolerance", 111, 10, 10, 12},
		// ratio 80 / 100 = 0.8 < 0.9: ceil(80 / 10) = 8.
		{"below tolerance", 80, 10, 10, 8},
		// ratio 3000 / (400 × 5) = 1.5: ceil(3000 / 400) = ceil(7.5) = 8 (docs/operations.md's example).
		{"operations example", 3000, 400, 5, 8},
		// ratio 2100 / 2000 = 1.05: keep 5.
		{"operations example in tolerance", 2100, 400, 5, 5},
		// ratio exactly 1.1 and 0.9: on the edge, kept (Kubernetes'
		// Tolerances.isWithin: 1 − 0.1 ≤ ratio ≤ 1 + 0.1). |1 − 1.1| is
		// 0.10000000000000009 in floating point, so a test on |1 − ratio|
		// scaled up at 1.1 but not down at 0.9.
		{"upper edge", 110, 10, 10, 10},
		{"lower edge", 90, 10, 10, 10},
		{"upper edge, 30 replicas", 33, 1, 30, 30},
		// nothing to do: ceil(0) = 0 (the HPA then clamps to its minimum).
		{"empty", 0, 20, 3, 0},
	} {
		require.Equal(t, c.want, MetricReplicas(c.metric, c.target, c.current, 0.1), c.name)
	}
}

// syncs runs the HPA every 15 s from second 0 with the proposals given,
// starting at current, and returns the count after each sync.
func syncs(h *hpa, current int, proposals ...int) []int {
	var got []int
	for i, p := range proposals {
		current = h.desired(i*15, current, p)
		got = append(got, current)
	}
	return got
}

func TestScaleUpPolicies(t *testing.T) {
	t.Parallel()
	// Kubernetes' default scale-up: max(+100 %, +4 pods) per 15 s, window 0.
	// Each sync's period (15 s) no longer holds the previous sync's event
	// (it is exactly 15 s old), so each step starts from the current count:
	//   1 → max(ceil(1 × 2) = 2, 1 + 4 = 5) = 5
	//   5 → max(10, 9) = 10
	//  10 → max(20, 14) = 20
	h := newHPA(Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown()}, 1, 50)
	require.Equal(t, []int{5, 10, 20, 20}, syncs(h, 1, 20, 20, 20, 20))

	// Pods 4 per 60 s only: the 60 s period holds every event of the last
	// minute, so the count starts each period from where it was 60 s ago:
	//   t=0: 1 → 1 + 4 = 5; t=15, 30, 45: start 1 (5 − 4 added) → 5, no change;
	//   t=60: the event of t=0 is 60 s old, out → 5 + 4 = 9.
	slow := newHPA(Behavior{
		ScaleUp:   ScalingRules{Policies: []Policy{{PolicyPods, 4, 60}}, Select: SelectMax},
		ScaleDown: DefaultScaleDown(),
	}, 1, 50)
	require.Equal(t, []int{5, 5, 5, 5, 9}, syncs(slow, 1, 20, 20, 20, 20, 20))

	// selectPolicy Min with 100 % and 4 pods: the smaller: 1 → min(2, 5) = 2 → min(4, 6) = 4 → min(8, 8) = 8.
	minPol := DefaultScaleUp()
	minPol.Select = SelectMin
	h = newHPA(Behavior{ScaleUp: minPol, ScaleDown: DefaultScaleDown()}, 1, 50)
	require.Equal(t, []int{2, 4, 8}, syncs(h, 1, 20, 20, 20))

	// Disabled: never up.
	off := DefaultScaleUp()
	off.Select = SelectDisabled
	h = newHPA(Behavior{ScaleUp: off, ScaleDown: DefaultScaleDown()}, 1, 50)
	require.Equal(t, []int{3, 3}, syncs(h, 3, 20, 20))
}

func TestMaxReplicaCap(t *testing.T) {
	t.Parallel()
	// Wants 50; the default policies would allow 1 → 5 → 10 → 20, the max 12 stops at 12.
	h := newHPA(Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown()}, 1, 12)
	require.Equal(t, []int{5, 10, 12, 12}, syncs(h, 1, 50, 50, 50, 50))
	// A count above max (max lowered) goes to max at once.
	require.Equal(t, 12, h.desired(60, 30, 30))
	// And below the minimum (1 for KEDA's HPA even with minReplicaCount 0) up to it.
	h = newHPA(Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown()}, 0, 12)
	require.Equal(t, 1, h.desired(0, 1, 0))
}

func TestScaleDownStabilization(t *testing.T) {
	t.Parallel()
	chart := Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: ScalingRules{
		StabilizationWindowSeconds: 300, Select: SelectMax,
		Policies: []Policy{{PolicyPercent, 50, 60}},
	}}
	// A dip shorter than the window: 10 at t=0, 2 from t=15 to t=285, 10
	// again at t=300. Every sync's window still holds a 10: no scale-in.
	h := newHPA(chart, 1, 20)
	props := []int{10}
	for range 19 {
		props = append(props, 2)
	}
	props = append(props, 10)
	for i, got := range syncs(h, 10, props...) {
		require.Equal(t, 10, got, "sync at t=%d", i*15)
	}

	// A longer dip: 10 at t=0, then 2. At t=300 the recommendation of t=0
	// is 300 s old (the window keeps only younger ones): the highest left is
	// 2, and the policy (50 % per 60 s) allows int(10 × 0.5) = 5.
	// t=315…345: the 60 s period holds the −5 of t=300, so the period
	// started at 10 and allows 5 again: stay 5.
	// t=360: that event is 60 s old, out: start 5 → int(5 × 0.5) = 2.
	h = newHPA(chart, 1, 20)
	props = []int{10}
	for range 25 {
		props = append(props, 2)
	}
	got := syncs(h, 10, props...)
	require.Equal(t, 10, got[19], "t=285")
	require.Equal(t, 5, got[20], "t=300")
	require.Equal(t, []int{5, 5, 5}, got[21:24], "t=315…345")
	require.Equal(t, 2, got[24], "t=360")

	// Kubernetes' default scale-down (100 % per 15 s) removes all surplus at once after the window.
	h = newHPA(Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown()}, 1, 20)
	got = syncs(h, 10, props...)
	require.Equal(t, 2, got[20], "t=300 with the default scale-down")
}

func TestScaleUpStabilizationWindow(t *testing.T) {
	t.Parallel()
	// A 30 s scale-up window takes the lowest recommendation of the last
	// 30 s: a spike to 8 at t=15 only counts once t=0's 2 is 30 s old.
	up := DefaultScaleUp()
	up.StabilizationWindowSeconds = 30
	h := newHPA(Behavior{ScaleUp: up, ScaleDown: DefaultScaleDown()}, 1, 20)
	// t=0: 2 (window: 2) → 2; t=15: 8 (window 2, 8) → 2; t=30: 8 (window
	// 8, 8; t=0 out) → 8, limited by the policies to max(2 × 2, 2 + 4) = 6.
	require.Equal(t, []int{2, 2, 6}, syncs(h, 2, 2, 8, 8))
}

func TestUnsetBehaviorIsTheLegacyPath(t *testing.T) {
	t.Parallel()
	// An HPA without spec.behavior (the chart's behavior: null; KEDA
	// copies nil through) takes the controller's normalizeDesiredReplicas,
	// not the documented default policies: scale up to at most
	// max(2 × current, 4) per sync, from the current count (no periods):
	//   1 → max(2, 4) = 4 (the default policies would allow 1 + 4 = 5)
	//   4 → 8 → 16 → 20 (max)
	unset := Behavior{Unset: true, ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown()}
	h := newHPA(unset, 1, 20)
	require.Equal(t, []int{4, 8, 16, 20}, syncs(h, 1, 50, 50, 50, 50))
	// For comparison, the same proposals with the default behavior.
	h = newHPA(Behavior{ScaleUp: DefaultScaleUp(), ScaleDown: DefaultScaleDown()}, 1, 20)
	require.Equal(t, []int{5, 10, 20, 20}, syncs(h, 1, 50, 50, 50, 50))

	// Scale down: the highest recommendation of the last 300 s, edges
	// included (stabilizeRecommendation drops only those Before the
	// cutoff), then no rate limit. 10 at t=0, 2 from t=15: at t=300 the
	// 10 of t=0 is exactly 300 s old and still counts; at t=315 it is out
	// and the count drops to 2 at once.
	h = newHPA(unset, 1, 20)
	props := []int{10}
	for range 21 {
		props = append(props, 2)
	}
	got := syncs(h, 10, props...)
	require.Equal(t, 10, got[20], "t=300")
	require.Equal(t, 2, got[21], "t=315")
}

func TestToleranceByDirection(t *testing.T) {
	t.Parallel()
	// behavior.scaleUp/scaleDown.tolerance (Kubernetes 1.33+,
	// HPAConfigurableTolerance) replace the controller's 0.1 in their
	// direction. Target 1 per replica, 100 replicas, so the ratio is the
	// metric / 100; scale up only beyond 1.5, down below 0.95.
	r := drainRules()
	r.Target, r.Min, r.Max, r.Tolerance = 1, 100, 200, 0.1
	up, down := 0.5, 0.05
	r.Behavior.ScaleUp.Tolerance, r.Behavior.ScaleDown.Tolerance = &up, &down
	require.Equal(t, 0.5, r.upTolerance())
	require.Equal(t, 0.05, r.downTolerance())
	for _, c := range []struct {
		metric float64
		want   int
	}{
		{140, 100}, // 1.4: inside the scale-up tolerance (the global 0.1 would give 140)
		{150, 100}, // 1.5: on its edge
		{151, 151},
		{94, 94},  // 0.94: outside the scale-down tolerance (the global 0.1 would keep 100)
		{95, 100}, // 0.95: on its edge
	} {
		require.Equal(t, c.want, metricReplicas(c.metric, r.Target, 100, r.downTolerance(), r.upTolerance()), "metric %v", c.metric)
	}
	// Unset, a direction takes the controller's tolerance.
	r.Behavior.ScaleUp.Tolerance = nil
	require.Equal(t, 0.1, r.upTolerance())
	bad := -0.1
	r.Behavior.ScaleDown.Tolerance = &bad
	require.ErrorContains(t, r.Validate(), "scaleDown.tolerance -0.1")
}
