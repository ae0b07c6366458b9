package scalesim

import (
	"bufio"
	"fmt"
	"io"
	"iter"
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
	// expected is how many arrivals the part makes on average in [0, end s).
	expected(end int) float64
	// stream yields the part's arrival times (ms) in [0, end s) in order,
	// drawing from rng.
	stream(end int, rng *rand.Rand) arrivalStream
	// bursts lists the seconds of bursts (for the drain times).
	bursts(end int) []int
}

// arrivalStream yields arrival times (ms) in non-decreasing order; ok is
// false after the last.
type arrivalStream interface {
	next() (at int64, ok bool)
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

func (s steps) expected(end int) float64 {
	sum := 0.0
	for i, st := range s {
		stop := end
		if i+1 < len(s) {
			stop = min(end, s[i+1].from)
		}
		sum += st.rate * float64(max(0, stop-st.from))
	}
	return sum
}

func (s steps) stream(end int, rng *rand.Rand) arrivalStream {
	return &stepStream{s: s, end: end, rng: rng}
}

// stepStream draws exponential gaps at the rate of each step, so the
// arrivals form a Poisson process whose rate changes at the steps.
type stepStream struct {
	s        steps
	end      int
	rng      *rand.Rand
	i        int     // current step
	in       bool    // inside step i
	t        float64 // seconds
	stop     int
	ratePerS float64
}

func (st *stepStream) next() (int64, bool) {
	for st.i < len(st.s) {
		if !st.in {
			cur := st.s[st.i]
			st.stop = st.end
			if st.i+1 < len(st.s) {
				st.stop = min(st.end, st.s[st.i+1].from)
			}
			if cur.rate == 0 || cur.from >= st.stop {
				st.i++
				continue
			}
			st.t, st.ratePerS, st.in = float64(cur.from), cur.rate, true
		}
		st.t += st.rng.ExpFloat64() / st.ratePerS
		if st.t >= float64(st.stop) {
			st.i, st.in = st.i+1, false
			continue
		}
		return int64(st.t * 1000), true
	}
	return 0, false
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

func (b burst) expected(end int) float64 { return float64(b.n) * float64(max(0, (end-1)/b.every)) }

func (b burst) stream(end int, _ *rand.Rand) arrivalStream {
	return &burstStream{b: b, end: end, at: b.every}
}

// burstStream yields n arrivals at every burst second.
type burstStream struct {
	b       burst
	end, at int
	k       int // arrivals yielded at at
}

func (bs *burstStream) next() (int64, bool) {
	if bs.k == bs.b.n {
		bs.at, bs.k = bs.at+bs.b.every, 0
	}
	if bs.at >= bs.end {
		return 0, false
	}
	bs.k++
	return int64(bs.at) * 1000, true
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

func (c counts) expected(end int) float64 {
	sum := 0.0
	for _, row := range c {
		if row.from < end {
			sum += row.rate
		}
	}
	return sum
}

func (c counts) stream(end int, _ *rand.Rand) arrivalStream {
	rows := slices.Clone(c)
	slices.SortStableFunc(rows, func(a, b step) int { return a.from - b.from })
	return &countStream{rows: rows, end: end}
}

// countStream yields, second by second, the jobs of every row of that
// second, each row's spread evenly in it.
type countStream struct {
	rows []step // by second
	end  int
	buf  []int64 // the current second's arrivals, sorted
}

func (cs *countStream) next() (int64, bool) {
	for len(cs.buf) == 0 {
		if len(cs.rows) == 0 || cs.rows[0].from >= cs.end {
			return 0, false
		}
		sec := cs.rows[0].from
		for len(cs.rows) > 0 && cs.rows[0].from == sec {
			n := int64(cs.rows[0].rate)
			for i := range n {
				cs.buf = append(cs.buf, int64(sec)*1000+i*1000/n)
			}
			cs.rows = cs.rows[1:]
		}
		slices.Sort(cs.buf)
	}
	at := cs.buf[0]
	cs.buf = cs.buf[1:]
	if len(cs.buf) == 0 {
		cs.buf = nil // let the second's buffer go
	}
	return at, true
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
//
// A generated workload keeps no job: Run draws the jobs again, in order,
// from the random states Generate saved, so memory does not grow with the
// number of jobs. Arrival and Length list the jobs of a workload given job
// by job instead (Generate leaves them empty).
type Workload struct {
	// Duration is the simulated time in seconds.
	Duration int
	// Arrival and Length are each job's arrival time and duration in ms,
	// in arrival order, for a workload given job by job.
	Arrival, Length []int64
	// Bursts are the seconds at which bursts arrive.
	Bursts []int
	// Jobs is the number of arrivals (generated workloads).
	Jobs int

	parts     []loadPart
	starts    []rand.PCG // the random state at the start of each part
	lengths   rand.PCG   // the random state for the job durations
	durations Durations
}

// Generate draws the arrivals and durations of a run from seed. It makes
// one pass over the arrivals to count them and to save the random state
// each part and the durations start from; Run replays them.
func Generate(l Load, d Durations, duration int, seed uint64) (*Workload, error) {
	if duration < 1 || duration > MaxDuration {
		return nil, fmt.Errorf("duration %ds: must be 1s to %ds", duration, MaxDuration)
	}
	tooMany := fmt.Errorf("more than %d arrivals: shorten --duration or lower the load", MaxJobs)
	expected := 0.0
	for _, p := range l.parts {
		expected += p.expected(duration)
	}
	if expected > MaxJobs {
		return nil, tooMany
	}
	src := rand.NewPCG(seed, 0x5ca1e51)
	rng := rand.New(src)
	w := &Workload{Duration: duration, parts: l.parts, durations: d}
	for _, p := range l.parts {
		w.starts = append(w.starts, *src)
		for st := p.stream(duration, rng); ; {
			if _, ok := st.next(); !ok {
				break
			}
			if w.Jobs++; w.Jobs > MaxJobs {
				return nil, tooMany
			}
		}
		w.Bursts = append(w.Bursts, p.bursts(duration)...)
	}
	w.lengths = *src
	slices.Sort(w.Bursts)
	return w, nil
}

// All yields every job's arrival and duration (ms) in arrival order.
func (w *Workload) All() iter.Seq2[int64, int64] {
	return func(yield func(int64, int64) bool) {
		c := w.cursor()
		for {
			at, length, ok := c.next()
			if !ok || !yield(at, length) {
				return
			}
		}
	}
}

// jobCursor walks a workload's jobs in arrival order.
type jobCursor struct {
	w       *Workload
	i       int // given job by job: the next index
	streams []arrivalStream
	heads   []int64 // each stream's next arrival; -1: none left
	lengths *rand.Rand
}

func (w *Workload) cursor() *jobCursor {
	c := &jobCursor{w: w}
	if w.parts == nil {
		return c
	}
	lengths := w.lengths
	c.lengths = rand.New(&lengths)
	for i, p := range w.parts {
		src := w.starts[i]
		st := p.stream(w.Duration, rand.New(&src))
		c.streams = append(c.streams, st)
		c.heads = append(c.heads, -1)
		if at, ok := st.next(); ok {
			c.heads[i] = at
		}
	}
	return c
}

// next is the next job: the earliest head of the parts (the first part on
// ties), with a duration drawn in arrival order.
func (c *jobCursor) next() (at, length int64, ok bool) {
	if c.streams == nil {
		if c.i >= len(c.w.Arrival) {
			return 0, 0, false
		}
		c.i++
		return c.w.Arrival[c.i-1], c.w.Length[c.i-1], true
	}
	best := -1
	for i, h := range c.heads {
		if h >= 0 && (best < 0 || h < c.heads[best]) {
			best = i
		}
	}
	if best < 0 {
		return 0, 0, false
	}
	at = c.heads[best]
	c.heads[best] = -1
	if next, ok := c.streams[best].next(); ok {
		c.heads[best] = next
	}
	return at, c.w.durations.draw(c.lengths), true
}
