package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// putJobs adds n jobs of tenant in queue q and state st, queued at runAt.
func putJobs(h *harness, tenant, q string, st job.State, n int, runAt time.Time) {
	for range n {
		h.store.PutTenant(tenant, job.Job{ID: newTestID(), Queue: q, Type: "email.send", State: st,
			MaxAttempts: 3, Timeout: job.Duration(time.Minute), RunAt: runAt, CreatedAt: runAt, Errors: []job.AttemptError{}})
	}
}

var testIDs atomic.Int64

func newTestID() string { return fmt.Sprintf("0190c1f0-0000-7000-8000-%012d", testIDs.Add(1)) }

func decodeScaling(t *testing.T, w *httptest.ResponseRecorder) ScalingView {
	t.Helper()
	res := w.Result()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	var v ScalingView
	require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
	return v
}

// A worker counts as live for the workers' TTL, whatever it is set to: with
// FLASK_WORKER_TTL at 2m, a worker last heard of 90 s ago still counts (with
// the default 30s it would not).
func TestQueueScalingWorkerTTL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ttl     time.Duration
		workers int
	}{{0, 1}, {2 * time.Minute, 2}} {
		h := newHarness(t, Config{WorkerTTL: c.ttl})
		key := h.store.AddKey("acme", auth.ScopeStats)
		h.store.SetWorkers([]store.WorkerInfo{
			{ID: "w1", Queues: map[string]int{"mail": 10}, HeartbeatAt: testNow.Add(-5 * time.Second)},
			{ID: "w2", Queues: map[string]int{"mail": 10}, HeartbeatAt: testNow.Add(-90 * time.Second)},
		})
		v := decodeScaling(t, h.do(request{method: http.MethodGet, path: "/v1/stats/queues/mail",
			header: map[string]string{"Authorization": "Bearer " + key}}))
		require.Equal(t, c.workers, v.Workers, "worker TTL %s", c.ttl)
	}
}

func TestQueueScaling(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	key := h.store.AddKey("acme", auth.ScopeStats)
	get := func(path string) *httptest.ResponseRecorder {
		return h.do(request{method: http.MethodGet, path: path, header: map[string]string{"Authorization": "Bearer " + key}})
	}
	// Two tenants' jobs count together: autoscalers scale for everyone.
	putJobs(h, "acme", "mail", job.StateQueued, 3, testNow.Add(-40*time.Second))
	putJobs(h, "globex", "mail", job.StateQueued, 2, testNow.Add(-10*time.Second))
	putJobs(h, "globex", "mail", job.StateRunning, 4, testNow.Add(-time.Minute))
	putJobs(h, "acme", "mail", job.StateScheduled, 1, testNow.Add(time.Hour))
	putJobs(h, "acme", "mail", job.StateRetrying, 1, testNow.Add(time.Minute))
	putJobs(h, "acme", "mail", job.StateSucceeded, 7, testNow.Add(-time.Hour))
	h.store.SetWorkers([]store.WorkerInfo{
		{ID: "w1", Queues: map[string]int{"mail": 10, "media": 2}, HeartbeatAt: testNow.Add(-2 * time.Second)},
		{ID: "w2", Queues: map[string]int{"mail": 5}, HeartbeatAt: testNow.Add(-10 * time.Second)},
		{ID: "gone", Queues: map[string]int{"mail": 50}, HeartbeatAt: testNow.Add(-time.Hour)},
	})

	v := decodeScaling(t, get("/v1/stats/queues/mail"))
	require.Equal(t, ScalingView{Queue: "mail", Scheduled: 1, Queued: 5, Running: 4, Retrying: 1, Backlog: 9,
		OldestAgeSeconds: 40, Workers: 2, Slots: 15, ObservedAt: testNow}, v)

	// A queue of the catalog with no job yet: zeros, so that KEDA can scale
	// it from zero without an error.
	v = decodeScaling(t, get("/v1/stats/queues/media"))
	require.Equal(t, ScalingView{Queue: "media", Workers: 1, Slots: 2, ObservedAt: testNow}, v)
	v = decodeScaling(t, get("/v1/stats/queues/default"))
	require.Equal(t, 0, v.Backlog)

	for _, name := range []string{"nope", "Bad%20Name", strings.Repeat("q", 300)} {
		p := decodeProblem(t, get("/v1/stats/queues/"+name), http.StatusNotFound)
		require.Equal(t, []string{"queue"}, p.fields(), name)
	}
}

// A stats:read key reads the statistics and nothing else.
func TestStatsScopeIsLeastPrivilege(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	key := e.h.store.AddKey("acme", auth.ScopeStats)
	for rt, rule := range routeRules {
		if rule.open || rule.scope == anyScope || rule.scope == auth.ScopeStats {
			continue
		}
		method, pattern, _ := strings.Cut(rt, " ")
		w := e.h.do(request{method: method, path: e.path(method, pattern), body: rule.body,
			header: map[string]string{"Authorization": "Bearer " + key}})
		decodeProblem(t, w, http.StatusForbidden)
	}
	scopes, err := auth.ParseScopes([]string{"stats:read"})
	require.NoError(t, err)
	require.Equal(t, []auth.Scope{auth.ScopeStats}, scopes)
	require.True(t, auth.Principal{Scopes: []auth.Scope{auth.ScopeAdmin}}.Allows(auth.ScopeStats), "admin implies stats:read")
}

func TestQueueScalingStoreDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.store.FailWith(func(op string) error {
		if op == "QueueStats" {
			return errors.New("connection refused")
		}
		return nil
	})
	decodeProblem(t, h.get("/v1/stats/queues/mail"), http.StatusInternalServerError)
	require.Contains(t, h.scrape().Body.String(), "flask_queue_stats_up 0")
}

// The cache answers many callers with one read, reads again after its TTL,
// and does not keep a failure.
func TestStatsCache(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	var reads atomic.Int64
	var fail atomic.Bool
	release := make(chan struct{})
	h.store.FailWith(func(op string) error {
		if op != "QueueStats" {
			return nil
		}
		reads.Add(1)
		<-release
		if fail.Load() {
			return errors.New("boom")
		}
		return nil
	})
	c := newStatsCache(h.store, slog.New(slog.DiscardHandler), func() time.Time { return testNow }, time.Hour, time.Hour, time.Minute, time.Minute)

	// Ten callers at once while the first read is held: one read.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); _, err := c.get(t.Context()); errs <- err }()
	}
	require.Eventually(t, func() bool { return reads.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	_, err := c.get(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(1), reads.Load(), "served from the cache within the TTL")

	// Expired: read again; a failed read is returned and not cached.
	c.ttl = 0
	fail.Store(true)
	_, err = c.get(t.Context())
	require.ErrorContains(t, err, "boom")
	fail.Store(false)
	_, err = c.get(t.Context())
	require.NoError(t, err)
	require.Equal(t, int64(3), reads.Load())
}

// queuedAndSucceeded returns the queued and succeeded counts of queue q in
// a snapshot.
func queuedAndSucceeded(s *snapshot, q string) (queued, succeeded int) {
	for _, qs := range s.queues {
		if qs.Queue == q {
			return qs.Counts[job.StateQueued], qs.Counts[job.StateSucceeded]
		}
	}
	return 0, 0
}

// The finished jobs' counts are read at most once per terminalTTL while the
// active counts are read once per ttl.
func TestStatsCacheTerminalPace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	var active, terminal atomic.Int64
	h.store.FailWith(func(op string) error {
		switch op {
		case "QueueStats":
			active.Add(1)
		case "TerminalQueueStats":
			terminal.Add(1)
		}
		return nil
	})
	putJobs(h, "acme", "mail", job.StateQueued, 2, testNow)
	putJobs(h, "acme", "mail", job.StateSucceeded, 5, testNow)
	var ticks atomic.Int64 // a clock one second further at each reading
	now := func() time.Time { return testNow.Add(time.Duration(ticks.Add(1)) * time.Second) }
	c := newStatsCache(h.store, slog.New(slog.DiscardHandler), now, 0, time.Hour, time.Minute, time.Minute)

	s, err := c.get(t.Context())
	require.NoError(t, err)
	require.True(t, s.terminal, "the first read waits for the finished counts")
	firstRead := s.terminalAt
	require.False(t, firstRead.IsZero())
	queued, succeeded := queuedAndSucceeded(s, "mail")
	require.Equal(t, [2]int{2, 5}, [2]int{queued, succeeded})

	putJobs(h, "acme", "mail", job.StateQueued, 1, testNow)
	putJobs(h, "acme", "mail", job.StateSucceeded, 1, testNow)
	for range 3 {
		s, err = c.get(t.Context())
		require.NoError(t, err)
	}
	queued, succeeded = queuedAndSucceeded(s, "mail")
	require.Equal(t, [2]int{3, 5}, [2]int{queued, succeeded}, "active counts fresh, finished ones kept for terminalTTL")
	require.Equal(t, int64(4), active.Load())
	require.Equal(t, int64(1), terminal.Load())
	require.Equal(t, firstRead, s.terminalAt, "the same finished reading: the dashboard samples it once")

	c.mu.Lock()
	c.terminalTTL = 0
	c.mu.Unlock()
	s, err = c.get(t.Context())
	require.NoError(t, err)
	queued, succeeded = queuedAndSucceeded(s, "mail")
	require.Equal(t, [2]int{3, 6}, [2]int{queued, succeeded}, "read again once expired")
	require.Equal(t, int64(2), terminal.Load())
	require.True(t, s.terminalAt.After(firstRead), "a new finished reading carries its own time")
}

// A terminal read slower than the read timeout holds up nothing: the active
// counts are served without finished ones, which /metrics then leaves out
// rather than reporting zeros, and they appear once the slow read ends. A
// failed terminal read leaves the last counts in place.
func TestStatsCacheSlowTerminalRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{CheckTimeout: 100 * time.Millisecond}) // how long the first scrape waits
	release := make(chan struct{})
	var fail atomic.Bool
	h.store.FailWith(func(op string) error {
		if op != "TerminalQueueStats" {
			return nil
		}
		<-release
		if fail.Load() {
			return errors.New("boom")
		}
		return nil
	})
	putJobs(h, "acme", "mail", job.StateQueued, 2, testNow)
	putJobs(h, "acme", "mail", job.StateFailed, 4, testNow)

	scrape := h.scrape().Body.String()
	require.Contains(t, scrape, "flask_queue_stats_up 1")
	require.Contains(t, scrape, `flask_queue_jobs{queue="mail",state="queued"} 2`)
	require.NotContains(t, scrape, `state="failed"`, "unknown, not zero")
	w := h.do(request{method: http.MethodGet, path: "/v1/stats/queues/mail"})
	require.Equal(t, 2, decodeScaling(t, w).Queued)

	h.srv.stats.mu.Lock()
	pending := h.srv.stats.terminalPending
	h.srv.stats.mu.Unlock()
	require.NotNil(t, pending, "the slow read goes on")
	close(release)
	<-pending
	require.Contains(t, h.scrape().Body.String(), `flask_queue_jobs{queue="mail",state="failed"} 4`)

	fail.Store(true)
	putJobs(h, "acme", "mail", job.StateFailed, 1, testNow)
	require.Contains(t, h.scrape().Body.String(), `flask_queue_jobs{queue="mail",state="failed"} 4`, "the last counts stay")
}
