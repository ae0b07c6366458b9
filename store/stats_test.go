package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

// TestActiveStatsUseTheirIndex checks that the statistics autoscalers poll
// read the partial index jobs_active alone (an index-only scan; on SQLite a
// covering index), for every tenant and for one, on a table where finished
// jobs outnumber active ones a hundred to one.
func TestActiveStatsUseTheirIndex(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, s *store.Store, want string) {
		ctx := t.Context()
		_, err := s.Migrate(ctx)
		require.NoError(t, err)
		require.NoError(t, store.Populate(ctx, s, 20000, 200, time.Now()))
		require.NoError(t, store.Analyze(ctx, s))
		for _, tenant := range []string{store.AllTenants, "t1"} {
			plan, err := store.ActiveStatsPlan(ctx, s, tenant)
			require.NoError(t, err)
			require.Contains(t, plan, want, "tenant %q", tenant)
		}
		stats, err := s.ActiveQueueStats(ctx, store.AllTenants)
		require.NoError(t, err)
		n := 0
		for _, q := range stats {
			for _, c := range q.Counts {
				n += c
			}
		}
		require.Equal(t, 200, n, "every active job counted, no finished one")
	}
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		check(t, openPostgres(t, store.Config{}), "Index Only Scan using jobs_active on jobs")
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		check(t, openSQLite(t, store.Config{}), "USING COVERING INDEX jobs_active")
	})
}

// BenchmarkQueueStats reads the queue statistics of a table holding
// 1,000,000 finished jobs and 1,000 active ones (4 queues, 3 tenants), on
// PostgreSQL only (TEST_DATABASE_URL): "legacy" is the single count over
// every state that served autoscalers before migration 0004, "active" what
// they read now, "terminal" the finished counts read at the slower pace,
// "tenant-*" one tenant's halves (GET /v1/queues). The table is filled once
// per run with one INSERT … SELECT, which takes 20–30 s.
func BenchmarkQueueStats(b *testing.B) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		b.Skip(storetest.HowToRunPostgres)
	}
	ctx := context.Background()
	s := openPostgres(b, store.Config{})
	_, err := s.Migrate(ctx)
	require.NoError(b, err)
	require.NoError(b, store.Populate(ctx, s, 1_000_000, 1_000, time.Now()))
	require.NoError(b, store.Analyze(ctx, s))
	for _, c := range []struct {
		name string
		read func() error
	}{
		{"legacy", func() error { _, err := store.LegacyQueueStats(ctx, s); return err }},
		{"active", func() error { _, err := s.ActiveQueueStats(ctx, store.AllTenants); return err }},
		{"terminal", func() error { _, err := s.TerminalQueueStats(ctx, store.AllTenants); return err }},
		{"tenant-active", func() error { _, err := s.ActiveQueueStats(ctx, "t1"); return err }},
		{"tenant-terminal", func() error { _, err := s.TerminalQueueStats(ctx, "t1"); return err }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
