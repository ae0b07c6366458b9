package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/flaskhq/flask/store"
)

// storeRow is one setting of the store micro-benchmark.
type storeRow struct {
	Flushers int
	Err      string
	Jobs     int
	Elapsed  time.Duration
	Commits  int64
	Insert   opSummary
}

// JobsPerSec is the rate at which jobs were inserted and their outbox
// entries deleted.
func (r storeRow) JobsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Jobs) / r.Elapsed.Seconds()
}

// storeBench isolates the single-submission path's database work: callers
// goroutines each insert one job (store.InsertJobs, group commit) and then
// hand its outbox entry to store.ForgetOutbox (deleted in the background),
// as the API does around its publish, for d, once per number of
// group-commit flushers (store.Config.Flushers; the binaries use the
// default, 4). It counts the transactions committed to tell how many jobs
// each carried.
func (b *bench) storeBench(ctx context.Context, callers int, d time.Duration, flushers []int) []storeRow {
	var out []storeRow
	for _, fl := range flushers {
		fmt.Fprintf(os.Stderr, "bench: store micro-benchmark: %d callers, Flushers=%d\n", callers, fl)
		r, err := b.storeBenchOne(ctx, callers, d, fl)
		if err != nil {
			r.Err = err.Error()
		}
		out = append(out, r)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

func (b *bench) storeBenchOne(ctx context.Context, callers int, d time.Duration, flushers int) (storeRow, error) {
	r := storeRow{Flushers: flushers}
	name := "flask_bench_store_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := b.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return r, fmt.Errorf("create database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := b.admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", name, err)
		}
	}()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, dbURL(b.base, name, "", b.cfg.dbParams), store.Config{MaxOpenConns: b.cfg.dbConns, Flushers: flushers}, log)
	if err != nil {
		return r, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return r, err
	}
	before, err := readPGCounters(ctx, b.admin, name)
	if err != nil {
		st.Close()
		return r, err
	}
	insert := &opStats{Name: "InsertJobs"}
	params := []store.InsertParams{{Queue: "default", Type: "demo.echo", Payload: json.RawMessage("null"), MaxAttempts: 5, Timeout: time.Minute}}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range callers {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				_, entries, err := st.InsertJobs(ctx, params)
				t1 := time.Now()
				if err == nil {
					insert.add(1, t1.Sub(t0))
					ids := make([]string, len(entries))
					for i, e := range entries {
						ids[i] = e.ID
					}
					st.ForgetOutbox(ids)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	r.Elapsed = time.Since(start)
	st.Close()
	waitNoBackends(ctx, b, name)
	after, err := readPGCounters(ctx, b.admin, name)
	if err != nil {
		return r, err
	}
	r.Insert = insert.summary()
	r.Jobs = r.Insert.Calls
	r.Commits = after.Commits - before.Commits
	return r, firstErr
}
