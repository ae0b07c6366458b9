package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/flaskhq/flask/job"
)

// lostWorkerError is recorded for an attempt whose worker stopped sending heartbeats.
const lostWorkerError = "worker lost: no heartbeat; the attempt was abandoned"

// appendError renders an expression that appends {attempt, error, at,
// worker_id} to the errors column. errParam and atParam are placeholders or
// column expressions.
func (s *Store) appendError(attempt, errParam, atParam, worker string) string {
	if s.d == postgres {
		return `errors || jsonb_build_array(jsonb_build_object('attempt', ` + attempt + `, 'error', ` + errParam +
			`::text, 'at', ` + atParam + `::text, 'worker_id', ` + worker + `))`
	}
	return `json_insert(errors, '$[#]', json_object('attempt', ` + attempt + `, 'error', ` + errParam +
		`, 'at', ` + atParam + `, 'worker_id', ` + worker + `))`
}

// ClaimJobs tries to claim the delivered jobs for a worker and returns one
// result per id, in order. A queued job is claimed: it becomes running with
// its attempt counted. A job running on a worker whose heartbeat is older than
// WorkerTTL was abandoned: its lost attempt is recorded, then it is claimed
// again, or failed (cancelled, if a cancel was asked) when no attempt is
// left. Anything else is not claimed: the caller acks the delivery, or
// retries it later when Busy.
func (s *Store) ClaimJobs(ctx context.Context, p ClaimParams) ([]ClaimResult, error) {
	// Without a worker id or a TTL every running job would look abandoned,
	// and be run twice.
	if p.WorkerID == "" {
		return nil, errors.New("claim jobs: worker id is empty")
	}
	if p.WorkerTTL <= 0 {
		return nil, fmt.Errorf("claim jobs for worker %s: worker TTL %s must be positive", p.WorkerID, p.WorkerTTL)
	}
	if len(p.JobIDs) == 0 {
		return nil, nil
	}
	ids := canonicalIDs(p.JobIDs)
	now := s.now()
	cutoff := s.ts(now.Add(-p.WorkerTTL))
	at := now.Format(time.RFC3339Nano)
	dead := `NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = jobs.worker_id AND w.heartbeat_at > ?)`
	claimed := map[string]*job.Job{}
	abandoned := map[string]ClaimResult{}
	others := map[string]ClaimResult{}
	if len(ids) > 0 {
		// Fast path, one statement committed on its own: the queued jobs.
		cond, idArg := s.inList("id", "uuid", ids)
		var rows []jobRow
		q := `UPDATE jobs SET state = 'running', attempt = attempt + 1, worker_id = ?, started_at = ?, finished_at = NULL
			WHERE ` + cond + ` AND state = 'queued'
			RETURNING ` + jobColumns
		if err := s.db.SelectContext(ctx, &rows, s.rebind(q), p.WorkerID, s.ts(now), idArg); err != nil {
			return nil, fmt.Errorf("claim %d jobs for worker %s: %w", len(ids), p.WorkerID, s.translate(err))
		}
		for i := range rows {
			j, err := rows[i].job()
			if err != nil {
				return nil, err
			}
			claimed[j.ID] = &j
		}
		var rest []string
		for _, id := range ids {
			if claimed[id] == nil {
				rest = append(rest, id)
			}
		}
		ids = rest
	}
	if len(ids) > 0 {
		// Slow path for the others: abandoned, busy, finished or missing.
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			cond, idArg := s.inList("id", "uuid", ids)
			// 1. Abandoned jobs with nothing left to try end here.
			var ended []struct {
				ID      string `db:"id"`
				State   string `db:"state"`
				Attempt int    `db:"attempt"`
			}
			q := `UPDATE jobs SET
					state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'failed' END,
					finished_at = ?, error = ?, errors = ` + s.appendError("attempt", "?", "?", "worker_id") + `
				WHERE ` + cond + ` AND state = 'running' AND (attempt >= max_attempts OR cancel_requested_at IS NOT NULL) AND ` + dead + `
				RETURNING id, state, attempt`
			if err := tx.SelectContext(ctx, &ended, s.rebind(q), s.ts(now), lostWorkerError, lostWorkerError, at, idArg, cutoff); err != nil {
				return fmt.Errorf("end abandoned jobs: %w", s.translate(err))
			}
			for _, e := range ended {
				abandoned[e.ID] = ClaimResult{State: job.State(e.State), Abandoned: true, Attempt: e.Attempt}
			}
			// 2. Claim the queued and the abandoned. SET reads the old row:
			// the lost attempt's number and worker go into its error.
			q = `UPDATE jobs SET
					errors = CASE WHEN state = 'running' THEN ` + s.appendError("attempt", "?", "?", "worker_id") + ` ELSE errors END,
					error = CASE WHEN state = 'running' THEN ? ELSE error END,
					state = 'running', attempt = attempt + 1, worker_id = ?, started_at = ?, finished_at = NULL
				WHERE ` + cond + ` AND (state = 'queued' OR (state = 'running' AND ` + dead + `))
				RETURNING ` + jobColumns
			var rows []jobRow
			if err := tx.SelectContext(ctx, &rows, s.rebind(q), lostWorkerError, at, lostWorkerError, p.WorkerID, s.ts(now), idArg, cutoff); err != nil {
				return fmt.Errorf("claim: %w", s.translate(err))
			}
			for i := range rows {
				j, err := rows[i].job()
				if err != nil {
					return err
				}
				claimed[j.ID] = &j
			}
			// 3. Why the rest were not claimed.
			if len(rows)+len(abandoned) == len(ids) {
				return nil
			}
			var rest []struct {
				ID    string `db:"id"`
				State string `db:"state"`
				Live  bool   `db:"live"`
			}
			q = `SELECT id, state, NOT ` + dead + ` AS live FROM jobs WHERE ` + cond
			if err := tx.SelectContext(ctx, &rest, s.rebind(q), cutoff, idArg); err != nil {
				return fmt.Errorf("read unclaimed jobs: %w", s.translate(err))
			}
			for _, r := range rest {
				others[r.ID] = ClaimResult{JobID: r.ID, State: job.State(r.State), Busy: r.State == string(job.StateRunning) && r.Live}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("claim %d jobs for worker %s: %w", len(ids), p.WorkerID, err)
		}
	}
	out := make([]ClaimResult, len(p.JobIDs))
	for i, id := range p.JobIDs {
		cid, _ := canonicalID(id)
		switch {
		case cid == "":
			out[i] = ClaimResult{JobID: id}
		case claimed[cid] != nil:
			out[i] = ClaimResult{JobID: id, Job: claimed[cid], State: job.StateRunning}
		case abandoned[cid].Abandoned:
			r := abandoned[cid]
			r.JobID = id
			out[i] = r
		default:
			r := others[cid] // zero when the job does not exist
			r.JobID = id
			out[i] = r
		}
	}
	return out, nil
}

// FinishJob records the end of an attempt. It returns false when the write
// did not apply because the worker no longer holds the job (it was reclaimed
// after a lost heartbeat, or the attempt is not the current one): the state
// is written once, by the holder. Concurrent calls share transactions.
//
// Success stores Result, clears the job's last error and ignores Error; a
// hand-back (queued, or scheduled at RunAt to be published afresh) ignores
// both and does not count the attempt. Failed, retrying and cancelled
// append a non-empty Error to the job's errors.
func (s *Store) FinishJob(ctx context.Context, p FinishParams) (bool, error) {
	switch p.State {
	case job.StateSucceeded, job.StateFailed, job.StateCancelled, job.StateRetrying, job.StateQueued, job.StateScheduled:
	default:
		return false, fmt.Errorf("finish job %s: %q is not a state an attempt ends in", p.JobID, p.State)
	}
	id, valid := canonicalID(p.JobID)
	if !valid {
		return false, nil // no such job: nothing to write
	}
	p.JobID = id
	ok, err := s.finish.do(ctx, p)
	if err != nil {
		return false, fmt.Errorf("finish job %s attempt %d: %w", p.JobID, p.Attempt, err)
	}
	return ok, nil
}

// finishSet is the SET clause shared by both dialects; v names the value
// of each per-row input (state, result, error, at, now, run_at).
func (s *Store) finishSet(v func(string) string) string {
	// Both dialects reject a result that is not JSON.
	resultExpr := `json(NULLIF(` + v("result") + `, ''))`
	if s.d == postgres {
		resultExpr = `NULLIF(` + v("result") + `, '')::jsonb`
	}
	failed := v("error") + ` <> '' AND ` + v("state") + ` IN ('failed', 'retrying', 'cancelled')`
	return `state = ` + v("state") + `,
		result = CASE WHEN ` + v("state") + ` = 'succeeded' THEN ` + resultExpr + ` ELSE result END,
		error = CASE WHEN ` + v("state") + ` = 'succeeded' THEN NULL WHEN ` + failed + ` THEN ` + v("error") + ` ELSE error END,
		errors = CASE WHEN ` + failed + ` THEN ` + s.appendError("attempt", v("error"), v("at"), "worker_id") + ` ELSE errors END,
		finished_at = CASE WHEN ` + v("state") + ` IN ('succeeded', 'failed', 'cancelled') THEN ` + v("now") + ` ELSE NULL END,
		run_at = CASE WHEN ` + v("state") + ` IN ('retrying', 'queued', 'scheduled') THEN ` + v("run_at") + ` ELSE run_at END,
		attempt = CASE WHEN ` + v("state") + ` IN ('queued', 'scheduled') THEN attempt - 1 ELSE attempt END`
}

// DeferJob moves a queued job to scheduled at p.RunAt, for the relay to
// publish it afresh when due: a worker that cannot start the job now (its
// type is at its cap) defers it this way rather than handing the same
// message back again and again, which brokers count as deliveries (SQS
// dead-letters a message after maxReceiveCount of them). It returns false
// when the job is no longer queued (claimed, cancelled or gone meanwhile).
func (s *Store) DeferJob(ctx context.Context, p DeferParams) (bool, error) {
	id, valid := canonicalID(p.JobID)
	if !valid {
		return false, nil
	}
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE jobs SET state = 'scheduled', run_at = ? WHERE id = ? AND state = 'queued'`),
		s.ts(p.RunAt), id)
	if err != nil {
		return false, fmt.Errorf("defer job %s: %w", id, s.translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("defer job %s: %w", id, err)
	}
	return n > 0, nil
}

func (s *Store) finishGroup(ctx context.Context, items []FinishParams) ([]bool, error) {
	now := s.now()
	at := now.Format(time.RFC3339Nano)
	out := make([]bool, len(items))
	if s.d == postgres {
		n := len(items)
		ids, workers, states, results, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attempts := make([]int64, n)
		runAts := make([]time.Time, n)
		for i, p := range items {
			ids[i], workers[i], states[i], results[i], errs[i] = p.JobID, p.WorkerID, string(p.State), string(p.Result), p.Error
			attempts[i] = int64(p.Attempt)
			runAts[i] = p.RunAt
			if p.RunAt.IsZero() {
				runAts[i] = now
			}
		}
		set := s.finishSet(func(c string) string {
			switch c {
			case "now":
				return "$8::timestamptz"
			case "at":
				return "$9"
			}
			return "v_" + c
		})
		// When a job appears twice (two finishes of the same attempt in one
		// batch), PostgreSQL updates it once, from one of the input rows:
		// RETURNING that row's ordinal tells which call applied.
		q := `UPDATE jobs SET ` + set + `
			FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
				WITH ORDINALITY AS v(v_id, v_attempt, v_worker_id, v_state, v_result, v_error, v_run_at, v_ord)
			WHERE jobs.id = v_id AND jobs.state = 'running' AND jobs.attempt = v_attempt AND jobs.worker_id = v_worker_id
			RETURNING v_ord`
		var done []int
		if err := s.db.SelectContext(ctx, &done, q, pq.Array(ids), pq.Array(attempts), pq.Array(workers), pq.Array(states),
			pq.Array(results), pq.Array(errs), pq.Array(pgTimes(runAts)), s.ts(now), at); err != nil {
			return nil, fmt.Errorf("finish %d jobs: %w", n, s.translate(err))
		}
		for _, ord := range done {
			if ord < 1 || ord > n {
				return nil, fmt.Errorf("finish %d jobs: ordinal %d out of range", n, ord)
			}
			out[ord-1] = true
		}
		return out, nil
	}
	set := s.finishSet(func(c string) string { return "@" + c })
	q := `UPDATE jobs SET ` + set + ` WHERE id = @id AND state = 'running' AND attempt = @attempt AND worker_id = @worker_id`
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for i, p := range items {
			runAt := p.RunAt
			if runAt.IsZero() {
				runAt = now
			}
			res, err := tx.ExecContext(ctx, q,
				sqlNamed("id", p.JobID), sqlNamed("attempt", p.Attempt), sqlNamed("worker_id", p.WorkerID),
				sqlNamed("state", string(p.State)), sqlNamed("result", string(p.Result)), sqlNamed("error", p.Error),
				sqlNamed("run_at", s.ts(runAt)), sqlNamed("now", s.ts(now)), sqlNamed("at", at))
			if err != nil {
				return fmt.Errorf("finish job %s: %w", p.JobID, s.translate(err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("finish job %s: %w", p.JobID, err)
			}
			out[i] = n > 0
		}
		return nil
	})
	return out, err
}

// Heartbeat records that a worker is alive and returns the ids of its
// running jobs that were asked to cancel.
func (s *Store) Heartbeat(ctx context.Context, w WorkerInfo) ([]string, error) {
	if w.ID == "" {
		return nil, errors.New("heartbeat: worker id is empty")
	}
	queues, err := json.Marshal(w.Queues)
	if err != nil {
		return nil, fmt.Errorf("heartbeat of worker %s: %w", w.ID, err)
	}
	now := s.now()
	if w.StartedAt.IsZero() {
		w.StartedAt = now
	}
	_, err = s.db.ExecContext(ctx, s.rebind(`INSERT INTO workers (id, hostname, queues, in_flight, started_at, heartbeat_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, queues = excluded.queues,
			in_flight = excluded.in_flight, heartbeat_at = excluded.heartbeat_at`),
		w.ID, w.Hostname, string(queues), w.InFlight, s.ts(w.StartedAt), s.ts(now))
	if err != nil {
		return nil, fmt.Errorf("heartbeat of worker %s: %w", w.ID, s.translate(err))
	}
	var ids []string
	err = s.db.SelectContext(ctx, &ids, s.rebind(`SELECT id FROM jobs
		WHERE worker_id = ? AND state = 'running' AND cancel_requested_at IS NOT NULL`), w.ID)
	if err != nil {
		return nil, fmt.Errorf("cancel requests of worker %s: %w", w.ID, s.translate(err))
	}
	return ids, nil
}

// RemoveWorker deletes a worker's record when it stops cleanly.
func (s *Store) RemoveWorker(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM workers WHERE id = ?`), id); err != nil {
		return fmt.Errorf("remove worker %s: %w", id, s.translate(err))
	}
	return nil
}

// PruneWorkers deletes the records of workers silent since before olderThan.
func (s *Store) PruneWorkers(ctx context.Context, olderThan time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`DELETE FROM workers WHERE heartbeat_at < ?`), s.ts(olderThan))
	if err != nil {
		return 0, fmt.Errorf("prune workers: %w", s.translate(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ListWorkers returns the known workers, most recently seen first.
func (s *Store) ListWorkers(ctx context.Context) ([]WorkerInfo, error) {
	var rows []struct {
		ID          string `db:"id"`
		Hostname    string `db:"hostname"`
		Queues      []byte `db:"queues"`
		InFlight    int    `db:"in_flight"`
		StartedAt   dbTime `db:"started_at"`
		HeartbeatAt dbTime `db:"heartbeat_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT id, hostname, queues, in_flight, started_at, heartbeat_at FROM workers ORDER BY heartbeat_at DESC`); err != nil {
		return nil, fmt.Errorf("list workers: %w", s.translate(err))
	}
	out := make([]WorkerInfo, len(rows))
	for i, r := range rows {
		out[i] = WorkerInfo{ID: r.ID, Hostname: r.Hostname, InFlight: r.InFlight, StartedAt: r.StartedAt.T, HeartbeatAt: r.HeartbeatAt.T}
		if err := json.Unmarshal(r.Queues, &out[i].Queues); err != nil {
			return nil, fmt.Errorf("list workers: decode queues of %s: %w", r.ID, err)
		}
	}
	return out, nil
}
