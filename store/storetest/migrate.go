package storetest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/store"
)

// fresh opens a store on an empty database, without migrating it.
func (h *harness) fresh(t *testing.T) *env {
	t.Helper()
	t.Parallel()
	clk := NewClock(start)
	return &env{t: t, s: h.open(t, store.Config{Now: clk.Now}), clk: clk, ctx: t.Context()}
}

func (h *harness) testMigrate(t *testing.T) {
	t.Run("FreshDatabase", func(t *testing.T) {
		e := h.fresh(t)
		latest, err := e.s.LatestSchemaVersion()
		require.NoError(t, err)
		require.Positive(t, latest)

		v, err := e.s.SchemaVersion(e.ctx)
		require.NoError(t, err)
		require.Zero(t, v, "an empty database is at version 0")
		err = e.s.CheckSchema(e.ctx)
		require.Error(t, err, "CheckSchema on an unmigrated database")
		require.Contains(t, err.Error(), "migrate")

		applied, err := e.s.Migrate(e.ctx)
		require.NoError(t, err)
		want := make([]int, latest)
		for i := range want {
			want[i] = i + 1
		}
		require.Equal(t, want, applied, "every migration applied, in order")
		v, err = e.s.SchemaVersion(e.ctx)
		require.NoError(t, err)
		require.Equal(t, latest, v)
		require.NoError(t, e.s.CheckSchema(e.ctx))

		applied, err = e.s.Migrate(e.ctx)
		require.NoError(t, err)
		require.Empty(t, applied, "a second Migrate applies nothing")
		require.NoError(t, e.s.CheckSchema(e.ctx))
	})

	t.Run("Concurrent", func(t *testing.T) {
		e := h.fresh(t)
		results := make([][]int, 4)
		errs := make([]error, len(results))
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() { results[i], errs[i] = e.s.Migrate(e.ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		latest, err := e.s.LatestSchemaVersion()
		require.NoError(t, err)
		seen := map[int]int{}
		for _, r := range results {
			for _, v := range r {
				seen[v]++
			}
		}
		require.Len(t, seen, latest, "every version applied by some migrator")
		for v, n := range seen {
			require.Equal(t, 1, n, "version %d applied %d times", v, n)
		}
		require.NoError(t, e.s.CheckSchema(e.ctx))
	})
}
