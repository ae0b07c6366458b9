package store_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

// benchStores runs fn against PostgreSQL (skipped when TEST_DATABASE_URL is
// unset: benchmarks are not tests) and SQLite, each on a fresh migrated store.
func benchStores(b *testing.B, fn func(b *testing.B, s *store.Store)) {
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv("TEST_DATABASE_URL") == "" {
			b.Skip(storetest.HowToRunPostgres)
		}
		s := openPostgres(b, store.Config{})
		_, err := s.Migrate(context.Background())
		require.NoError(b, err)
		fn(b, s)
	})
	b.Run("sqlite", func(b *testing.B) {
		s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Config{}, discard())
		require.NoError(b, err)
		b.Cleanup(func() { _ = s.Close() })
		_, err = s.Migrate(context.Background())
		require.NoError(b, err)
		fn(b, s)
	})
}

func benchParams() store.InsertParams {
	return store.InsertParams{
		Queue: "default", Type: "email.send", Payload: json.RawMessage(`{"to":"ada@example.com","subject":"hello"}`),
		MaxAttempts: 5, Timeout: time.Minute,
	}
}

// BenchmarkInsertJobs measures concurrent single-job inserts (one op = one
// job; group commit merges them) and 1000-job batches (one op = one batch).
func BenchmarkInsertJobs(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		b.Run("single-parallel", func(b *testing.B) {
			ctx := context.Background()
			b.SetParallelism(16) // 16 callers per CPU, like an API under load
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				p := []store.InsertParams{benchParams()}
				for pb.Next() {
					if _, _, err := s.InsertJobs(ctx, p); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run("batch-1000", func(b *testing.B) {
			ctx := context.Background()
			batch := make([]store.InsertParams, 1000)
			for i := range batch {
				batch[i] = benchParams()
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.InsertJobs(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/job")
		})
	})
}

// BenchmarkClaimFinish measures the worker's path: claim one job, finish it,
// from many goroutines at once (one op = one job claimed and finished).
func BenchmarkClaimFinish(b *testing.B) {
	benchStores(b, func(b *testing.B, s *store.Store) {
		ctx := context.Background()
		_, err := s.Heartbeat(ctx, store.WorkerInfo{ID: "bench", Hostname: "bench", Queues: map[string]int{"default": 1}})
		require.NoError(b, err)
		b.StopTimer()
		ids := make([]string, 0, b.N)
		for len(ids) < b.N {
			batch := make([]store.InsertParams, min(1000, b.N-len(ids)))
			for i := range batch {
				batch[i] = benchParams()
			}
			res, _, err := s.InsertJobs(ctx, batch)
			require.NoError(b, err)
			for _, r := range res {
				ids = append(ids, r.Job.ID)
			}
		}
		var next atomic.Int64
		b.SetParallelism(16)
		b.ReportAllocs()
		b.StartTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := ids[next.Add(1)-1]
				res, err := s.ClaimJobs(ctx, store.ClaimParams{JobIDs: []string{id}, WorkerID: "bench", WorkerTTL: time.Minute})
				if err != nil || res[0].Job == nil {
					b.Errorf("claim %s: %v %+v", id, err, res)
					return
				}
				ok, err := s.FinishJob(ctx, store.FinishParams{
					JobID: id, Attempt: res[0].Job.Attempt, WorkerID: "bench", State: job.StateSucceeded, Result: json.RawMessage(`{}`),
				})
				if err != nil || !ok {
					b.Errorf("finish %s: %v %v", id, ok, err)
					return
				}
			}
		})
	})
}
