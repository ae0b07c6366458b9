package scalesim

import (
	"container/heap"
	"math"
	"slices"
)

// Second is the state at the end of one simulated second.
type Second struct {
	// Desired is the replica count KEDA and the HPA asked for.
	Desired int
	// Ready is the pods taking work; Pods every pod that exists (starting,
	// ready or draining), which is what costs.
	Ready, Pods int
	// Backlog is the jobs waiting; Running those being run.
	Backlog, Running int
	// Arrivals and Completions happened during the second.
	Arrivals, Completions int
	// Metric is the value the scalers read at the start of the second.
	Metric float64
}

// Summary sums a run up.
type Summary struct {
	Arrived, Completed, Left, Interrupted int
	// WaitP50 … WaitMax are queue waits (first start − arrival) in
	// seconds over every job that arrived; a job that never started counts
	// with its wait until the end of the run. Nearest rank: WaitP95 is the
	// smallest wait that at least 95 % of the jobs did not exceed.
	WaitP50, WaitP95, WaitP99, WaitMax float64
	MaxBacklog, MaxReplicas            int
	ScaleUps, ScaleDowns               int
	// PodMinutes is the sum over seconds of existing pods, / 60.
	PodMinutes float64
	// BurstDrain is, per burst, the seconds until the backlog was empty
	// again (-1: not within the run).
	BurstDrain []int
}

// Result is one run: the series and its summary.
type Result struct {
	Rules   Rules
	Seconds []Second
	Summary Summary
}

// event kinds in the heap
const (
	evComplete = iota
	evHandBack
)

type event struct {
	at   int64 // ms
	kind int8
	gen  uint32
	job  int32 // a slot in sim.jobs
	pod  int32
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].kind < e[j].kind
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

type pod struct {
	readyAt  int // second
	ready    bool
	draining bool
	gone     bool
	running  int
}

// sim is one run's mutable state.
type sim struct {
	r Rules
	w *Workload

	pods     []*pod
	existing int     // pods not gone
	active   []int32 // pods not draining, oldest first
	free     int     // free slots over ready, non-draining pods

	queue []int32 // FIFO backlog (slots); head at qhead
	qhead int
	front []int32 // handed-back jobs, taken before the queue (LIFO top = next)

	ev     events
	jobs   []job   // the jobs queued or running, by slot
	unused []int32 // slots free for the next arrival
	waits  waitHistogram

	running, completed, interrupted int
	secArrivals, secCompletions     int

	hpa        *hpa
	lastActive int
	everActive bool
	metrics    []float64

	sum Summary
}

// Run simulates the rules against the workload, second by second.
func Run(r Rules, w *Workload) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	s := &sim{
		r:       r,
		w:       w,
		hpa:     newHPA(r.Behavior, r.Min, r.Max),
		metrics: make([]float64, w.Duration),
		queue:   make([]int32, 0, 1024),
	}
	// The group starts at minReplicaCount, warm (pods ready).
	for range r.Min {
		s.addPod(0, true)
	}
	res := &Result{Rules: r, Seconds: make([]Second, w.Duration)}
	jobs := w.cursor()
	nextArr, nextLen, more := jobs.next()
	for t := 0; t < w.Duration; t++ {
		s.secArrivals, s.secCompletions = 0, 0
		ms := int64(t) * 1000
		s.readyPods(t, ms)
		s.metrics[t] = s.metric()
		observed := s.metrics[max(0, t-r.MetricLag)]
		desired := len(s.active)
		if t%r.PollingInterval == 0 {
			desired = s.poll(t, observed, desired)
		}
		if t%r.HPASyncPeriod == 0 && desired > 0 {
			proposal := metricReplicas(observed, r.Target, desired, r.downTolerance(), r.upTolerance())
			desired = s.hpa.desired(t, desired, proposal)
		}
		s.scale(t, ms, desired)
		// Jobs of this second, in time order; completions first on ties.
		end := ms + 1000
		for {
			if !more {
				nextArr = math.MaxInt64
			}
			nextEv := int64(math.MaxInt64)
			if len(s.ev) > 0 {
				nextEv = s.ev[0].at
			}
			if min(nextArr, nextEv) >= end {
				break
			}
			if nextEv <= nextArr {
				s.handle(heap.Pop(&s.ev).(event))
				continue
			}
			s.queue = append(s.queue, s.arrive(nextArr, nextLen))
			s.secArrivals++
			s.sum.Arrived++
			at := nextArr
			nextArr, nextLen, more = jobs.next()
			s.dispatch(at)
		}
		res.Seconds[t] = s.record(t)
	}
	s.finish(res)
	return res, nil
}

// metric is what the trigger reads now.
func (s *sim) metric() float64 {
	queued := s.backlog()
	if s.r.Trigger != TriggerNATS && !s.r.ScaleOnInFlight {
		return float64(queued)
	}
	return float64(queued + s.running)
}

// poll is KEDA's check: wake a group at zero (or idle) when the metric is
// above the activation threshold; put it back to zero (or idle) once no
// check has been active for the cooldown period.
func (s *sim) poll(t int, metric float64, current int) int {
	active := metric > s.r.Activation
	rest := s.r.Min
	if s.r.Idle >= 0 {
		rest = s.r.Idle
	}
	if active {
		s.lastActive, s.everActive = t, true
		if current == 0 || (s.r.Idle >= 0 && current == s.r.Idle) {
			return max(s.r.Min, 1)
		}
		return current
	}
	if current > rest && (s.r.Min == 0 || s.r.Idle >= 0) {
		cooled := s.everActive && t >= s.lastActive+s.r.CooldownPeriod
		if !s.everActive {
			cooled = t >= s.r.InitialCooldownPeriod
		}
		if cooled {
			return rest
		}
	}
	return current
}

// readyPods marks pods whose start-up ended ready and gives them work.
func (s *sim) readyPods(t int, ms int64) {
	changed := false
	for _, id := range s.active {
		p := s.pods[id]
		if !p.ready && p.readyAt <= t {
			p.ready = true
			s.free += s.r.Concurrency - p.running
			changed = true
		}
	}
	if changed {
		s.dispatch(ms)
	}
}

func (s *sim) addPod(t int, warm bool) {
	p := &pod{readyAt: t + s.r.Startup}
	if warm {
		p.readyAt = t
	}
	s.pods = append(s.pods, p)
	s.existing++
	s.active = append(s.active, int32(len(s.pods)-1))
	if p.readyAt <= t {
		p.ready = true
		s.free += s.r.Concurrency
	}
}

// scale sets the replica count: new pods start; removed pods are the
// not-ready ones first, then the newest ready ones (a ReplicaSet's order).
func (s *sim) scale(t int, ms int64, desired int) {
	cur := len(s.active)
	switch {
	case desired > cur:
		s.sum.ScaleUps++
		for range desired - cur {
			s.addPod(t, false)
		}
		s.dispatch(ms)
	case desired < cur:
		s.sum.ScaleDowns++
		victims := slices.Clone(s.active)
		// stable: not ready before ready, then newest first
		slices.SortStableFunc(victims, func(a, b int32) int {
			pa, pb := s.pods[a], s.pods[b]
			if pa.ready != pb.ready {
				if !pa.ready {
					return -1
				}
				return 1
			}
			return int(b - a)
		})
		victims = victims[:cur-desired]
		for _, id := range victims {
			s.drain(id, ms)
		}
		s.active = slices.DeleteFunc(s.active, func(id int32) bool { return s.pods[id].draining })
	}
}

// drain stops a pod taking work. Its jobs that end within the drain grace
// finish; the others are handed back when the grace ends.
func (s *sim) drain(id int32, ms int64) {
	p := s.pods[id]
	p.draining = true
	if p.ready {
		s.free -= s.r.Concurrency - p.running
	}
	if p.running == 0 {
		s.gone(p)
		return
	}
	deadline := ms + int64(s.r.DrainGrace)*1000
	for _, e := range s.ev {
		if e.pod == id && e.kind == evComplete && e.at > deadline {
			heap.Push(&s.ev, event{at: deadline, kind: evHandBack, gen: e.gen, job: e.job, pod: id})
		}
	}
}

// job is one job queued or running.
type job struct {
	arrival, length int64 // ms
	// gen tells a job's current completion event from one made stale by a
	// hand-back, and a slot's job from the one before it.
	gen     uint32
	started bool
}

// arrive gives an arriving job a slot.
func (s *sim) arrive(at, length int64) int32 {
	if n := len(s.unused); n > 0 {
		id := s.unused[n-1]
		s.unused = s.unused[:n-1]
		j := &s.jobs[id]
		j.arrival, j.length, j.started = at, length, false
		return id
	}
	s.jobs = append(s.jobs, job{arrival: at, length: length})
	return int32(len(s.jobs) - 1)
}

func (s *sim) handle(e event) {
	if e.gen != s.jobs[e.job].gen {
		return // interrupted earlier
	}
	p := s.pods[e.pod]
	p.running--
	s.running--
	switch e.kind {
	case evComplete:
		s.completed++
		s.secCompletions++
		s.jobs[e.job].gen++
		s.unused = append(s.unused, e.job)
	case evHandBack:
		s.jobs[e.job].gen++
		s.interrupted++
		s.front = append(s.front, e.job)
	}
	if p.draining {
		if p.running == 0 {
			s.gone(p)
		}
	} else if p.ready {
		s.free++
	}
	s.dispatch(e.at)
}

func (s *sim) backlog() int { return len(s.queue) - s.qhead + len(s.front) }

// dispatch starts waiting jobs on free slots, FIFO, each on the least busy
// ready pod.
func (s *sim) dispatch(at int64) {
	for s.free > 0 && s.backlog() > 0 {
		var id int32
		if n := len(s.front); n > 0 {
			id = s.front[n-1]
			s.front = s.front[:n-1]
		} else {
			id = s.queue[s.qhead]
			s.qhead++
			if s.qhead > 4096 && s.qhead*2 > len(s.queue) {
				s.queue = append(s.queue[:0], s.queue[s.qhead:]...)
				s.qhead = 0
			}
		}
		best := int32(-1)
		for _, id := range s.active {
			p := s.pods[id]
			if p.ready && p.running < s.r.Concurrency && (best < 0 || p.running < s.pods[best].running) {
				best = id
			}
		}
		p := s.pods[best]
		p.running++
		s.running++
		s.free--
		j := &s.jobs[id]
		if !j.started {
			j.started = true
			s.waits.add(at - j.arrival)
		}
		heap.Push(&s.ev, event{at: at + j.length, kind: evComplete, gen: j.gen, job: id, pod: best})
	}
}

func (s *sim) record(t int) Second {
	sec := Second{
		Desired:     len(s.active),
		Backlog:     s.backlog(),
		Running:     s.running,
		Arrivals:    s.secArrivals,
		Completions: s.secCompletions,
		Metric:      s.metrics[t],
	}
	for _, id := range s.active {
		if s.pods[id].ready {
			sec.Ready++
		}
	}
	sec.Pods = s.existing
	return sec
}

// gone ends a drained pod.
func (s *sim) gone(p *pod) {
	p.gone = true
	s.existing--
}

func (s *sim) finish(res *Result) {
	sum := &s.sum
	sum.Completed = s.completed
	sum.Interrupted = s.interrupted
	sum.Left = s.backlog() + s.running
	// Jobs still waiting at the end count with their wait so far (a lower
	// bound): leaving them out would make a rule set that falls behind look
	// better than one that keeps up.
	end := int64(s.w.Duration) * 1000
	for _, id := range slices.Concat(s.queue[s.qhead:], s.front) {
		if j := s.jobs[id]; !j.started {
			s.waits.add(end - j.arrival)
		}
	}
	q := func(p float64) float64 { return float64(s.waits.quantile(p)) / 1000 }
	sum.WaitP50, sum.WaitP95, sum.WaitP99, sum.WaitMax = q(0.50), q(0.95), q(0.99), q(1)
	pods := 0
	for _, sec := range res.Seconds {
		sum.MaxBacklog = max(sum.MaxBacklog, sec.Backlog)
		sum.MaxReplicas = max(sum.MaxReplicas, sec.Desired)
		pods += sec.Pods
	}
	sum.PodMinutes = float64(pods) / 60
	for _, b := range s.w.Bursts {
		drain := -1
		for t := b; t < len(res.Seconds); t++ {
			if res.Seconds[t].Backlog == 0 {
				drain = t - b
				break
			}
		}
		sum.BurstDrain = append(sum.BurstDrain, drain)
	}
	res.Summary = *sum
}
