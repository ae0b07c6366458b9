package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

func (s *Store) insertOutbox(ctx context.Context, tx *sqlx.Tx, entries []OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if s.d == postgres {
		n := len(entries)
		ids, jobIDs, queues, types, created := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
		for i, e := range entries {
			ids[i], jobIDs[i], queues[i], types[i], created[i] = e.ID, e.JobID, e.Queue, e.Type, e.CreatedAt
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO job_outbox (id, job_id, queue, type, created_at)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[])`,
			pq.Array(ids), pq.Array(jobIDs), pq.Array(queues), pq.Array(types), pq.Array(pgTimes(created)))
		if err != nil {
			return fmt.Errorf("insert outbox: %w", s.translate(err))
		}
		return nil
	}
	stmt, err := tx.PreparexContext(ctx, `INSERT INTO job_outbox (id, job_id, queue, type, created_at) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("insert outbox: %w", s.translate(err))
	}
	defer stmt.Close()
	for _, e := range entries {
		if _, err := stmt.ExecContext(ctx, e.ID, e.JobID, e.Queue, e.Type, s.ts(e.CreatedAt)); err != nil {
			return fmt.Errorf("insert outbox: %w", s.translate(err))
		}
	}
	return nil
}

// forgetInterval is how long ForgetOutbox's ids wait at most before deletion.
const forgetInterval = 20 * time.Millisecond

// ForgetOutbox schedules outbox entries for deletion without waiting for it:
// they are deleted in one shared statement within about 20ms (at once when a
// full batch is waiting). Use it after a publish succeeded. A crash before the
// deletion only means the sweep publishes them again, which is harmless, so
// the caller need not pay a transaction's latency.
//
// Ids that are malformed or gone are ignored. After Close it does nothing:
// the sweep of another process publishes those entries again.
func (s *Store) ForgetOutbox(ids []string) {
	if len(ids) == 0 {
		return
	}
	select {
	case <-s.forgetStop:
		return
	default:
	}
	s.forgetMu.Lock()
	s.forget = append(s.forget, ids...)
	full := len(s.forget) >= s.cfg.MaxBatch
	s.forgetMu.Unlock()
	if full {
		select {
		case s.forgetKick <- struct{}{}:
		default:
		}
	}
}

// forgetLoop deletes forgotten outbox entries until Close, then once more.
func (s *Store) forgetLoop() {
	defer close(s.forgetDone)
	tick := time.NewTicker(forgetInterval)
	defer tick.Stop()
	for {
		stop := false
		select {
		case <-tick.C:
		case <-s.forgetKick:
		case <-s.forgetStop:
			stop = true
		}
		for {
			s.forgetMu.Lock()
			n := min(len(s.forget), s.cfg.MaxBatch)
			ids := append([]string(nil), s.forget[:n]...)
			s.forget = s.forget[n:]
			s.forgetMu.Unlock()
			if n == 0 {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			if err := s.deleteOutbox(ctx, ids); err != nil {
				s.log.Warn("could not delete published outbox entries; the sweep will publish them again", "entries", n, "err", err)
			}
			cancel()
		}
		if stop {
			return
		}
	}
}

// deleteOutbox deletes the entries among ids in one statement.
func (s *Store) deleteOutbox(ctx context.Context, ids []string) error {
	ids = canonicalIDs(ids)
	if len(ids) == 0 {
		return nil
	}
	cond, arg := s.inList("id", "uuid", ids)
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM job_outbox WHERE `+cond), arg); err != nil {
		return fmt.Errorf("delete outbox entries: %w", s.translate(err))
	}
	return nil
}

// defaultLimit is the page size of PendingOutbox and PromoteDue when the
// caller asks for none (limit <= 0).
const defaultLimit = 1000

// PendingOutbox returns up to limit (default 1000) outbox entries created at
// or before olderThan, oldest first: messages whose publish failed or whose
// publisher died. Publishing one twice is harmless.
func (s *Store) PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	var rows []struct {
		ID        string         `db:"id"`
		JobID     string         `db:"job_id"`
		Queue     string         `db:"queue"`
		Type      string         `db:"type"`
		CreatedAt dbTime         `db:"created_at"`
		Trace     sql.NullString `db:"trace_context"`
	}
	// The job's trace context goes with it: the republished message
	// continues the trace of the first.
	err := s.db.SelectContext(ctx, &rows, s.rebind(`SELECT o.id, o.job_id, o.queue, o.type, o.created_at, j.trace_context
		FROM job_outbox o LEFT JOIN jobs j ON j.id = o.job_id
		WHERE o.created_at <= ? ORDER BY o.created_at, o.id LIMIT ?`), s.ts(olderThan), limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", s.translate(err))
	}
	out := make([]OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = OutboxEntry{ID: r.ID, JobID: r.JobID, Queue: r.Queue, Type: r.Type, CreatedAt: r.CreatedAt.T, Trace: decodeTrace(r.Trace)}
	}
	return out, nil
}

// OutboxStats reports how many entries wait in the outbox and when the
// oldest was written (nil when empty).
func (s *Store) OutboxStats(ctx context.Context) (int, *time.Time, error) {
	var r struct {
		N      int    `db:"n"`
		Oldest dbTime `db:"oldest"`
	}
	if err := s.db.GetContext(ctx, &r, `SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM job_outbox`); err != nil {
		return 0, nil, fmt.Errorf("outbox stats: %w", s.translate(err))
	}
	return r.N, r.Oldest.ptr(), nil
}

// PromoteDue queues up to limit (default 1000) scheduled or retrying jobs
// whose run_at has come, earliest first, writing their outbox entries in the
// same transaction, and returns the entries to publish in that order.
// Concurrent promoters (several API pods) skip each other's rows on
// PostgreSQL; SQLite has a single writer.
func (s *Store) PromoteDue(ctx context.Context, limit int) ([]OutboxEntry, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	now := s.now()
	var entries []OutboxEntry
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		q := `UPDATE jobs SET state = 'queued' WHERE id IN (
				SELECT id FROM jobs WHERE state IN ('scheduled', 'retrying') AND run_at <= ?
				ORDER BY run_at, id LIMIT ?` + s.skipLocked() + `)
			RETURNING id, queue, type, run_at, trace_context`
		var rows []struct {
			ID    string         `db:"id"`
			Queue string         `db:"queue"`
			Type  string         `db:"type"`
			RunAt dbTime         `db:"run_at"`
			Trace sql.NullString `db:"trace_context"`
		}
		if err := tx.SelectContext(ctx, &rows, s.rebind(q), s.ts(now), limit); err != nil {
			return s.translate(err)
		}
		// RETURNING follows no ORDER BY.
		sort.Slice(rows, func(i, j int) bool {
			if !rows[i].RunAt.T.Equal(rows[j].RunAt.T) {
				return rows[i].RunAt.T.Before(rows[j].RunAt.T)
			}
			return rows[i].ID < rows[j].ID
		})
		entries = make([]OutboxEntry, len(rows))
		for i, r := range rows {
			entries[i] = OutboxEntry{ID: newID(), JobID: r.ID, Queue: r.Queue, Type: r.Type, CreatedAt: now, Trace: decodeTrace(r.Trace)}
		}
		return s.insertOutbox(ctx, tx, entries)
	})
	if err != nil {
		return nil, fmt.Errorf("promote due jobs: %w", err)
	}
	return entries, nil
}

// NextDue returns the earliest run_at of a scheduled or retrying job, or nil.
func (s *Store) NextDue(ctx context.Context) (*time.Time, error) {
	var t dbTime
	if err := s.db.GetContext(ctx, &t, `SELECT MIN(run_at) FROM jobs WHERE state IN ('scheduled', 'retrying')`); err != nil {
		return nil, fmt.Errorf("next due job: %w", s.translate(err))
	}
	return t.ptr(), nil
}

func (s *Store) skipLocked() string {
	if s.d == postgres {
		return ` FOR UPDATE SKIP LOCKED`
	}
	return ``
}
