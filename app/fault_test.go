package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/events"
	natsbroker "github.com/flaskhq/flask/events/nats"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store/storetest"
)

// failingBroker wraps a real broker and fails every publish while failing is set,
// after the job was committed: the fault the outbox exists for.
type failingBroker struct {
	Broker
	failing atomic.Bool
	failed  atomic.Int64
}

func (b *failingBroker) Publish(ctx context.Context, msgs ...events.Message) error {
	if b.failing.Load() {
		b.failed.Add(int64(len(msgs)))
		return errors.New("injected publish failure")
	}
	return b.Broker.Publish(ctx, msgs...)
}

// TestPublishFailureAfterCommit makes every publish fail after the API
// committed the job: the API still answers 201, and once the broker is back
// the relay's sweep publishes the job, which then runs.
func TestPublishFailureAfterCommit(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testPublishFailureAfterCommit(t, "sqlite:"+filepath.Join(t.TempDir(), "flask.db"))
	})
	t.Run("postgres", func(t *testing.T) { testPublishFailureAfterCommit(t, storetest.PostgresDB(t)) })
}

func testPublishFailureAfterCommit(t *testing.T, dbURL string) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	ns, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"), Host: "127.0.0.1", Port: -1}, log)
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	common := Common{DatabaseURL: dbURL, DBMaxConns: 4, DBFlushers: 1, Broker: "nats",
		NATS:      NATSConfig{URL: ns.ClientURL(), Stream: "FLASK_JOBS", SubjectPrefix: "flask.jobs", AckWait: 5 * time.Second, Replicas: 1, MaxAckPending: 1000},
		DemoTypes: true, LogLevel: "info", LogFormat: "text", Migrate: true}
	ctx, cancel := context.WithCancel(context.Background())
	st, err := OpenStore(ctx, common, log)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	real, err := OpenBroker(ctx, common, "test", log)
	require.NoError(t, err)
	t.Cleanup(func() { real.Close() })
	b := &failingBroker{Broker: real}
	b.failing.Store(true)
	cat, err := Catalog(common)
	require.NoError(t, err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	apiCfg := APIConfig{Common: common, MaxBodyBytes: 1 << 20, MaxBatchBodyBytes: 1 << 20, MaxPayloadBytes: 1 << 10,
		MaxBatch: 10, ShutdownTimeout: time.Second, RelayInterval: 50 * time.Millisecond, OutboxGrace: 200 * time.Millisecond, RescueAfter: time.Minute}
	wcfg := WorkerConfig{Common: common, Queues: "default", Concurrency: 2, ShutdownGrace: time.Second,
		FetchWait: time.Second, MaxFetch: 256,
		HeartbeatInterval: 100 * time.Millisecond, WorkerTTL: time.Second}
	reg, err := NewRegistry(wcfg)
	require.NoError(t, err)
	pool, err := NewPool(wcfg, st, real, reg, log, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	done := make(chan error, 2)
	go func() {
		done <- ServeAPI(ctx, apiCfg, APIParts{Store: st, Broker: b, Catalog: cat, Metrics: prometheus.NewRegistry()}, ln, log)
	}()
	go func() { done <- pool.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	base := "http://" + ln.Addr().String()
	k, err := auth.NewKey()
	require.NoError(t, err)
	require.NoError(t, EnsureAdminKey(ctx, st, k.Token(), "test", log))
	key := k.Token()
	j := postJob(t, base, key, `{"type":"demo.echo","payload":"survives"}`)
	require.Eventually(t, func() bool { return b.failed.Load() >= 2 }, 5*time.Second, 10*time.Millisecond,
		"the dispatch and at least one sweep must have failed")
	require.Equal(t, job.StateQueued, getJob(t, base, key, j.ID).State, "nothing reached a worker while publishing fails")
	n, _, err := st.OutboxStats(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the unpublished job waits in the outbox")

	b.failing.Store(false)
	require.Eventually(t, func() bool { return getJob(t, base, key, j.ID).State == job.StateSucceeded }, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		n, _, err := st.OutboxStats(ctx)
		return err == nil && n == 0
	}, 5*time.Second, 10*time.Millisecond, "the outbox is empty once published")
}

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.ClosePostgres()
	os.Exit(code)
}
