package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flaskhq/flask/job"
)

// newID returns a time-ordered UUIDv7 string.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

type insertOutcome struct {
	results []InsertResult
	outbox  []OutboxEntry
}

// InsertJobs inserts jobs all-or-nothing and returns, in order, each job and
// whether it already existed under its idempotency key, plus the outbox
// entries of the jobs that are runnable now (publish them, then ForgetOutbox).
// Concurrent calls share transactions.
func (s *Store) InsertJobs(ctx context.Context, params []InsertParams) ([]InsertResult, []OutboxEntry, error) {
	if len(params) == 0 {
		return nil, nil, nil
	}
	out, err := s.inserts.do(ctx, params)
	if err != nil {
		return nil, nil, fmt.Errorf("insert %d jobs: %w", len(params), err)
	}
	return out.results, out.outbox, nil
}

// pendingJob is one row to insert, built from its params.
type pendingJob struct {
	job.Job
	tenant      string
	call, index int
	// outboxID is the id of the job's outbox entry ("" for a scheduled job).
	outboxID string
}

func (s *Store) insertGroup(ctx context.Context, calls [][]InsertParams) ([]insertOutcome, error) {
	now := s.now()
	var rows []pendingJob
	for c, params := range calls {
		for i, p := range params {
			tenant := p.Tenant
			if tenant == "" {
				tenant = DefaultTenant
			}
			j := job.Job{
				ID: newID(), Tenant: tenant, Queue: p.Queue, Type: p.Type, Payload: p.Payload, State: job.StateQueued,
				MaxAttempts: p.MaxAttempts, Timeout: job.Duration(p.Timeout), RunAt: now, CreatedAt: now,
				IdempotencyKey: p.IdempotencyKey, Errors: []job.AttemptError{}, Trace: p.Trace,
			}
			if encodeTrace(p.Trace).String == "" {
				j.Trace = nil // not kept: see encodeTrace
			}
			if len(j.Payload) == 0 {
				j.Payload = json.RawMessage("null")
			}
			if runAt := dbPrecision(p.RunAt); !p.RunAt.IsZero() && runAt.After(now) {
				j.State, j.RunAt = job.StateScheduled, runAt
			}
			rows = append(rows, pendingJob{Job: j, tenant: tenant, call: c, index: i})
		}
	}
	for i := range rows {
		if rows[i].State == job.StateQueued {
			rows[i].outboxID = newID()
		}
	}
	out := make([]insertOutcome, len(calls))
	for c, params := range calls {
		out[c].results = make([]InsertResult, len(params))
	}
	var inserted map[string]bool
	var existing map[string]job.Job
	var err error
	if s.d == postgres {
		// One statement, committed on its own: jobs and outbox rows together,
		// without the round trips of BEGIN and COMMIT.
		if inserted, err = s.insertRowsPG(ctx, rows, now); err == nil {
			existing, err = s.existingByKey(ctx, s.db, rows, inserted)
		}
	} else {
		err = s.inTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			if inserted, err = s.insertRowsSQLite(ctx, tx, rows, now); err != nil {
				return err
			}
			if existing, err = s.existingByKey(ctx, tx, rows, inserted); err != nil {
				return err
			}
			var outbox []OutboxEntry
			for _, r := range rows {
				if inserted[r.ID] && r.outboxID != "" {
					outbox = append(outbox, OutboxEntry{ID: r.outboxID, JobID: r.ID, Queue: r.Queue, Type: r.Type, CreatedAt: now, Trace: r.Trace})
				}
			}
			return s.insertOutbox(ctx, tx, outbox)
		})
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		res := &out[r.call].results[r.index]
		if inserted[r.ID] {
			res.Job = r.Job
			if r.outboxID != "" {
				out[r.call].outbox = append(out[r.call].outbox, OutboxEntry{ID: r.outboxID, JobID: r.ID, Queue: r.Queue, Type: r.Type, CreatedAt: now, Trace: r.Trace})
			}
			continue
		}
		orig, ok := existing[tenantKey(r.tenant, r.IdempotencyKey)]
		if !ok {
			return nil, fmt.Errorf("job %s was neither inserted nor found by idempotency key", r.ID)
		}
		res.Job, res.Existing = orig, true
	}
	return out, nil
}

// insertRowsPG inserts the rows and the outbox entries of those runnable
// now, skipping rows whose idempotency key exists, and returns the ids
// inserted.
func (s *Store) insertRowsPG(ctx context.Context, rows []pendingJob, now time.Time) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	n := len(rows)
	ids, queues, types, payloads, states, keys := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	tenants := make([]string, n)
	maxAtt, timeouts := make([]int64, n), make([]int64, n)
	runAts := make([]time.Time, n)
	traces := make([]sql.NullString, n)
	var outIDs, outJobs []string
	for i, r := range rows {
		ids[i], queues[i], types[i], payloads[i], states[i], keys[i] = r.ID, r.Queue, r.Type, string(r.Payload), string(r.State), r.IdempotencyKey
		maxAtt[i], timeouts[i] = int64(r.MaxAttempts), time.Duration(r.Timeout).Milliseconds()
		runAts[i], tenants[i], traces[i] = r.RunAt, r.tenant, encodeTrace(r.Trace)
		if r.outboxID != "" {
			outIDs, outJobs = append(outIDs, r.outboxID), append(outJobs, r.ID)
		}
	}
	// Rows of one INSERT with the same key: the first is inserted, the others
	// conflict with it and are skipped, as on SQLite. The outbox rows are
	// written only for the jobs inserted, by the same statement.
	q := `WITH ins AS (
			INSERT INTO jobs (id, queue, type, payload, state, max_attempts, timeout_ms, run_at, created_at, idempotency_key, tenant, trace_context)
			SELECT t.id, t.queue, t.type, t.payload::jsonb, t.state, t.max_attempts, t.timeout_ms, t.run_at, $10::timestamptz, NULLIF(t.idempotency_key, ''), t.tenant, t.trace_context
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::timestamptz[], $9::text[], $13::text[], $14::text[])
				AS t(id, queue, type, payload, state, max_attempts, timeout_ms, run_at, idempotency_key, tenant, trace_context)
			ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id, queue, type
		), outbox AS (
			INSERT INTO job_outbox (id, job_id, queue, type, created_at)
			SELECT o.id, ins.id, ins.queue, ins.type, $10::timestamptz
			FROM unnest($11::uuid[], $12::uuid[]) AS o(id, job_id) JOIN ins ON ins.id = o.job_id
		)
		SELECT id FROM ins`
	var got []string
	if err := s.db.SelectContext(ctx, &got, q, pq.Array(ids), pq.Array(queues), pq.Array(types), pq.Array(payloads),
		pq.Array(states), pq.Array(maxAtt), pq.Array(timeouts), pq.Array(pgTimes(runAts)), pq.Array(keys), s.ts(now),
		pq.Array(outIDs), pq.Array(outJobs), pq.Array(tenants), pq.Array(traces)); err != nil {
		return nil, s.translate(err)
	}
	for _, id := range got {
		inserted[id] = true
	}
	return inserted, nil
}

// insertRowsSQLite inserts the rows in tx, skipping those whose idempotency
// key exists, and returns the ids inserted. The caller writes the outbox.
func (s *Store) insertRowsSQLite(ctx context.Context, tx *sqlx.Tx, rows []pendingJob, now time.Time) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	stmt, err := tx.PreparexContext(ctx, `INSERT INTO jobs (id, queue, type, payload, state, max_attempts, timeout_ms, run_at, created_at, idempotency_key, tenant, trace_context)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, ''), ?, ?)
		ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`)
	if err != nil {
		return nil, s.translate(err)
	}
	defer stmt.Close()
	for _, r := range rows {
		res, err := stmt.ExecContext(ctx, r.ID, r.Queue, r.Type, string(r.Payload), string(r.State), r.MaxAttempts,
			time.Duration(r.Timeout).Milliseconds(), s.ts(r.RunAt), s.ts(now), r.IdempotencyKey, r.tenant, encodeTrace(r.Trace))
		if err != nil {
			return nil, s.translate(err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			inserted[r.ID] = true
		}
	}
	return inserted, nil
}

// existingByKey loads the jobs that own the idempotency keys of rows not
// inserted, keyed by tenantKey.
func (s *Store) existingByKey(ctx context.Context, q sqlx.QueryerContext, rows []pendingJob, inserted map[string]bool) (map[string]job.Job, error) {
	var tenants, keys []string
	for _, r := range rows {
		if !inserted[r.ID] && r.IdempotencyKey != "" {
			tenants, keys = append(tenants, r.tenant), append(keys, r.IdempotencyKey)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	var query string
	var args []any
	if s.d == postgres {
		query = `SELECT ` + jobColumns + ` FROM jobs WHERE idempotency_key IS NOT NULL AND (tenant, idempotency_key) IN
			(SELECT * FROM unnest($1::text[], $2::text[]))`
		args = []any{pq.Array(tenants), pq.Array(keys)}
	} else {
		pairs := make([][2]string, len(keys))
		for i := range keys {
			pairs[i] = [2]string{tenants[i], keys[i]}
		}
		b, _ := json.Marshal(pairs) // strings always marshal
		query = `SELECT ` + jobColumns + ` FROM jobs WHERE idempotency_key IS NOT NULL AND (tenant, idempotency_key) IN
			(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`
		args = []any{string(b)}
	}
	var found []jobRow
	if err := sqlx.SelectContext(ctx, q, &found, query, args...); err != nil {
		return nil, s.translate(err)
	}
	out := make(map[string]job.Job, len(found))
	for i := range found {
		j, err := found[i].job()
		if err != nil {
			return nil, err
		}
		out[tenantKey(found[i].Tenant, j.IdempotencyKey)] = j
	}
	return out, nil
}

// tenantKey joins a tenant and an idempotency key into one map key.
func tenantKey(tenant, key string) string { return tenant + "\x00" + key }

// tenantFilter renders the condition that limits a query to tenant's jobs,
// or "" for AllTenants.
func tenantFilter(tenant string) (string, []any) {
	if tenant == AllTenants {
		return "", nil
	}
	return " AND tenant = ?", []any{tenant}
}

// GetJob returns one job, whatever its tenant.
func (s *Store) GetJob(ctx context.Context, id string) (*job.Job, error) {
	return s.GetTenantJob(ctx, AllTenants, id)
}

// GetTenantJob returns one job of tenant (any tenant's for AllTenants):
// job.ErrNotFound when the job belongs to another tenant.
func (s *Store) GetTenantJob(ctx context.Context, tenant, id string) (*job.Job, error) {
	cid, ok := canonicalID(id)
	if !ok {
		return nil, job.ErrNotFound
	}
	cond, targs := tenantFilter(tenant)
	var r jobRow
	if err := s.db.GetContext(ctx, &r, s.rebind(`SELECT `+jobColumns+` FROM jobs WHERE id = ?`+cond), append([]any{cid}, targs...)...); err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, s.translate(err))
	}
	j, err := r.job()
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// GetJobs returns the jobs that exist among ids, in no particular order.
func (s *Store) GetJobs(ctx context.Context, ids []string) ([]job.Job, error) {
	valid := canonicalIDs(ids)
	if len(valid) == 0 {
		return nil, nil
	}
	cond, arg := s.inList("id", "uuid", valid)
	var rows []jobRow
	if err := s.db.SelectContext(ctx, &rows, s.rebind(`SELECT `+jobColumns+` FROM jobs WHERE `+cond), arg); err != nil {
		return nil, fmt.Errorf("get %d jobs: %w", len(valid), s.translate(err))
	}
	return jobsFromRows(rows)
}

// ListJobs returns up to p.Limit jobs, newest first, older than p.Cursor.
func (s *Store) ListJobs(ctx context.Context, p ListParams) ([]job.Job, error) {
	var where []string
	var args []any
	if p.Tenant != AllTenants {
		where, args = append(where, "tenant = ?"), append(args, p.Tenant)
	}
	if p.Queue != "" {
		where, args = append(where, "queue = ?"), append(args, p.Queue)
	}
	if p.State != "" {
		where, args = append(where, "state = ?"), append(args, string(p.State))
	}
	if p.Type != "" {
		where, args = append(where, "type = ?"), append(args, p.Type)
	}
	if p.Cursor != "" {
		cursor, ok := canonicalID(p.Cursor)
		if !ok {
			return nil, fmt.Errorf("list jobs: cursor %q is not a job id", p.Cursor)
		}
		// UUIDv7 ids sort by creation: byte order on PostgreSQL's uuid, text
		// order of the canonical lower-case form on SQLite — the same order.
		where, args = append(where, "id < ?"), append(args, cursor)
	}
	limit := p.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	q := `SELECT ` + jobColumns + ` FROM jobs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	var rows []jobRow
	if err := s.db.SelectContext(ctx, &rows, s.rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list jobs: %w", s.translate(err))
	}
	return jobsFromRows(rows)
}

func jobsFromRows(rows []jobRow) ([]job.Job, error) {
	out := make([]job.Job, 0, len(rows))
	for i := range rows {
		j, err := rows[i].job()
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// CancelJob cancels a scheduled, queued or retrying job at once. A running job
// stays running with CancelRequestedAt set; its worker cancels the handler's
// context when it next looks (within a heartbeat). Other states give a
// *job.StateError.
func (s *Store) CancelJob(ctx context.Context, id string) (*job.Job, error) {
	return s.CancelTenantJob(ctx, AllTenants, id)
}

// CancelTenantJob is CancelJob for a job of tenant (any tenant's for
// AllTenants): job.ErrNotFound when the job belongs to another tenant.
func (s *Store) CancelTenantJob(ctx context.Context, tenant, id string) (*job.Job, error) {
	cid, ok := canonicalID(id)
	if !ok {
		return nil, job.ErrNotFound
	}
	now := s.ts(s.now())
	cond, targs := tenantFilter(tenant)
	// A second request for a running job keeps the time of the first.
	q := s.rebind(`UPDATE jobs SET
			state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
			finished_at = CASE WHEN state = 'running' THEN finished_at ELSE ? END,
			cancel_requested_at = CASE WHEN state = 'running' THEN COALESCE(cancel_requested_at, ?) ELSE cancel_requested_at END
		WHERE id = ? AND state IN ('scheduled', 'queued', 'retrying', 'running')` + cond + `
		RETURNING ` + jobColumns)
	var r jobRow
	err := s.db.GetContext(ctx, &r, q, append([]any{now, now, cid}, targs...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s.stateError(ctx, s.db, tenant, cid, "cancel")
	}
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: %w", id, s.translate(err))
	}
	j, err := r.job()
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// RetryJob queues a failed or cancelled job again, keeping its history. If it
// had used all its attempts it gets one more. It returns the outbox entry to
// publish.
func (s *Store) RetryJob(ctx context.Context, id string) (*job.Job, []OutboxEntry, error) {
	return s.RetryTenantJob(ctx, AllTenants, id)
}

// RetryTenantJob is RetryJob for a job of tenant (any tenant's for
// AllTenants): job.ErrNotFound when the job belongs to another tenant.
func (s *Store) RetryTenantJob(ctx context.Context, tenant, id string) (*job.Job, []OutboxEntry, error) {
	cid, ok := canonicalID(id)
	if !ok {
		return nil, nil, job.ErrNotFound
	}
	now := s.now()
	greatest := "GREATEST"
	if s.d == sqlite {
		greatest = "MAX"
	}
	cond, targs := tenantFilter(tenant)
	var j job.Job
	var entry OutboxEntry
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var r jobRow
		err := tx.GetContext(ctx, &r, s.rebind(`UPDATE jobs SET state = 'queued', run_at = ?, finished_at = NULL,
				cancel_requested_at = NULL, max_attempts = `+greatest+`(max_attempts, attempt + 1)
			WHERE id = ? AND state IN ('failed', 'cancelled')`+cond+`
			RETURNING `+jobColumns), append([]any{s.ts(now), cid}, targs...)...)
		if errors.Is(err, sql.ErrNoRows) {
			// Ask inside the transaction: SQLite's only connection is ours.
			return s.stateError(ctx, tx, tenant, cid, "retry")
		}
		if err != nil {
			return s.translate(err)
		}
		if j, err = r.job(); err != nil {
			return err
		}
		entry = OutboxEntry{ID: newID(), JobID: j.ID, Queue: j.Queue, Type: j.Type, CreatedAt: now, Trace: j.Trace}
		return s.insertOutbox(ctx, tx, []OutboxEntry{entry})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("retry job %s: %w", id, err)
	}
	return &j, []OutboxEntry{entry}, nil
}

// stateError explains why an update matched no row: the job is missing (or
// another tenant's), or its state does not allow op.
func (s *Store) stateError(ctx context.Context, q sqlx.QueryerContext, tenant, id, op string) error {
	cond, targs := tenantFilter(tenant)
	var st string
	err := sqlx.GetContext(ctx, q, &st, s.rebind(`SELECT state FROM jobs WHERE id = ?`+cond), append([]any{id}, targs...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return job.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("%s job %s: %w", op, id, s.translate(err))
	}
	return &job.StateError{ID: id, Op: op, State: job.State(st)}
}

// QueueStats counts jobs by queue and state, with the oldest waiting job per
// queue, over every tenant.
func (s *Store) QueueStats(ctx context.Context) ([]QueueStats, error) {
	return s.TenantQueueStats(ctx, AllTenants)
}

// TenantQueueStats is QueueStats over the jobs of tenant only (every
// tenant's for AllTenants): ActiveQueueStats and TerminalQueueStats merged.
// Its cost grows with every job ever finished; readers that poll should
// read the two halves at their own pace.
func (s *Store) TenantQueueStats(ctx context.Context, tenant string) ([]QueueStats, error) {
	active, err := s.ActiveQueueStats(ctx, tenant)
	if err != nil {
		return nil, err
	}
	terminal, err := s.TerminalQueueStats(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return MergeQueueStats(active, terminal), nil
}

// Predicates of the two halves of the statistics. activeStates must stay
// the predicate of the partial index jobs_active, word for word: SQLite
// uses a partial index only for a query that repeats its condition.
const (
	activeStates   = `state IN ('scheduled', 'queued', 'running', 'retrying')`
	terminalStates = `state IN ('succeeded', 'failed', 'cancelled')`
)

// ActiveQueueStats counts the jobs of tenant (every tenant's for
// AllTenants) that still need a worker — scheduled, queued, running,
// retrying — by queue and state, with the oldest queued job per queue. It is
// an index-only scan of the partial index jobs_active: its cost follows the
// backlog, not the jobs ever run. Queues with no such job are absent.
func (s *Store) ActiveQueueStats(ctx context.Context, tenant string) ([]QueueStats, error) {
	q, args := s.activeStatsQuery(tenant)
	var rows []statsRow
	if err := s.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("active queue stats: %w", s.translate(err))
	}
	return groupStats(rows), nil
}

// TerminalQueueStats counts the finished jobs of tenant (every tenant's for
// AllTenants) — succeeded, failed, cancelled — by queue and state. These
// counts grow without bound: the query scans an entry per finished job (the
// index jobs_queue_state for every tenant, the table for one), so poll it
// far less often than ActiveQueueStats. OldestQueuedAt is always nil.
func (s *Store) TerminalQueueStats(ctx context.Context, tenant string) ([]QueueStats, error) {
	cond, targs := tenantFilter(tenant)
	var rows []statsRow
	if err := s.db.SelectContext(ctx, &rows, s.rebind(`SELECT queue, state, COUNT(*) AS n, NULL AS oldest FROM jobs
		WHERE `+terminalStates+cond+` GROUP BY queue, state`), targs...); err != nil {
		return nil, fmt.Errorf("terminal queue stats: %w", s.translate(err))
	}
	return groupStats(rows), nil
}

// activeStatsQuery is ActiveQueueStats' statement and arguments.
func (s *Store) activeStatsQuery(tenant string) (string, []any) {
	cond, args := tenantFilter(tenant)
	return s.rebind(`SELECT queue, state, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs
		WHERE ` + activeStates + cond + ` GROUP BY queue, state`), args
}

// statsRow is one (queue, state) group of the statistics queries.
type statsRow struct {
	Queue  string `db:"queue"`
	State  string `db:"state"`
	N      int    `db:"n"`
	Oldest dbTime `db:"oldest"`
}

// groupStats folds the groups into one QueueStats per queue, sorted by
// queue; the oldest queued job is the queued group's MIN(run_at).
func groupStats(rows []statsRow) []QueueStats {
	out := make([]QueueStats, 0, len(rows))
	idx := map[string]int{}
	for _, r := range rows {
		i, ok := idx[r.Queue]
		if !ok {
			i = len(out)
			idx[r.Queue] = i
			out = append(out, QueueStats{Queue: r.Queue, Counts: map[job.State]int{}})
		}
		out[i].Counts[job.State(r.State)] = r.N
		if job.State(r.State) == job.StateQueued {
			out[i].OldestQueuedAt = r.Oldest.ptr()
		}
	}
	slices.SortFunc(out, func(a, b QueueStats) int { return strings.Compare(a.Queue, b.Queue) })
	return out
}

// MergeQueueStats joins statistics of disjoint sets of states — what
// ActiveQueueStats and TerminalQueueStats return — into one QueueStats per
// queue, sorted by queue. The inputs are not modified.
func MergeQueueStats(a, b []QueueStats) []QueueStats {
	byQueue := make(map[string]*QueueStats, len(a)+len(b))
	for _, part := range [][]QueueStats{a, b} {
		for _, q := range part {
			m, ok := byQueue[q.Queue]
			if !ok {
				m = &QueueStats{Queue: q.Queue, Counts: make(map[job.State]int, 7)}
				byQueue[q.Queue] = m
			}
			for st, n := range q.Counts {
				m.Counts[st] += n
			}
			if q.OldestQueuedAt != nil && (m.OldestQueuedAt == nil || q.OldestQueuedAt.Before(*m.OldestQueuedAt)) {
				t := *q.OldestQueuedAt
				m.OldestQueuedAt = &t
			}
		}
	}
	out := make([]QueueStats, 0, len(byQueue))
	for _, q := range byQueue {
		out = append(out, *q)
	}
	slices.SortFunc(out, func(a, b QueueStats) int { return strings.Compare(a.Queue, b.Queue) })
	return out
}

// CountWaiting counts the jobs of tenant that wait to run: scheduled,
// queued or retrying. It reads a range of the partial index jobs_active
// (whose condition the query repeats, for SQLite's sake).
func (s *Store) CountWaiting(ctx context.Context, tenant string) (int, error) {
	var n int
	if err := s.db.GetContext(ctx, &n, s.rebind(`SELECT COUNT(*) FROM jobs WHERE tenant = ? AND `+activeStates+` AND state <> 'running'`), tenant); err != nil {
		return 0, fmt.Errorf("count waiting jobs of tenant %s: %w", tenant, s.translate(err))
	}
	return n, nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", s.translate(err))
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.translate(err))
	}
	return nil
}

// translate maps driver errors to domain errors: no row is
// job.ErrNotFound, a unique violation job.ErrDuplicate. Others are returned
// as they are, for the caller to wrap.
func (s *Store) translate(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return job.ErrNotFound
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return fmt.Errorf("%w: %s", job.ErrDuplicate, pqErr.Message)
	}
	var liteErr *sqlitedrv.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", job.ErrDuplicate, err)
		}
	}
	return err
}
