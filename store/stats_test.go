package store_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

// TestActiveStatsUseTheirIndex checks that the statistics autoscalers poll
// read the partial index jobs_active, for every tenant and for one, on a
// table where finished jobs outnumber active ones a hundred to one, so their
// cost follows the active jobs, not the table. PostgreSQL's planner picks an
// index-only scan or, with a visibility map not yet all-visible, a bitmap
// scan of the same index (both read only active rows); neither a sequential
// scan nor the all-states index may appear. SQLite uses it as a covering
// index.
func TestActiveStatsUseTheirIndex(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, s *store.Store, want []string) {
		ctx := t.Context()
		_, err := s.Migrate(ctx)
		require.NoError(t, err)
		require.NoError(t, store.Populate(ctx, s, 20000, 200, time.Now()))
		require.NoError(t, store.Analyze(ctx, s))
		for _, tenant := range []string{store.AllTenants, "t1"} {
			plan, err := store.ActiveStatsPlan(ctx, s, tenant)
			require.NoError(t, err)
			require.Truef(t, containsAny(plan, want), "tenant %q: want one of %q in the plan:\n%s", tenant, want, plan)
			require.NotContains(t, plan, "Seq Scan", "tenant %q", tenant)
			require.NotContains(t, plan, "jobs_queue_state", "tenant %q", tenant)
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
		check(t, openPostgres(t, store.Config{}), []string{"Index Only Scan using jobs_active on jobs", "Bitmap Index Scan on jobs_active"})
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		check(t, openSQLite(t, store.Config{}), []string{"USING COVERING INDEX jobs_active"})
	})
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
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
