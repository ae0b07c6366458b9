package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events"
	natsbroker "github.com/flaskhq/flask/events/nats"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/relay"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/worker"
)

// rig is a real SQLite store and an embedded NATS server.
type rig struct {
	st  *store.Store
	b   *natsbroker.Broker
	log *slog.Logger
}

func newRig(t *testing.T) *rig {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	ns, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Host: "127.0.0.1", Port: -1}, log)
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "flask.db"), store.Config{}, log)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	b, err := natsbroker.New(ctx, natsbroker.Config{URL: ns.ClientURL(), AckWait: 5 * time.Second}, log)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return &rig{st: st, b: b, log: log}
}

// submit inserts jobs and publishes them, as the API does.
func (r *rig) submit(t *testing.T, typ string, n int) []string {
	t.Helper()
	params := make([]store.InsertParams, n)
	for i := range params {
		params[i] = store.InsertParams{Queue: "default", Type: typ, Payload: json.RawMessage(`{}`), MaxAttempts: 3, Timeout: time.Minute}
	}
	res, out, err := r.st.InsertJobs(context.Background(), params)
	require.NoError(t, err)
	msgs := make([]events.Message, len(out))
	for i, e := range out {
		msgs[i] = events.Message{ID: e.ID, JobID: e.JobID, Queue: e.Queue, Type: e.Type}
	}
	require.NoError(t, r.b.Publish(context.Background(), msgs...))
	ids := make([]string, n)
	for i, x := range res {
		ids[i] = x.Job.ID
	}
	return ids
}

func (r *rig) run(t *testing.T, reg *worker.Registry, concurrency int) {
	t.Helper()
	r.start(t, reg, worker.Config{Queues: map[string]int{"default": concurrency}})
}

// start runs a pool with cfg plus the rig's short timings until stop is
// called or the test ends; it returns the pool's metrics.
func (r *rig) start(t *testing.T, reg *worker.Registry, cfg worker.Config) (metrics *prometheus.Registry, stop func()) {
	t.Helper()
	cfg.ID = "w-test"
	cfg.FetchWait, cfg.HeartbeatInterval, cfg.WorkerTTL = 100*time.Millisecond, 50*time.Millisecond, time.Second
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = time.Second
	}
	metrics = prometheus.NewRegistry()
	pool, err := worker.New(cfg, r.st, r.b, reg, r.log, metrics)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); require.NoError(t, <-done) }) }
	t.Cleanup(stop)
	return metrics, stop
}

// relay runs the outbox relay, which publishes deferred and retrying jobs
// when they are due, as flask-api does.
func (r *rig) relay(t *testing.T) {
	t.Helper()
	rl, err := relay.New(relay.Config{Interval: 20 * time.Millisecond}, r.st, r.b, r.log, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rl.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
}

// counter reads a counter of the pool's metrics (0 when absent).
func counter(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func (r *rig) waitAll(t *testing.T, ids []string, want job.State) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, id := range ids {
			j, err := r.st.GetJob(context.Background(), id)
			if err != nil || j.State != want {
				return false
			}
		}
		return true
	}, 15*time.Second, 10*time.Millisecond)
}

// TestTypeConcurrencyCap runs jobs of a type capped at 1 on a queue allowing
// 8: never two at once, and all of them finish.
func TestTypeConcurrencyCap(t *testing.T) {
	r := newRig(t)
	var running, peak atomic.Int32
	reg := worker.NewRegistry()
	require.NoError(t, reg.Register(job.Spec{Type: "capped", Concurrency: 1}, func(ctx context.Context, j *job.Job) (json.RawMessage, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(30 * time.Millisecond)
		return nil, nil
	}))
	require.NoError(t, reg.Register(job.Spec{Type: "free"}, func(context.Context, *job.Job) (json.RawMessage, error) { return nil, nil }))
	r.relay(t)
	// RepublishAfter 1: every refused delivery is deferred through the
	// store and published afresh, never handed back to the broker.
	metrics, _ := r.start(t, reg, worker.Config{Queues: map[string]int{"default": 8}, RepublishAfter: 1})
	capped := r.submit(t, "capped", 4)
	free := r.submit(t, "free", 20)
	r.waitAll(t, append(capped, free...), job.StateSucceeded)
	require.Equal(t, int32(1), peak.Load(), "a type capped at 1 never runs twice at once")
	require.Positive(t, counter(t, metrics, "flask_deliveries_skipped_total", map[string]string{"reason": "type_at_limit_deferred"}),
		"refused deliveries went through the store")
	require.Zero(t, counter(t, metrics, "flask_deliveries_skipped_total", map[string]string{"reason": "type_at_limit"}))
	for _, id := range capped {
		j, err := r.st.GetJob(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, 1, j.Attempt, "a deferral is not an attempt")
	}
}

// TestHandBackThroughTheStore stops a worker with a job still running: from
// RepublishAfter deliveries on, the job goes back through the store (the
// relay publishes it afresh) and runs to its end on the next worker.
func TestHandBackThroughTheStore(t *testing.T) {
	r := newRig(t)
	r.relay(t)
	started := make(chan struct{}, 2)
	var calls atomic.Int32
	reg := worker.NewRegistry()
	require.NoError(t, reg.Register(job.Spec{Type: "slow"}, func(ctx context.Context, j *job.Job) (json.RawMessage, error) {
		started <- struct{}{}
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first worker stops before it ends
			return nil, ctx.Err()
		}
		return json.RawMessage(`"done"`), nil
	}))
	metrics, stop := r.start(t, reg, worker.Config{Queues: map[string]int{"default": 2}, RepublishAfter: 1, ShutdownGrace: time.Millisecond})
	ids := r.submit(t, "slow", 1)
	<-started
	stop()
	j, err := r.st.GetJob(context.Background(), ids[0])
	require.NoError(t, err)
	require.Contains(t, []job.State{job.StateScheduled, job.StateQueued}, j.State, "handed back")
	require.Zero(t, j.Attempt, "the unfinished attempt does not count")
	require.Equal(t, 1.0, counter(t, metrics, "flask_jobs_finished_total", map[string]string{"state": "scheduled"}))

	r.run(t, reg, 2)
	r.waitAll(t, ids, job.StateSucceeded)
	j, err = r.st.GetJob(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, 1, j.Attempt)
	require.Equal(t, int32(2), calls.Load())
}

// TestCancelRunningJob cancels a job while its handler runs: the handler's
// context ends and the job is recorded as cancelled.
func TestCancelRunningJob(t *testing.T) {
	r := newRig(t)
	started := make(chan struct{})
	var once sync.Once
	reg := worker.NewRegistry()
	require.NoError(t, reg.Register(job.Spec{Type: "wait"}, func(ctx context.Context, j *job.Job) (json.RawMessage, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	r.run(t, reg, 2)
	ids := r.submit(t, "wait", 1)
	<-started
	_, err := r.st.CancelJob(context.Background(), ids[0])
	require.NoError(t, err)
	r.waitAll(t, ids, job.StateCancelled)
	j, err := r.st.GetJob(context.Background(), ids[0])
	require.NoError(t, err)
	require.Contains(t, j.Error, "cancelled while running")
	require.NotNil(t, j.FinishedAt)
}

// TestTimeoutAndPanic: a handler past its deadline and a panicking handler
// both fail their attempt with the cause recorded, and retry up to the cap.
func TestTimeoutAndPanic(t *testing.T) {
	r := newRig(t)
	reg := worker.NewRegistry()
	fast := job.Backoff{Base: time.Millisecond, Max: time.Millisecond}
	require.NoError(t, reg.Register(job.Spec{Type: "panics", Backoff: fast}, func(context.Context, *job.Job) (json.RawMessage, error) {
		panic("boom")
	}))
	r.run(t, reg, 2)
	ids := r.submit(t, "panics", 1)
	// Retrying jobs need the relay to be queued again; here the test plays it.
	require.Eventually(t, func() bool {
		out, err := r.st.PromoteDue(context.Background(), 10)
		require.NoError(t, err)
		for _, e := range out {
			require.NoError(t, r.b.Publish(context.Background(), events.Message{ID: e.ID, JobID: e.JobID, Queue: e.Queue, Type: e.Type}))
		}
		j, err := r.st.GetJob(context.Background(), ids[0])
		return err == nil && j.State == job.StateFailed
	}, 15*time.Second, 20*time.Millisecond)
	j, err := r.st.GetJob(context.Background(), ids[0])
	require.NoError(t, err)
	require.Equal(t, 3, j.Attempt)
	require.Len(t, j.Errors, 3)
	require.Contains(t, j.Errors[0].Error, "handler panicked: boom")
}

// TestExitWhenIdle: a pool with ExitWhenIdle runs what is queued, then stops
// by itself once nothing came for that long, as a Kubernetes Job's worker.
func TestExitWhenIdle(t *testing.T) {
	r := newRig(t)
	reg := worker.NewRegistry()
	require.NoError(t, reg.Register(job.Spec{Type: "quick"}, func(context.Context, *job.Job) (json.RawMessage, error) {
		time.Sleep(50 * time.Millisecond)
		return nil, nil
	}))
	ids := r.submit(t, "quick", 5)
	pool, err := worker.New(worker.Config{ID: "w-idle", Queues: map[string]int{"default": 2}, FetchWait: 50 * time.Millisecond,
		HeartbeatInterval: 50 * time.Millisecond, WorkerTTL: time.Second, ExitWhenIdle: 300 * time.Millisecond},
		r.st, r.b, reg, r.log, prometheus.NewRegistry())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- pool.Run(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("an idle pool with ExitWhenIdle kept running")
	}
	for _, id := range ids {
		j, err := r.st.GetJob(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, job.StateSucceeded, j.State, "every queued job ran before the pool stopped")
	}
	workers, err := r.st.ListWorkers(context.Background())
	require.NoError(t, err)
	require.Empty(t, workers, "it left like a drained worker")
}
