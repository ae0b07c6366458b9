package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/telemetry"
)

// Store is what a Pool needs from the job store.
type Store interface {
	ClaimJobs(ctx context.Context, p store.ClaimParams) ([]store.ClaimResult, error)
	FinishJob(ctx context.Context, p store.FinishParams) (bool, error)
	DeferJob(ctx context.Context, p store.DeferParams) (bool, error)
	Heartbeat(ctx context.Context, w store.WorkerInfo) ([]string, error)
	RemoveWorker(ctx context.Context, id string) error
}

// Config tunes a Pool.
type Config struct {
	// ID names this worker in the store and logs. Default: hostname plus a
	// random suffix.
	ID string
	// Queues maps each queue to drain to its concurrency (jobs at once). Required.
	Queues map[string]int
	// FetchWait is how long one fetch waits for messages. Default 2s.
	FetchWait time.Duration
	// MaxFetch caps the messages asked for in one fetch. Default 256.
	MaxFetch int
	// ShutdownGrace is how long in-flight jobs may run after shutdown starts
	// before they are cancelled and handed back to the broker. Default 30s.
	ShutdownGrace time.Duration
	// HeartbeatInterval is how often the worker reports itself alive and
	// looks for cancel requests. Default 2s.
	HeartbeatInterval time.Duration
	// WorkerTTL is how long without a heartbeat before this worker's jobs may
	// be claimed by others. It must exceed HeartbeatInterval. Default 30s.
	WorkerTTL time.Duration
	// MaxResultBytes caps a handler's result. Default 1 MiB.
	MaxResultBytes int
	// RepublishAfter: a delivery given back without running to its end (its
	// type at its cap, or unfinished at shutdown) from its RepublishAfter-th
	// delivery on is deferred through the store, and the relay publishes a
	// fresh message, instead of going back to the broker: brokers count
	// deliveries, and SQS dead-letters a message after maxReceiveCount of
	// them, so they must count crashes, not hand-backs. Default 2; 1 always
	// goes through the store.
	RepublishAfter int
	// ExitWhenIdle, when positive, stops the pool (as if ctx ended) once it
	// has run no job and received no delivery for that long: a worker run
	// as a Kubernetes Job (KEDA ScaledJob) ends when its queues are empty.
	// Default 0: drain forever.
	ExitWhenIdle time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Tracer records a CONSUMER span "process <queue>" per attempt, a
	// child of the trace context the job was submitted under; the
	// handler's context carries it. Nil: tracing off (log lines still carry
	// the job's trace id when it has one).
	Tracer trace.TracerProvider
	// MessagingSystem is the messaging.system of the spans: nats or aws_sqs.
	MessagingSystem string
}

func (c *Config) setDefaults() error {
	if len(c.Queues) == 0 {
		return errors.New("worker: no queues to drain")
	}
	for q, n := range c.Queues {
		if err := job.ValidateQueue(q); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		if n < 1 {
			return fmt.Errorf("worker: queue %s: concurrency must be at least 1", q)
		}
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "worker"
		}
		c.ID = host + "-" + uuid.NewString()[:8]
	}
	if c.FetchWait <= 0 {
		c.FetchWait = 2 * time.Second
	}
	if c.MaxFetch <= 0 {
		c.MaxFetch = 256
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 2 * time.Second
	}
	if c.WorkerTTL <= 0 {
		c.WorkerTTL = 30 * time.Second
	}
	if c.WorkerTTL <= 2*c.HeartbeatInterval {
		return fmt.Errorf("worker: WorkerTTL (%s) must be more than twice HeartbeatInterval (%s)", c.WorkerTTL, c.HeartbeatInterval)
	}
	if c.MaxResultBytes <= 0 {
		c.MaxResultBytes = 1 << 20
	}
	if c.RepublishAfter <= 0 {
		c.RepublishAfter = 2
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Causes of a handler's context ending early.
var (
	errCancelRequested = errors.New("job cancelled by request")
	errShutdown        = errors.New("worker shutting down")
	errTimeout         = errors.New("job timed out")
)

// maxErrorLen caps a recorded error message.
const maxErrorLen = 4096

// Pool fetches and runs jobs for a set of queues.
type Pool struct {
	cfg      Config
	store    Store
	consumer events.Consumer
	reg      *Registry
	log      *slog.Logger
	m        *metrics
	tracer   trace.Tracer
	started  time.Time

	jobsCtx    context.Context
	cancelJobs context.CancelCauseFunc
	wg         sync.WaitGroup

	// lastActive is when a delivery last arrived or a job last ended (Unix
	// nanoseconds), for ExitWhenIdle.
	lastActive atomic.Int64

	mu      sync.Mutex
	running map[string]*task
	// typeBusy counts running or reserved jobs of each type with a
	// concurrency cap of its own.
	typeBusy map[string]int
}

type task struct {
	j *job.Job
	d events.Delivery
	// ctx carries the attempt's span (or the job's trace context), for
	// log lines about the job; set before the task is shared.
	ctx        context.Context
	cancel     context.CancelCauseFunc
	extendedAt time.Time
	// capped is the type reserved against its concurrency cap ("" if none).
	capped string
}

// New builds a pool. Call Run to start it.
func New(cfg Config, st Store, consumer events.Consumer, reg *Registry, log *slog.Logger, promReg prometheus.Registerer) (*Pool, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(promReg, cfg.Queues)
	if err != nil {
		return nil, fmt.Errorf("worker metrics: %w", err)
	}
	return &Pool{cfg: cfg, store: st, consumer: consumer, reg: reg, log: log.With("worker_id", cfg.ID), m: m,
		tracer: telemetry.Tracer(cfg.Tracer), running: map[string]*task{}, typeBusy: map[string]int{}}, nil
}

// ID is the worker's id.
func (p *Pool) ID() string { return p.cfg.ID }

// Run registers the worker, drains its queues until ctx ends, then shuts
// down: it stops fetching, lets in-flight jobs finish within ShutdownGrace,
// cancels and hands back the rest, and removes its worker record. It returns
// nil after a clean shutdown.
func (p *Pool) Run(ctx context.Context) error {
	p.started = p.cfg.Now().UTC()
	if _, err := p.store.Heartbeat(ctx, p.info()); err != nil {
		return fmt.Errorf("register worker %s: %w", p.cfg.ID, err)
	}
	p.touch()
	ctx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	if p.cfg.ExitWhenIdle > 0 {
		go p.idleLoop(ctx, stopIdle)
	}
	p.jobsCtx, p.cancelJobs = context.WithCancelCause(context.WithoutCancel(ctx))
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); p.heartbeatLoop(bg) }()
	go func() { defer loops.Done(); p.extendLoop(bg) }()

	queues := make([]string, 0, len(p.cfg.Queues))
	for q := range p.cfg.Queues {
		queues = append(queues, q)
	}
	sort.Strings(queues)
	p.log.Info("worker started", "queues", p.cfg.Queues)
	var fetchers sync.WaitGroup
	for _, q := range queues {
		fetchers.Add(1)
		go func() { defer fetchers.Done(); p.fetchLoop(ctx, q, p.cfg.Queues[q]) }()
	}
	<-ctx.Done()
	fetchers.Wait()

	p.log.Info("worker draining", "in_flight", p.inFlight(), "grace", p.cfg.ShutdownGrace)
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.ShutdownGrace):
		p.log.Warn("grace period over: cancelling and handing back jobs", "in_flight", p.inFlight())
		p.cancelJobs(errShutdown)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.log.Error("handlers ignored cancellation; their jobs return to the queue after the ack deadline", "in_flight", p.inFlight())
		}
	}
	p.cancelJobs(errShutdown)
	stopBG()
	loops.Wait()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.store.RemoveWorker(rctx, p.cfg.ID); err != nil {
		p.log.Warn("could not remove worker record; it expires by itself", "err", err)
	}
	p.log.Info("worker stopped")
	return nil
}

func (p *Pool) touch() { p.lastActive.Store(p.cfg.Now().UnixNano()) }

// idleLoop calls stop once the pool has been idle for ExitWhenIdle.
func (p *Pool) idleLoop(ctx context.Context, stop func()) {
	tick := time.NewTicker(min(p.cfg.ExitWhenIdle/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		idle := p.cfg.Now().Sub(time.Unix(0, p.lastActive.Load()))
		if p.inFlight() == 0 && idle >= p.cfg.ExitWhenIdle {
			p.log.Info("worker idle: stopping", "idle", idle.Round(time.Millisecond))
			stop()
			return
		}
	}
}

func (p *Pool) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.running)
}

func (p *Pool) info() store.WorkerInfo {
	host, _ := os.Hostname()
	return store.WorkerInfo{ID: p.cfg.ID, Hostname: host, Queues: p.cfg.Queues, InFlight: p.inFlight(), StartedAt: p.started}
}

// claimsInFlight is how many fetched batches of one queue may be claiming at
// once: the next fetch does not wait for the previous batch's claim.
const claimsInFlight = 2

// fetchLoop keeps up to concurrency jobs of one queue running.
func (p *Pool) fetchLoop(ctx context.Context, queue string, concurrency int) {
	slots := make(chan struct{}, concurrency)
	release := func(n int) {
		for range n {
			<-slots
		}
	}
	claims := make(chan struct{}, claimsInFlight)
	var dispatching sync.WaitGroup
	// Every dispatch has added its jobs to p.wg before Run waits on it.
	defer dispatching.Wait()
	failures := 0
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < min(concurrency, p.cfg.MaxFetch) {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		ds, err := p.consumer.Fetch(ctx, queue, n, p.cfg.FetchWait)
		if err != nil {
			release(n)
			if ctx.Err() != nil {
				return
			}
			failures++
			p.m.brokerError(queue, "fetch")
			p.log.Error("fetch failed", "queue", queue, "err", err)
			sleep(ctx, backoffFor(failures))
			continue
		}
		failures = 0
		release(n - len(ds))
		if len(ds) == 0 {
			continue
		}
		claims <- struct{}{}
		dispatching.Add(1)
		go func() {
			defer dispatching.Done()
			defer func() { <-claims }()
			p.dispatch(queue, ds, func() { release(1) })
		}()
	}
}

// dispatch claims the delivered jobs and starts the claimed ones; every
// other delivery is settled at once. Each started job calls release once.
func (p *Pool) dispatch(queue string, ds []events.Delivery, release func()) {
	ctx := p.jobsCtx
	p.touch()
	ids := make([]string, 0, len(ds))
	first := make(map[string]events.Delivery, len(ds))
	capped := map[string]string{}
	var dups, full []events.Delivery
	for _, d := range ds {
		if d.NumDelivered() > 1 {
			p.m.redeliver.WithLabelValues(queue).Inc()
		}
		m := d.Message()
		if _, seen := first[m.JobID]; seen {
			dups = append(dups, d)
			continue
		}
		typ, ok := p.reserveType(m.Type)
		if !ok {
			full = append(full, d)
			continue
		}
		capped[m.JobID] = typ
		first[m.JobID] = d
		ids = append(ids, m.JobID)
	}
	for _, d := range dups { // the same job twice in one fetch: the first copy runs it
		p.settle(ctx, queue, d, "duplicate", 0, false)
		release()
	}
	for _, d := range full { // its type is at its own cap here: try again shortly
		p.deferDelivery(ctx, queue, d, "type_at_limit", typeRetryDelay)
		release()
	}
	if len(ids) == 0 {
		return
	}
	results, err := p.claim(ctx, ids)
	if err != nil {
		p.m.errors.WithLabelValues("claim").Inc()
		p.log.Error("claim failed; deliveries handed back", "queue", queue, "jobs", len(ids), "err", err)
		for _, id := range ids {
			p.releaseType(capped[id])
			p.settle(ctx, queue, first[id], "claim_error", 5*time.Second, true)
			release()
		}
		return
	}
	for _, r := range results {
		d := first[r.JobID]
		switch {
		case r.Job != nil:
			t := &task{j: r.Job, d: d, extendedAt: p.cfg.Now(), capped: capped[r.JobID]}
			t.ctx = p.startAttempt(t)
			p.mu.Lock()
			p.running[r.JobID] = t
			p.mu.Unlock()
			p.wg.Add(1)
			go p.run(t, release)
			continue
		case r.Busy:
			// A live worker runs it: this is a duplicate. Look again once that
			// worker would count as dead.
			p.settle(ctx, queue, d, "busy", p.cfg.WorkerTTL, true)
		case r.Abandoned:
			p.logDelivery(ctx, slog.LevelWarn, d, r.Attempt, "job abandoned by a dead worker with no attempts left", "state", r.State)
			p.settle(ctx, queue, d, "abandoned", 0, false)
		case r.State == "":
			p.settle(ctx, queue, d, "missing", 0, false)
		default:
			p.settle(ctx, queue, d, string(r.State), 0, false)
		}
		p.releaseType(capped[r.JobID])
		release()
	}
}

// typeRetryDelay is when a delivery refused by its type's cap comes back.
const typeRetryDelay = time.Second

// reserveType takes a place under the type's own concurrency cap. It returns
// the type to release later ("" when the type has no cap) and whether a
// place was free.
func (p *Pool) reserveType(typ string) (string, bool) {
	_, spec, ok := p.reg.Lookup(typ)
	if !ok || spec.Concurrency <= 0 {
		return "", true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.typeBusy[typ] >= spec.Concurrency {
		return "", false
	}
	p.typeBusy[typ]++
	return typ, true
}

func (p *Pool) releaseType(typ string) {
	if typ == "" {
		return
	}
	p.mu.Lock()
	p.typeBusy[typ]--
	p.mu.Unlock()
}

// claim retries a failed claim briefly: a store blip should not bounce a whole batch.
func (p *Pool) claim(ctx context.Context, ids []string) ([]store.ClaimResult, error) {
	var err error
	for i := range 3 {
		var res []store.ClaimResult
		res, err = p.store.ClaimJobs(ctx, store.ClaimParams{JobIDs: ids, WorkerID: p.cfg.ID, WorkerTTL: p.cfg.WorkerTTL})
		if err == nil {
			return res, nil
		}
		sleep(ctx, backoffFor(i+1))
	}
	return nil, err
}

// settle acks a delivery that will not run here, or naks it to come back after delay.
func (p *Pool) settle(ctx context.Context, queue string, d events.Delivery, reason string, delay time.Duration, nak bool) {
	p.m.skipped.WithLabelValues(queue, reason).Inc()
	var err error
	op := "ack"
	if nak {
		op, err = "nak", d.Nak(ctx, delay)
	} else {
		err = d.Ack(ctx)
	}
	if err != nil {
		p.m.brokerError(queue, op)
		p.logDelivery(ctx, slog.LevelWarn, d, 0, "could not settle delivery; it will be redelivered", "reason", reason, "err", err)
	}
}

// deferDelivery gives back a delivery of a queued job that cannot start
// here yet, to come back after delay: to the broker while the delivery is
// young, or through the store (see Config.RepublishAfter).
func (p *Pool) deferDelivery(ctx context.Context, queue string, d events.Delivery, reason string, delay time.Duration) {
	if d.NumDelivered() < p.cfg.RepublishAfter {
		p.settle(ctx, queue, d, reason, delay, true)
		return
	}
	ok, err := p.store.DeferJob(ctx, store.DeferParams{JobID: d.Message().JobID, RunAt: p.cfg.Now().Add(delay)})
	if err != nil || !ok {
		// Not queued any more (or the store failed): the broker keeps it.
		p.settle(ctx, queue, d, reason, delay, true)
		return
	}
	p.settle(ctx, queue, d, reason+"_deferred", 0, false)
}

// run executes one attempt and records its outcome.
func (p *Pool) run(t *task, release func()) {
	defer p.wg.Done()
	defer release()
	defer p.touch()
	defer func() {
		p.mu.Lock()
		delete(p.running, t.j.ID)
		p.mu.Unlock()
		p.releaseType(t.capped)
	}()
	j := t.j
	ms := p.m.forJob(j.Queue, j.Type)
	h, spec, ok := p.reg.Lookup(j.Type)
	timeout := time.Duration(j.Timeout)
	if timeout <= 0 {
		timeout = spec.Timeout
	}
	// The handler's context: the attempt's span, cancelled on request or
	// shutdown.
	ctx, cancel := context.WithCancelCause(t.ctx)
	p.mu.Lock()
	t.cancel = cancel
	p.mu.Unlock()
	defer cancel(nil)
	span := trace.SpanFromContext(t.ctx)
	defer span.End()
	tctx, tcancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
	defer tcancel()

	start := p.cfg.Now()
	ms.started.Inc()
	ms.wait.Observe(max(0, start.Sub(j.RunAt).Seconds()))
	ms.inFlight.Inc()
	var result json.RawMessage
	var err error
	if ok {
		result, err = call(tctx, h, j)
	} else {
		err = fmt.Errorf("no handler for job type %s on worker %s", j.Type, p.cfg.ID)
		spec = job.Spec{Backoff: job.DefaultBackoff}
	}
	ms.inFlight.Dec()
	ms.duration.Observe(p.cfg.Now().Sub(start).Seconds())
	if err == nil && len(result) > 0 {
		switch {
		case len(result) > p.cfg.MaxResultBytes:
			err = SkipRetry(fmt.Errorf("result of %d bytes is over the %d-byte limit", len(result), p.cfg.MaxResultBytes))
		case !json.Valid(result):
			err = SkipRetry(errors.New("handler returned a result that is not valid JSON"))
		}
	}
	fp := p.outcome(j, spec, result, err, context.Cause(tctx))
	if fp.State == job.StateQueued && t.d.NumDelivered() >= p.cfg.RepublishAfter {
		// Handed back through the store: the relay publishes it afresh.
		fp.State, fp.RunAt = job.StateScheduled, p.cfg.Now()
	}
	ms.finished[fp.State].Inc()
	endAttempt(span, fp, err)
	switch fp.State {
	case job.StateSucceeded:
		p.logJob(t, slog.LevelDebug, "job succeeded", "duration", p.cfg.Now().Sub(start))
	case job.StateQueued, job.StateScheduled:
		p.logJob(t, slog.LevelInfo, "job handed back", "reason", "shutdown", "republished", fp.State == job.StateScheduled)
	default:
		p.logJob(t, slog.LevelInfo, "job attempt ended", "state", fp.State, "error", fp.Error, "run_at", fp.RunAt)
	}
	applied := p.finish(fp, t)
	if !applied {
		p.logJob(t, slog.LevelWarn, "outcome not recorded: the job is no longer held by this worker")
	}
	bctx := context.WithoutCancel(p.jobsCtx)
	// A hand-back through the store that did not apply keeps the message:
	// without it nothing would bring the job back.
	op := "ack"
	if fp.State == job.StateQueued || (fp.State == job.StateScheduled && !applied) {
		op, err = "nak", t.d.Nak(bctx, 0)
	} else {
		err = t.d.Ack(bctx)
	}
	if err != nil {
		p.m.brokerError(j.Queue, op)
		p.logJob(t, slog.LevelWarn, "could not settle delivery; it will be redelivered and skipped", "err", err)
	}
}

// outcome turns a handler's return into the attempt's end state.
func (p *Pool) outcome(j *job.Job, spec job.Spec, result json.RawMessage, err, cause error) store.FinishParams {
	fp := store.FinishParams{JobID: j.ID, Attempt: j.Attempt, WorkerID: p.cfg.ID}
	now := p.cfg.Now()
	switch {
	case err == nil:
		fp.State, fp.Result = job.StateSucceeded, result
		return fp
	case errors.Is(cause, errShutdown):
		fp.State, fp.RunAt = job.StateQueued, now
		return fp
	case errors.Is(cause, errCancelRequested):
		fp.State, fp.Error = job.StateCancelled, "cancelled while running: "+err.Error()
		return fp
	case errors.Is(cause, errTimeout):
		err = fmt.Errorf("timed out after %s: %w", time.Duration(j.Timeout), err)
	}
	fp.Error = truncate(err.Error(), maxErrorLen)
	if IsSkipRetry(err) || j.Attempt >= j.MaxAttempts {
		fp.State = job.StateFailed
		return fp
	}
	delay := spec.Backoff.Delay(j.Attempt, rand.Float64())
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.Delay > 0 {
		delay = ra.Delay
	}
	fp.State, fp.RunAt = job.StateRetrying, now.Add(delay)
	return fp
}

// finish records an outcome, retrying while the store is unreachable: the
// delivery stays extended meanwhile, so the job is not run twice.
func (p *Pool) finish(fp store.FinishParams, t *task) bool {
	ctx := context.WithoutCancel(p.jobsCtx)
	for i := 1; ; i++ {
		ok, err := p.store.FinishJob(ctx, fp)
		if err == nil {
			return ok
		}
		p.m.errors.WithLabelValues("finish").Inc()
		p.logJob(t, slog.LevelError, "could not record job outcome; retrying", "err", err, "try", i)
		time.Sleep(backoffFor(i))
	}
}

// call runs a handler, turning a panic into an error.
func call(ctx context.Context, h Handler, j *job.Job) (res json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", r, truncate(string(debug.Stack()), 2048))
		}
	}()
	return h(ctx, j)
}

// heartbeatLoop reports the worker alive and cancels jobs asked to stop.
func (p *Pool) heartbeatLoop(ctx context.Context) {
	tick := time.NewTicker(p.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ids, err := p.store.Heartbeat(ctx, p.info())
		if err != nil {
			if ctx.Err() == nil {
				p.m.errors.WithLabelValues("heartbeat").Inc()
				p.log.Error("heartbeat failed", "err", err)
			}
			continue
		}
		p.mu.Lock()
		for _, id := range ids {
			if t := p.running[id]; t != nil && t.cancel != nil {
				p.logJob(t, slog.LevelInfo, "cancelling running job on request")
				t.cancel(errCancelRequested)
			}
		}
		p.mu.Unlock()
	}
}

// extendLoop keeps the deliveries of long jobs from being redelivered.
func (p *Pool) extendLoop(ctx context.Context) {
	every := p.consumer.AckWait() / 3
	if every <= 0 {
		every = 10 * time.Second
	}
	tick := time.NewTicker(min(every, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := p.cfg.Now()
		var due []*task
		p.mu.Lock()
		for _, t := range p.running {
			if now.Sub(t.extendedAt) >= every {
				t.extendedAt = now
				due = append(due, t)
			}
		}
		p.mu.Unlock()
		for _, t := range due {
			if err := t.d.Extend(ctx); err != nil && ctx.Err() == nil {
				p.m.brokerError(t.j.Queue, "extend")
				p.logJob(t, slog.LevelWarn, "could not extend delivery", "err", err)
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// backoffFor is the pause after the n-th consecutive infrastructure failure.
func backoffFor(n int) time.Duration {
	return job.Backoff{Base: 100 * time.Millisecond, Max: 5 * time.Second, Min: 50 * time.Millisecond}.Delay(n, rand.Float64())
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
