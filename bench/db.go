package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// openDB opens a small pool on dsn and checks it answers.
func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(2)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// dbURL is base with its database name replaced, the extra query
// parameters added, and, if app is not empty, application_name set (it
// names the sessions in pg_stat_activity).
func dbURL(base *url.URL, name, app string, extra url.Values) string {
	u := *base
	u.Path = "/" + name
	q := u.Query()
	for k, vs := range extra {
		for _, v := range vs {
			q.Set(k, v)
		}
	}
	if app != "" {
		q.Set("application_name", app)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// pgInfo describes the PostgreSQL server for the report.
type pgInfo struct {
	Version    string
	Settings   [][2]string
	Postmaster int
}

func readPGInfo(ctx context.Context, db *sql.DB) (pgInfo, error) {
	var info pgInfo
	if err := db.QueryRowContext(ctx, `SHOW server_version`).Scan(&info.Version); err != nil {
		return info, fmt.Errorf("read server version: %w", err)
	}
	for _, name := range []string{"fsync", "synchronous_commit", "wal_sync_method", "shared_buffers", "max_connections", "commit_delay"} {
		var v string
		if err := db.QueryRowContext(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			return info, fmt.Errorf("read setting %s: %w", name, err)
		}
		info.Settings = append(info.Settings, [2]string{name, v})
	}
	// The backend serving this session is a child of the postmaster. The
	// server is local (127.0.0.1), so its processes are visible in /proc.
	var backend int
	if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return info, fmt.Errorf("read backend pid: %w", err)
	}
	if st, err := readStat(backend); err == nil {
		info.Postmaster = st.ppid
	}
	return info, nil
}

// pgCounters are cumulative server counters: per database (transactions,
// rows) and cluster-wide (WAL).
type pgCounters struct {
	Commits, Rollbacks                 int64
	Inserted, Updated, Deleted, HotUpd int64
	WALRecords, WALBytes, WALWrites    int64
	WALSyncs, WALBuffersFull           int64
	// WALWriteTime and WALSyncTime are the time spent writing and syncing
	// WAL, counted where track_wal_io_timing is on (the scenario's
	// databases turn it on for their sessions).
	WALWriteTime, WALSyncTime time.Duration
}

// readPGCounters reads the WAL counters and, when name is not empty, the
// transaction and row counters of database name.
func readPGCounters(ctx context.Context, db *sql.DB, name string) (pgCounters, error) {
	var c pgCounters
	var walBytes string
	var writeMS, syncMS float64
	if err := db.QueryRowContext(ctx, `SELECT wal_records, wal_bytes::text, wal_write, wal_sync, wal_buffers_full, wal_write_time, wal_sync_time FROM pg_stat_wal`).
		Scan(&c.WALRecords, &walBytes, &c.WALWrites, &c.WALSyncs, &c.WALBuffersFull, &writeMS, &syncMS); err != nil {
		return c, fmt.Errorf("read pg_stat_wal: %w", err)
	}
	c.WALBytes, _ = strconv.ParseInt(walBytes, 10, 64)
	c.WALWriteTime = time.Duration(writeMS * float64(time.Millisecond))
	c.WALSyncTime = time.Duration(syncMS * float64(time.Millisecond))
	if name == "" {
		return c, nil
	}
	err := db.QueryRowContext(ctx, `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
		FROM pg_stat_database WHERE datname = $1`, name).
		Scan(&c.Commits, &c.Rollbacks, &c.Inserted, &c.Updated, &c.Deleted)
	if err != nil {
		return c, fmt.Errorf("read pg_stat_database: %w", err)
	}
	return c, nil
}

func (c pgCounters) sub(b pgCounters) pgCounters {
	return pgCounters{
		Commits: c.Commits - b.Commits, Rollbacks: c.Rollbacks - b.Rollbacks,
		Inserted: c.Inserted - b.Inserted, Updated: c.Updated - b.Updated, Deleted: c.Deleted - b.Deleted, HotUpd: c.HotUpd - b.HotUpd,
		WALRecords: c.WALRecords - b.WALRecords, WALBytes: c.WALBytes - b.WALBytes, WALWrites: c.WALWrites - b.WALWrites,
		WALSyncs: c.WALSyncs - b.WALSyncs, WALBuffersFull: c.WALBuffersFull - b.WALBuffersFull,
		WALWriteTime: c.WALWriteTime - b.WALWriteTime, WALSyncTime: c.WALSyncTime - b.WALSyncTime,
	}
}

// hotUpdates reads the HOT update count of the jobs table in the
// scenario's own database (pg_stat_all_tables is per database).
func hotUpdates(ctx context.Context, db *sql.DB) int64 {
	var n int64
	_ = db.QueryRowContext(ctx, `SELECT COALESCE(n_tup_hot_upd, 0) FROM pg_stat_user_tables WHERE relname = 'jobs'`).Scan(&n)
	return n
}

// progress counts the jobs of a scenario's database by outcome.
type progress struct {
	Succeeded, Ended, Total int
}

func readProgress(ctx context.Context, db *sql.DB) (progress, error) {
	var p progress
	err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE state = 'succeeded'),
			count(*) FILTER (WHERE state IN ('succeeded', 'failed', 'cancelled')), count(*) FROM jobs`).
		Scan(&p.Succeeded, &p.Ended, &p.Total)
	return p, err
}

// waitSucceeded polls until want jobs have succeeded, every job has ended,
// or within passes. It returns the last count, when it was seen, and how
// many polls it made (each is one transaction in the scenario's database).
func waitSucceeded(ctx context.Context, db *sql.DB, want int, within time.Duration) (progress, time.Time, int, error) {
	deadline := time.Now().Add(within)
	polls := 0
	for {
		p, err := readProgress(ctx, db)
		polls++
		if err != nil {
			return p, time.Now(), polls, fmt.Errorf("count jobs: %w", err)
		}
		if p.Succeeded >= want {
			return p, time.Now(), polls, nil
		}
		if p.Ended >= want {
			return p, time.Now(), polls, fmt.Errorf("%d of %d jobs ended, but only %d succeeded", p.Ended, want, p.Succeeded)
		}
		if time.Now().After(deadline) {
			return p, time.Now(), polls, fmt.Errorf("only %d of %d jobs succeeded after %s", p.Succeeded, want, within)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return p, time.Now(), polls, err
		}
	}
}

// dist is a latency distribution.
type dist struct {
	P50, P99, Max time.Duration
}

// jobTimes are the timestamps of the succeeded jobs, as PostgreSQL has them.
type jobTimes struct {
	N int
	// Span is max(finished_at) - min(created_at); Ingest is the spread of
	// created_at; Drain is max(finished_at) - max(created_at).
	Span, Ingest, Drain time.Duration
	// Start is started_at - created_at (submitted → claimed by a worker);
	// Finish is finished_at - created_at.
	Start, Finish dist
}

func readJobTimes(ctx context.Context, db *sql.DB) (jobTimes, error) {
	var t jobTimes
	var span, ingest, drain, startMax, finishMax sql.NullFloat64
	var startP, finishP pq.Float64Array
	err := db.QueryRowContext(ctx, `SELECT count(*),
			EXTRACT(EPOCH FROM max(finished_at) - min(created_at)),
			EXTRACT(EPOCH FROM max(created_at) - min(created_at)),
			EXTRACT(EPOCH FROM max(finished_at) - max(created_at)),
			percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM started_at - created_at)),
			max(EXTRACT(EPOCH FROM started_at - created_at)),
			percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - created_at)),
			max(EXTRACT(EPOCH FROM finished_at - created_at))
		FROM jobs WHERE state = 'succeeded'`).
		Scan(&t.N, &span, &ingest, &drain, &startP, &startMax, &finishP, &finishMax)
	if err != nil {
		return t, fmt.Errorf("read job timestamps: %w", err)
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	t.Span, t.Ingest, t.Drain = sec(span.Float64), sec(ingest.Float64), sec(drain.Float64)
	if len(startP) == 2 {
		t.Start = dist{P50: sec(startP[0]), P99: sec(startP[1]), Max: sec(startMax.Float64)}
	}
	if len(finishP) == 2 {
		t.Finish = dist{P50: sec(finishP[0]), P99: sec(finishP[1]), Max: sec(finishMax.Float64)}
	}
	return t, nil
}

// fsyncProbe measures how many 8 KiB write+fdatasync rounds a second the
// file system under dir sustains: the ceiling of un-grouped commits.
func fsyncProbe(dir string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 8192)
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		if _, err := f.WriteAt(buf, int64(n%64)*8192); err != nil {
			return 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// dataDirFS is the directory of PostgreSQL's data, when visible here.
func dataDirFS(ctx context.Context, db *sql.DB) string {
	var dir string
	if err := db.QueryRowContext(ctx, `SHOW data_directory`).Scan(&dir); err != nil {
		return ""
	}
	return filepath.Dir(dir)
}
