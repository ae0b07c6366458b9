package scalesim

import (
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func gen(t *testing.T, load, jobs string, duration int, seed uint64) *Workload {
	t.Helper()
	open := func(name string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("second,count\n# a comment\n0,3\n5,2\n")), nil
	}
	l, err := ParseLoad(load, open)
	require.NoError(t, err)
	d, err := ParseDurations(jobs)
	require.NoError(t, err)
	w, err := Generate(l, d, duration, seed)
	require.NoError(t, err)
	return materialize(w)
}

// materialize lists a generated workload's jobs in Arrival and Length.
func materialize(w *Workload) *Workload {
	for at, length := range w.All() {
		w.Arrival = append(w.Arrival, at)
		w.Length = append(w.Length, length)
	}
	return w
}

func TestLoadProfiles(t *testing.T) {
	t.Parallel()
	// Bursts at 10 and 20 min (not 0, not the end): 2 × 500 jobs at those seconds.
	w := gen(t, "burst:500@10m", "fixed:2s", 1800, 1)
	require.Len(t, w.Arrival, 1000)
	require.Equal(t, int64(600_000), w.Arrival[0])
	require.Equal(t, int64(1_200_000), w.Arrival[999])
	require.Equal(t, []int{600, 1200}, w.Bursts)
	require.Equal(t, int64(2000), w.Length[0])

	// Poisson at 50/s for 1,000 s: 50,000 ± 5σ (σ = √50,000 ≈ 224).
	w = gen(t, "constant:50", "fixed:1s", 1000, 1)
	require.InDelta(t, 50000, len(w.Arrival), 5*224)
	require.True(t, sort.SliceIsSorted(w.Arrival, func(i, j int) bool { return w.Arrival[i] < w.Arrival[j] }))

	// Steps: nothing before 100 s, 10/s from 100 to 200 s, nothing after.
	w = gen(t, "steps:0s=0,100s=10,200s=0", "fixed:1s", 300, 1)
	require.GreaterOrEqual(t, w.Arrival[0], int64(100_000))
	require.Less(t, w.Arrival[len(w.Arrival)-1], int64(200_000))
	require.InDelta(t, 1000, len(w.Arrival), 5*32)

	// CSV rows second,count: 3 jobs spread in second 0, 2 in second 5.
	w = gen(t, "csv:x.csv", "fixed:1s", 10, 1)
	require.Equal(t, []int64{0, 333, 666, 5000, 5500}, w.Arrival)

	// Parts add up; the same seed gives the same jobs, another seed others.
	a := gen(t, "constant:5+burst:100@1m", "exp:3s", 300, 7)
	b := gen(t, "constant:5+burst:100@1m", "exp:3s", 300, 7)
	c := gen(t, "constant:5+burst:100@1m", "exp:3s", 300, 8)
	require.Equal(t, a.Arrival, b.Arrival)
	require.Equal(t, a.Length, b.Length)
	require.Equal(t, a.Jobs, len(a.Arrival))
	require.NotEqual(t, a.Arrival, c.Arrival)
	require.Equal(t, []int{60, 120, 180, 240}, a.Bursts)
}

func TestDurations(t *testing.T) {
	t.Parallel()
	w := gen(t, "constant:100", "uniform:1s-5s", 100, 1)
	for _, l := range w.Length {
		require.GreaterOrEqual(t, l, int64(1000))
		require.LessOrEqual(t, l, int64(5000))
	}
	// log-normal median 200 ms, p95 1 s: about half below 200 ms, 5 % above 1 s.
	w = gen(t, "constant:100", "lognormal:200ms,1s", 100, 1)
	below, above := 0, 0
	for _, l := range w.Length {
		if l < 200 {
			below++
		}
		if l > 1000 {
			above++
		}
	}
	n := float64(len(w.Length))
	require.InDelta(t, 0.5, float64(below)/n, 0.02)
	require.InDelta(t, 0.05, float64(above)/n, 0.01)
	// exponential with mean 3 s.
	w = gen(t, "constant:100", "exp:3s", 100, 1)
	sum := 0.0
	for _, l := range w.Length {
		sum += float64(l)
	}
	require.InDelta(t, 3000, sum/n, 3000*5/math.Sqrt(n))
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"":                     "empty",
		"constant":             "want KIND:ARGS",
		"constant:-1":          "rate",
		"poisson:5":            "unknown kind",
		"steps:10m=5,5m=1":     "times must increase",
		"steps:1x=5":           "time",
		"burst:500":            "N@EVERY",
		"burst:0@1m":           "count",
		"burst:5@1.5s":         "whole seconds",
		"constant:5+csv:x.csv": "not allowed",
	} {
		_, err := ParseLoad(spec, nil)
		require.ErrorContains(t, err, want, spec)
	}
	for spec, want := range map[string]string{
		"2s":              "want fixed",
		"fixed:0s":        "above 0",
		"uniform:5s-1s":   "above the first",
		"lognormal:1s,1s": "above the first",
		"lognormal:1s":    "want lognormal:A,B",
		"normal:1s":       "unknown kind",
		"fixed:48h":       "at most 24h",
	} {
		_, err := ParseDurations(spec)
		require.ErrorContains(t, err, want, spec)
	}
	l, err := ParseLoad("constant:1000000", nil)
	require.NoError(t, err)
	d, err := ParseDurations("fixed:1s")
	require.NoError(t, err)
	_, err = Generate(l, d, 3600, 1)
	require.ErrorContains(t, err, "more than 20000000 arrivals")
	_, err = Generate(l, d, MaxDuration+1, 1)
	require.ErrorContains(t, err, "duration")
}

// csvLoad parses a csv: load whose file holds text.
func csvLoad(text string) (Load, error) {
	return ParseLoad("csv:x.csv", func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(text)), nil
	})
}

func TestCSVCountOverflow(t *testing.T) {
	t.Parallel()
	// A second row of 2^63 − 1 jobs wrapped the running total negative,
	// passed the MaxJobs check and then asked for 2^63 − 1 arrivals.
	_, err := csvLoad("0,1\n1,9223372036854775807\n")
	require.ErrorContains(t, err, "x.csv line 2: second 0 to 604799, count 0 to 20000000")
	_, err = csvLoad("0,20000000\n1,1\n")
	require.ErrorContains(t, err, "more than 20000000 jobs")
}

func TestCSVHeaderAfterComments(t *testing.T) {
	t.Parallel()
	// The docs allow a header and # comments; a header under a leading
	// comment was refused because only physical line 1 could be one.
	l, err := csvLoad("# exported from the access log\n\nsecond,count\n0,2\n")
	require.NoError(t, err)
	d, err := ParseDurations("fixed:1s")
	require.NoError(t, err)
	w, err := Generate(l, d, 10, 1)
	require.NoError(t, err)
	require.Equal(t, []int64{0, 500}, materialize(w).Arrival)
	// A second header-like row after data is still an error.
	_, err = csvLoad("second,count\n0,2\nsecond,count\n")
	require.ErrorContains(t, err, "x.csv line 3: want second,count")
}

func TestLognormalTailCapsAt24h(t *testing.T) {
	t.Parallel()
	// With median 1 ns and p95 24 h, sigma is about 19.5: a normal draw
	// above about 2.95 gives more ms than an int64 holds, and the
	// conversion turned those into the minimum (1 ms) instead of the 24 h
	// cap. Replay the same seed to know each draw's z.
	d, err := ParseDurations("lognormal:1ns,24h")
	require.NoError(t, err)
	capMs := maxJobDuration.Milliseconds()
	tail := 0
	for seed := range uint64(3000) {
		z := rand.New(rand.NewPCG(seed, 1)).NormFloat64()
		got := d.draw(rand.New(rand.NewPCG(seed, 1)))
		if z > 2 {
			tail++
			require.Equal(t, capMs, got, "seed %d, z %.2f", seed, z)
		}
	}
	require.Greater(t, tail, 10, "the test reaches the tail")
}

func TestStreamedPartsMergeInOrder(t *testing.T) {
	t.Parallel()
	// CSV rows out of order and a second given twice, plus a burst on the
	// same second: the jobs come out sorted, each row spread in its second.
	l, err := ParseLoad("csv:x.csv+burst:2@5s", func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("5,2\n0,3\n5,1\n")), nil
	})
	require.NoError(t, err)
	d, err := ParseDurations("fixed:1s")
	require.NoError(t, err)
	w, err := Generate(l, d, 8, 1)
	require.NoError(t, err)
	require.Equal(t, 8, w.Jobs)
	require.Equal(t, []int64{0, 333, 666, 5000, 5000, 5000, 5000, 5500}, materialize(w).Arrival)
	require.Equal(t, []int{5}, w.Bursts)
}
