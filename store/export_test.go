package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ActiveStatsPlan returns the database's plan of ActiveQueueStats' query
// (EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), one line per node.
func ActiveStatsPlan(ctx context.Context, s *Store, tenant string) (string, error) {
	q, args := s.activeStatsQuery(tenant)
	if s.d == postgres {
		var lines []string
		err := s.db.SelectContext(ctx, &lines, "EXPLAIN "+q, args...)
		return strings.Join(lines, "\n"), err
	}
	var rows []struct {
		ID      int    `db:"id"`
		Parent  int    `db:"parent"`
		NotUsed int    `db:"notused"`
		Detail  string `db:"detail"`
	}
	err := s.db.SelectContext(ctx, &rows, "EXPLAIN QUERY PLAN "+q, args...)
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.Detail
	}
	return strings.Join(lines, "\n"), err
}

// Analyze refreshes the planner's statistics of the jobs table, as
// autovacuum would after a bulk load.
func Analyze(ctx context.Context, s *Store) error {
	q := "VACUUM ANALYZE jobs"
	if s.d == sqlite {
		q = "ANALYZE"
	}
	_, err := s.db.ExecContext(ctx, q)
	return err
}

// Populate inserts finished jobs and active ones (scheduled, queued,
// running, retrying) in one INSERT … SELECT each, spread over the queues
// q0…q3 and the tenants t0…t2 round robin; run_at goes back one second per
// job from now.
func Populate(ctx context.Context, s *Store, finished, active int, now time.Time) error {
	for _, part := range []struct {
		n      int
		states string
	}{
		{finished, "'succeeded', 'succeeded', 'succeeded', 'failed', 'cancelled'"},
		{active, "'scheduled', 'queued', 'queued', 'running', 'retrying'"},
	} {
		if part.n == 0 {
			continue
		}
		var q string
		if s.d == postgres {
			q = `INSERT INTO jobs (id, queue, type, payload, state, attempt, max_attempts, timeout_ms, run_at, created_at, tenant)
				SELECT gen_random_uuid(), 'q' || (i % 4), 'bench', '{}', (ARRAY[` + part.states + `])[1 + i % 5], 1, 3, 60000,
					$1::timestamptz - make_interval(secs => i), $1::timestamptz - make_interval(secs => i), 't' || (i % 3)
				FROM generate_series(1, $2) AS i`
		} else {
			q = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
				INSERT INTO jobs (id, queue, type, payload, state, attempt, max_attempts, timeout_ms, run_at, created_at, tenant)
				SELECT lower(hex(randomblob(16))), 'q' || (i % 4), 'bench', '{}', json_extract(json_array(` + part.states + `), '$[' || (i % 5) || ']'), 1, 3, 60000,
					?1 - i * 1000000, ?1 - i * 1000000, 't' || (i % 3)
				FROM n`
		}
		if _, err := s.db.ExecContext(ctx, q, s.ts(now), part.n); err != nil {
			return fmt.Errorf("populate %d jobs: %w", part.n, err)
		}
	}
	return nil
}

// LegacyQueueStats is TenantQueueStats as it was before the statistics
// were split (migration 0004): one count over every job of every state,
// then the oldest queued job. The benchmark compares it with the split.
func LegacyQueueStats(ctx context.Context, s *Store) (int, error) {
	var counts []struct {
		Queue string `db:"queue"`
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &counts, `SELECT queue, state, COUNT(*) AS n FROM jobs GROUP BY queue, state ORDER BY queue`); err != nil {
		return 0, err
	}
	var oldest []struct {
		Queue string `db:"queue"`
		At    dbTime `db:"at"`
	}
	if err := s.db.SelectContext(ctx, &oldest, `SELECT queue, MIN(run_at) AS at FROM jobs WHERE state = 'queued' GROUP BY queue`); err != nil {
		return 0, err
	}
	return len(counts) + len(oldest), nil
}
