// Package storetest is the conformance suite of package store: the same
// cases run against every dialect (PostgreSQL and SQLite), so that both
// behave alike where it matters to the rest of Flask.
//
// A dialect's test calls Run with a function that opens a fresh, isolated
// store; see store/store_test.go.
package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// OpenFunc opens a fresh, isolated store with cfg on an empty database that
// no other test uses, registers a t.Cleanup that closes it (and drops the
// database), and returns it WITHOUT migrating it: Run migrates it itself, so
// that the migration cases can see a database at version 0.
type OpenFunc func(t *testing.T, cfg store.Config) *store.Store

// Run runs the conformance suite against the stores open returns. Every leaf
// case gets its own store and runs in parallel with the others.
func Run(t *testing.T, open OpenFunc) {
	h := &harness{open: open}
	t.Run("Migrate", h.testMigrate)
	t.Run("Insert", h.testInsert)
	t.Run("Get", h.testGet)
	t.Run("List", h.testList)
	t.Run("Claim", h.testClaim)
	t.Run("Finish", h.testFinish)
	t.Run("Cancel", h.testCancel)
	t.Run("Retry", h.testRetry)
	t.Run("Outbox", h.testOutbox)
	t.Run("Promote", h.testPromote)
	t.Run("QueueStats", h.testQueueStats)
	t.Run("StatsTransitions", h.testStatsTransitions)
	t.Run("Workers", h.testWorkers)
	t.Run("Rescue", h.testRescue)
	t.Run("Tenants", h.testTenants)
	t.Run("Trace", h.testTrace)
	t.Run("APIKeys", h.testAPIKeys)
	t.Run("Closed", h.testClosed)
}

func (h *harness) testClosed(t *testing.T) {
	e := h.setup(t)
	j := e.running(params("default"), "w1")
	require.NoError(t, e.s.Close())
	_, _, err := e.s.InsertJobs(e.ctx, []store.InsertParams{params("default")})
	require.Error(t, err, "insert after close")
	_, err = e.s.FinishJob(e.ctx, store.FinishParams{JobID: j.ID, Attempt: 1, WorkerID: "w1", State: job.StateSucceeded})
	require.Error(t, err, "finish after close")
	e.s.ForgetOutbox([]string{unknownID}) // does nothing after close, and must not block or panic
	_, err = e.s.GetJob(e.ctx, j.ID)
	require.Error(t, err, "get after close")
	require.NoError(t, e.s.Close(), "closing twice is fine")
}

// Clock is a settable clock for store.Config.Now, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// start is where every test clock starts. Its nanoseconds check that the
// store keeps microseconds (what both databases hold) everywhere alike.
var start = time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC)

// Timeouts of the suite's waits; a case never sleeps.
const (
	ttl = 30 * time.Second // WorkerTTL used in claims
)

type harness struct {
	open OpenFunc
}

// env is one case's store and clock.
type env struct {
	t   *testing.T
	s   *store.Store
	clk *Clock
	ctx context.Context
}

// now is the clock's time as the store records it: UTC, whole microseconds.
func (e *env) now() time.Time { return e.clk.Now().UTC().Truncate(time.Microsecond) }

// setup opens a migrated store for a parallel case.
func (h *harness) setup(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	clk := NewClock(start)
	s := h.open(t, store.Config{Now: clk.Now})
	e := &env{t: t, s: s, clk: clk, ctx: t.Context()}
	applied, err := s.Migrate(e.ctx)
	require.NoError(t, err, "migrate")
	require.NotEmpty(t, applied, "migrate a fresh database")
	return e
}

// params returns valid insert parameters for queue q.
func params(q string) store.InsertParams {
	return store.InsertParams{
		Queue: q, Type: "email.send", Payload: json.RawMessage(`{"to":"ada@example.com","n":1}`),
		MaxAttempts: 3, Timeout: 90 * time.Second,
	}
}

// insert inserts one job and checks the call's outcome.
func (e *env) insert(p store.InsertParams) job.Job {
	e.t.Helper()
	res, _, err := e.s.InsertJobs(e.ctx, []store.InsertParams{p})
	require.NoError(e.t, err, "insert job")
	require.Len(e.t, res, 1)
	return res[0].Job
}

// get reads a job that must exist.
func (e *env) get(id string) job.Job {
	e.t.Helper()
	j, err := e.s.GetJob(e.ctx, id)
	require.NoError(e.t, err, "get job %s", id)
	require.NotNil(e.t, j)
	return *j
}

// heartbeat registers worker w as alive now.
func (e *env) heartbeat(w string) []string {
	e.t.Helper()
	ids, err := e.s.Heartbeat(e.ctx, store.WorkerInfo{ID: w, Hostname: "host-" + w, Queues: map[string]int{"default": 4}})
	require.NoError(e.t, err, "heartbeat of %s", w)
	return ids
}

// claim claims one job for worker w and returns its result.
func (e *env) claim(id, w string) store.ClaimResult {
	e.t.Helper()
	res, err := e.s.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: []string{id}, WorkerID: w, WorkerTTL: ttl})
	require.NoError(e.t, err, "claim %s for %s", id, w)
	require.Len(e.t, res, 1)
	require.Equal(e.t, id, res[0].JobID)
	return res[0]
}

// running inserts a job and claims it for worker w (which heartbeats first).
func (e *env) running(p store.InsertParams, w string) job.Job {
	e.t.Helper()
	j := e.insert(p)
	e.heartbeat(w)
	r := e.claim(j.ID, w)
	require.NotNil(e.t, r.Job, "claim of a queued job")
	return *r.Job
}

// finish ends the current attempt of a running job as its worker.
func (e *env) finish(j job.Job, st job.State, errMsg string, runAt time.Time) bool {
	e.t.Helper()
	ok, err := e.s.FinishJob(e.ctx, store.FinishParams{
		JobID: j.ID, Attempt: j.Attempt, WorkerID: j.WorkerID, State: st, Error: errMsg, RunAt: runAt,
		Result: json.RawMessage(`{"ok":true}`),
	})
	require.NoError(e.t, err, "finish job %s as %s", j.ID, st)
	return ok
}

// inState makes a job in the given state (in the default queue).
func (e *env) inState(st job.State) job.Job {
	e.t.Helper()
	p := params("default")
	switch st {
	case job.StateQueued:
		return e.insert(p)
	case job.StateScheduled:
		p.RunAt = e.now().Add(time.Hour)
		j := e.insert(p)
		require.Equal(e.t, job.StateScheduled, j.State)
		return j
	case job.StateRunning:
		return e.running(p, "w-setup")
	case job.StateRetrying, job.StateSucceeded, job.StateFailed:
		j := e.running(p, "w-setup")
		require.True(e.t, e.finish(j, st, "boom", e.now().Add(time.Hour)))
		return e.get(j.ID)
	case job.StateCancelled:
		j := e.insert(p)
		c, err := e.s.CancelJob(e.ctx, j.ID)
		require.NoError(e.t, err)
		require.Equal(e.t, job.StateCancelled, c.State)
		return *c
	}
	e.t.Fatalf("inState: unknown state %q", st)
	return job.Job{}
}

// outbox returns every outbox entry, oldest first.
func (e *env) outbox() []store.OutboxEntry {
	e.t.Helper()
	out, err := e.s.PendingOutbox(e.ctx, e.now().Add(1000*time.Hour), 100000)
	require.NoError(e.t, err, "read outbox")
	return out
}

// outboxFor returns the outbox entries of one job.
func (e *env) outboxFor(id string) []store.OutboxEntry {
	e.t.Helper()
	var out []store.OutboxEntry
	for _, o := range e.outbox() {
		if o.JobID == id {
			out = append(out, o)
		}
	}
	return out
}

// countJobs counts the jobs in the store.
func (e *env) countJobs() int {
	e.t.Helper()
	stats, err := e.s.QueueStats(e.ctx)
	require.NoError(e.t, err)
	n := 0
	for _, q := range stats {
		for _, c := range q.Counts {
			n += c
		}
	}
	return n
}

// requireTime checks that a time is exactly want.
func requireTime(t *testing.T, want time.Time, got time.Time, what string) {
	t.Helper()
	require.Truef(t, want.Equal(got), "%s: want %s, got %s", what, want.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
}

// requireTimePtr checks that a nullable time is set to exactly want.
func requireTimePtr(t *testing.T, want time.Time, got *time.Time, what string) {
	t.Helper()
	require.NotNilf(t, got, "%s is not set", what)
	requireTime(t, want, *got, what)
}
