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
	pool, err := worker.New(worker.Config{ID: "w-test", Queues: map[string]int{"default": concurrency}, FetchWait: 100 * time.Millisecond,
		HeartbeatInterval: 50 * time.Millisecond, WorkerTTL: time.Second, ShutdownGrace: time.Second},
		r.st, r.b, reg, r.log, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	t.Cleanup(func() { cancel(); require.NoError(t, <-done) })
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
	r.run(t, reg, 8)
	capped := r.submit(t, "capped", 4)
	free := r.submit(t, "free", 20)
	r.waitAll(t, append(capped, free...), job.StateSucceeded)
	require.Equal(t, int32(1), peak.Load(), "a type capped at 1 never runs twice at once")
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
