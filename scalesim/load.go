package scalesim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on a run, so that a typo cannot ask for hours of CPU or gigabytes.
const (
	// MaxDuration is the longest simulated run: 7 days.
	MaxDuration = 7 * 24 * 3600
	// MaxJobs is the most arrivals one run may generate.
	MaxJobs = 20_000_000
	// maxJobDuration is the longest job: 24 h.
	maxJobDuration = 24 * time.Hour
)

// Load is an arrival profile: the sum of its parts.
type Load struct {
	// Spec is the text it was parsed from.
	Spec  string
	parts []loadPart
}

type loadPart interface {
	// arrivals appends the arrival times (ms) of this part in [0, end s).
	arrivals(dst []int64, end int, rng *rand.Rand) ([]int64, error)
	// bursts lists the seconds of bursts (for the drain times).
	bursts(end int) []int
}

// ParseLoad reads a load profile: one or more parts joined by "+":
//
//	constant:RATE                 Poisson arrivals at RATE jobs/s
//	steps:0s=5,10m=50,20m=5       Poisson arrivals, RATE from each time on
//	burst:N@EVERY                 N jobs at once every EVERY (first at EVERY)
//	csv:FILE                      rows "second,count": count jobs in that second
//
// open opens csv files (nil refuses them).
func ParseLoad(spec string, open func(string) (io.ReadCloser, error)) (Load, error) {
	l := Load{Spec: spec}
	if strings.TrimSpace(spec) == "" {
		return l, fmt.Errorf("load: empty (e.g. constant:50)")
	}
	for _, part := range strings.Split(spec, "+") {
		kind, arg, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || arg == "" {
			return l, fmt.Errorf("load %q: want KIND:ARGS (constant, steps, burst or csv)", part)
		}
		var p loadPart
		var err error
		switch kind {
		case "constant":
			var rate float64
			rate, err = parseRate(arg)
			p = steps{{0, rate}}
		case "steps":
			p, err = parseSteps(arg)
		case "burst":
			p, err = parseBurst(arg)
		case "csv":
			if open == nil {
				return l, fmt.Errorf("load %q: csv files are not allowed here", part)
			}
			p, err = readCSV(arg, open)
		default:
			return l, fmt.Errorf("load %q: unknown kind %q (constant, steps, burst or csv)", part, kind)
		}
		if err != nil {
			return l, fmt.Errorf("load %q: %w", part, err)
		}
		l.parts = append(l.parts, p)
	}
	return l, nil
}

func parseRate(s string) (float64, error) {
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r < 0 || r > 1e6 || math.IsNaN(r) {
		return 0, fmt.Errorf("rate %q: want jobs per second, 0 to 1000000", s)
	}
	return r, nil
}

// parseSeconds reads a Go duration ("10m", "0s") as whole seconds.
func parseSeconds(s string) (int, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > MaxDuration*time.Second || d%time.Second != 0 {
		return 0, fmt.Errorf("time %q: want whole seconds as a Go duration (90s, 10m)", s)
	}
	return int(d / time.Second), nil
}

// step is a rate from a second on.
type step struct {
	from int
	rate float64
}

// steps is a piecewise constant Poisson rate.
type steps []step

func parseSteps(arg string) (steps, error) {
	var s steps
	for _, kv := range strings.Split(arg, ",") {
		at, rate, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("step %q: want TIME=RATE", kv)
		}
		from, err := parseSeconds(at)
		if err != nil {
			return nil, err
		}
		r, err := parseRate(rate)
		if err != nil {
			return nil, err
		}
		if len(s) > 0 && from <= s[len(s)-1].from {
			return nil, fmt.Errorf("step %q: times must increase", kv)
		}
		s = append(s, step{from, r})
	}
	return s, nil
}

// arrivals draws exponential gaps at the rate of each step, so the
// arrivals form a Poisson process whose rate changes at the steps.
func (s steps) arrivals(dst []int64, end int, rng *rand.Rand) ([]int64, error) {
	for i, st := range s {
		stop := end
		if i+1 < len(s) {
			stop = min(end, s[i+1].from)
		}
		if st.rate == 0 || st.from >= stop {
			continue
		}
		if st.rate*float64(stop-st.from) > MaxJobs {
			return dst, fmt.Errorf("more than %d arrivals: shorten --duration or lower the rate", MaxJobs)
		}
		t := float64(st.from)
		for {
			t += rng.ExpFloat64() / st.rate
			if t >= float64(stop) {
				break
			}
			if len(dst) >= MaxJobs {
				return dst, fmt.Errorf("more than %d arrivals: shorten --duration or lower the rate", MaxJobs)
			}
			dst = append(dst, int64(t*1000))
		}
	}
	return dst, nil
}

func (steps) bursts(int) []int { return nil }

// burst is N jobs at once every period.
type burst struct {
	n, every int
}

func parseBurst(arg string) (burst, error) {
	n, every, ok := strings.Cut(arg, "@")
	if !ok {
		return burst{}, fmt.Errorf("want N@EVERY, e.g. 500@10m")
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 || count > MaxJobs {
		return burst{}, fmt.Errorf("count %q: want 1 to %d jobs", n, MaxJobs)
	}
	e, err := parseSeconds(every)
	if err != nil {
		return burst{}, err
	}
	if e < 1 {
		return burst{}, fmt.Errorf("every %q: must be at least 1s", every)
	}
	return burst{count, e}, nil
}

func (b burst) arrivals(dst []int64, end int, _ *rand.Rand) ([]int64, error) {
	for _, at := range b.bursts(end) {
		if len(dst)+b.n > MaxJobs {
			return dst, fmt.Errorf("more than %d arrivals: shorten --duration or lower the bursts", MaxJobs)
		}
		for range b.n {
			dst = append(dst, int64(at)*1000)
		}
	}
	return dst, nil
}

func (b burst) bursts(end int) []int {
	var at []int
	for t := b.every; t < end; t += b.every {
		at = append(at, t)
	}
	return at
}

// counts is a CSV profile: jobs per second, spread evenly in the second.
type counts []step

// readCSV reads rows "second,count" (a header row is allowed, # starts a
// comment); each second's jobs arrive evenly spread within it.
func readCSV(name string, open func(string) (io.ReadCloser, error)) (counts, error) {
	f, err := open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c counts
	total, rows := 0, 0
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	for line := 1; sc.Scan(); line++ {
		row := strings.TrimSpace(sc.Text())
		if row == "" || strings.HasPrefix(row, "#") {
			continue
		}
		rows++
		sec, cnt, ok := strings.Cut(row, ",")
		s, err1 := strconv.Atoi(strings.TrimSpace(sec))
		n, err2 := strconv.Atoi(strings.TrimSpace(cnt))
		if !ok || err1 != nil || err2 != nil {
			if rows == 1 {
				continue // a header: the first row that is not a comment
			}
			return nil, fmt.Errorf("%s line %d: want second,count", name, line)
		}
		if s < 0 || s >= MaxDuration || n < 0 || n > MaxJobs {
			return nil, fmt.Errorf("%s line %d: second 0 to %d, count 0 to %d", name, line, MaxDuration-1, MaxJobs)
		}
		total += n
		if total > MaxJobs {
			return nil, fmt.Errorf("%s: more than %d jobs", name, MaxJobs)
		}
		c = append(c, step{s, float64(n)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

func (c counts) arrivals(dst []int64, end int, _ *rand.Rand) ([]int64, error) {
	for _, row := range c {
		if row.from >= end {
			continue
		}
		n := int64(row.rate)
		for i := range n {
			dst = append(dst, int64(row.from)*1000+i*1000/n)
		}
	}
	return dst, nil
}

func (counts) bursts(int) []int { return nil }

// Durations is a job-duration distribution.
type Durations struct {
	// Spec is the text it was parsed from.
	Spec string
	kind string
	a, b float64 // seconds
}

// ParseDurations reads a job duration distribution (Go durations):
//
//	fixed:2s                  every job takes 2 s
//	uniform:1s-5s             uniform between the two
//	exp:3s                    exponential with that mean
//	lognormal:MEDIAN,P95      log-normal with that median and 95th percentile
func ParseDurations(spec string) (Durations, error) {
	d := Durations{Spec: spec}
	kind, arg, ok := strings.Cut(spec, ":")
	if !ok {
		return d, fmt.Errorf("job duration %q: want fixed:2s, uniform:1s-5s, exp:3s or lognormal:MEDIAN,P95", spec)
	}
	d.kind = kind
	parse := func(s string) (float64, error) {
		v, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || v <= 0 || v > maxJobDuration {
			return 0, fmt.Errorf("job duration %q: %q must be a Go duration above 0 and at most 24h", spec, s)
		}
		return v.Seconds(), nil
	}
	var err error
	switch kind {
	case "fixed", "exp":
		d.a, err = parse(arg)
	case "uniform", "lognormal":
		sep := "-"
		if kind == "lognormal" {
			sep = ","
		}
		lo, hi, ok := strings.Cut(arg, sep)
		if !ok {
			return d, fmt.Errorf("job duration %q: want %s:A%sB", spec, kind, sep)
		}
		if d.a, err = parse(lo); err != nil {
			return d, err
		}
		if d.b, err = parse(hi); err != nil {
			return d, err
		}
		if d.b < d.a || (kind == "lognormal" && d.b == d.a) {
			return d, fmt.Errorf("job duration %q: the second value must be above the first", spec)
		}
	default:
		return d, fmt.Errorf("job duration %q: unknown kind %q (fixed, uniform, exp, lognormal)", spec, kind)
	}
	return d, err
}

// draw returns one duration in ms, at least 1.
func (d Durations) draw(rng *rand.Rand) int64 {
	var s float64
	switch d.kind {
	case "fixed":
		s = d.a
	case "uniform":
		s = d.a + rng.Float64()*(d.b-d.a)
	case "exp":
		s = rng.ExpFloat64() * d.a
	case "lognormal":
		mu := math.Log(d.a)
		sigma := (math.Log(d.b) - mu) / 1.6448536269514722 // z of the 95th percentile
		s = math.Exp(mu + sigma*rng.NormFloat64())
	}
	// Clamp before converting: a far log-normal tail exceeds an int64
	// (or is +Inf), and the conversion of such a float is undefined.
	ms := math.Round(min(s*1000, float64(maxJobDuration.Milliseconds())))
	return max(int64(ms), 1)
}

// Workload is the jobs of one run, shared by compared rule sets so that
// both see the same arrivals and durations.
type Workload struct {
	// Duration is the simulated time in seconds.
	Duration int
	// Arrival and Length are each job's arrival time and duration in ms,
	// in arrival order.
	Arrival, Length []int64
	// Bursts are the seconds at which bursts arrive.
	Bursts []int
}

// Generate draws the arrivals and durations of a run from seed.
func Generate(l Load, d Durations, duration int, seed uint64) (*Workload, error) {
	if duration < 1 || duration > MaxDuration {
		return nil, fmt.Errorf("duration %ds: must be 1s to %ds", duration, MaxDuration)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5ca1e51))
	w := &Workload{Duration: duration}
	var err error
	for _, p := range l.parts {
		if w.Arrival, err = p.arrivals(w.Arrival, duration, rng); err != nil {
			return nil, err
		}
		w.Bursts = append(w.Bursts, p.bursts(duration)...)
		if len(w.Arrival) > MaxJobs {
			return nil, fmt.Errorf("more than %d arrivals: shorten --duration or lower the load", MaxJobs)
		}
	}
	slices.Sort(w.Arrival)
	slices.Sort(w.Bursts)
	w.Length = make([]int64, len(w.Arrival))
	for i := range w.Length {
		w.Length[i] = d.draw(rng)
	}
	return w, nil
}
