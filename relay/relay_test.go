package relay

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/store"
)

// fakeStore is an in-memory outbox with a number of due jobs.
type fakeStore struct {
	mu      sync.Mutex
	outbox  map[string]store.OutboxEntry
	due     int
	deleted []string
	rescues []store.RescueParams
}

func (f *fakeStore) ForgetOutbox(ids []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		delete(f.outbox, id)
		f.deleted = append(f.deleted, id)
	}
}

func (f *fakeStore) PendingOutbox(_ context.Context, olderThan time.Time, limit int) ([]store.OutboxEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.OutboxEntry
	for _, e := range f.outbox {
		if !e.CreatedAt.After(olderThan) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeStore) PromoteDue(_ context.Context, limit int) ([]store.OutboxEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := min(limit, f.due)
	f.due -= n
	out := make([]store.OutboxEntry, n)
	for i := range out {
		out[i] = store.OutboxEntry{ID: time.Now().Format(time.RFC3339Nano) + string(rune('a'+i%26)), JobID: "j", Queue: "q", Type: "t", CreatedAt: time.Now()}
		f.outbox[out[i].ID] = out[i]
	}
	return out, nil
}

func (f *fakeStore) PruneWorkers(context.Context, time.Time) (int, error) { return 0, nil }

func (f *fakeStore) RescueJobs(_ context.Context, p store.RescueParams) (store.RescueResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rescues = append(f.rescues, p)
	return store.RescueResult{Retried: 2, Ended: 1}, nil
}

type fakePub struct {
	mu   sync.Mutex
	fail bool
	got  []events.Message
}

func (p *fakePub) Publish(_ context.Context, msgs ...events.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("broker down")
	}
	p.got = append(p.got, msgs...)
	return nil
}

func (p *fakePub) Close() error { return nil }

func newRelay(t *testing.T, cfg Config) (*Relay, *fakeStore, *fakePub) {
	t.Helper()
	st := &fakeStore{outbox: map[string]store.OutboxEntry{}}
	pub := &fakePub{}
	r, err := New(cfg, st, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.NoError(t, err)
	return r, st, pub
}

func TestDispatchDeletesOnlyWhatWasPublished(t *testing.T) {
	r, st, pub := newRelay(t, Config{})
	tc := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	e := store.OutboxEntry{ID: "o1", JobID: "j1", Queue: "q", Type: "t", CreatedAt: time.Now(), Trace: tc}
	st.outbox["o1"] = e
	pub.fail = true
	r.Dispatch(context.Background(), []store.OutboxEntry{e})
	require.Contains(t, st.outbox, "o1", "a failed publish leaves the entry for the sweep")
	var m dto.Metric
	require.NoError(t, r.pubErrors.WithLabelValues("q").Write(&m))
	require.Equal(t, 1.0, m.GetCounter().GetValue(), "the failed publish is counted for its queue")

	pub.fail = false
	r.Dispatch(context.Background(), []store.OutboxEntry{e})
	require.NotContains(t, st.outbox, "o1")
	require.Equal(t, []events.Message{{ID: "o1", JobID: "j1", Queue: "q", Type: "t", Trace: tc}}, pub.got, "the job's trace context goes with it")
}

func TestSweepRepublishesOnlyOldEntries(t *testing.T) {
	now := time.Now()
	r, st, pub := newRelay(t, Config{OutboxGrace: 5 * time.Second, Now: func() time.Time { return now }})
	st.outbox["old"] = store.OutboxEntry{ID: "old", JobID: "j1", Queue: "q", CreatedAt: now.Add(-time.Minute)}
	st.outbox["new"] = store.OutboxEntry{ID: "new", JobID: "j2", Queue: "q", CreatedAt: now}
	require.NoError(t, r.sweep(context.Background()))
	require.Len(t, pub.got, 1)
	require.Equal(t, "old", pub.got[0].ID)
	require.Contains(t, st.outbox, "new", "a fresh entry is left to its own request")
}

func TestPromoteDrainsFullBatches(t *testing.T) {
	r, st, pub := newRelay(t, Config{BatchSize: 10})
	st.due = 25
	require.NoError(t, r.promote(context.Background()))
	require.Zero(t, st.due, "promote loops while batches come back full")
	require.Len(t, pub.got, 25)
	require.Empty(t, st.outbox)
}

func TestRunStopsWithContext(t *testing.T) {
	r, st, pub := newRelay(t, Config{Interval: 5 * time.Millisecond})
	st.mu.Lock()
	st.due = 3
	st.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return len(pub.got) == 3
	}, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestRunRescuesLostAttempts(t *testing.T) {
	reg := prometheus.NewRegistry()
	st := &fakeStore{outbox: map[string]store.OutboxEntry{}}
	r, err := New(Config{Interval: 5 * time.Millisecond, RescueAfter: 7 * time.Minute, BatchSize: 50}, st, &fakePub{},
		slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.rescues) > 0
	}, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, store.RescueParams{SilentFor: 7 * time.Minute, Limit: 50}, st.rescues[0])
	require.Len(t, st.rescues, 1, "once a minute, not every tick")
	for outcome, want := range map[string]float64{"retried": 2, "ended": 1} {
		var m dto.Metric
		require.NoError(t, r.rescued.WithLabelValues(outcome).Write(&m))
		require.Equal(t, want, m.GetCounter().GetValue(), outcome)
	}

	_, err = New(Config{RescueAfter: 2 * time.Hour}, st, &fakePub{}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.ErrorContains(t, err, "RescueAfter", "a rescue after the worker records are pruned would find nothing")
}
