package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
)

// RescueParams selects the running jobs to rescue.
type RescueParams struct {
	// SilentFor is how long a job's worker must have gone without a
	// heartbeat. Keep it well above the worker TTL and the broker's ack
	// wait: a redelivered message reclaims the job sooner, and the rescue
	// is only for jobs whose message is gone.
	SilentFor time.Duration
	// Limit caps the jobs rescued in one call. Default 1000.
	Limit int
}

// RescueResult counts what RescueJobs did.
type RescueResult struct {
	// Retried jobs became retrying, due now: the relay publishes them.
	Retried int
	// Ended jobs had no attempt left (failed) or were asked to cancel
	// (cancelled).
	Ended int
}

// RescueJobs ends the lost attempts of running jobs whose worker has been
// silent for p.SilentFor. Normally the broker redelivers such a job's
// message and the claim takes the job over; a rescue covers a message
// that is gone, such as one an SQS queue moved to its dead-letter queue
// after workers kept dying with it. A rescued job is retried (the lost
// attempt is recorded and counts) or, with no attempt left, failed.
//
// Jobs are found by queue through the queues the known workers drain (a
// dead worker's record stays until PruneWorkers removes it), so that the
// search uses the (queue, state) index rather than the whole table.
func (s *Store) RescueJobs(ctx context.Context, p RescueParams) (RescueResult, error) {
	if p.SilentFor <= 0 {
		return RescueResult{}, fmt.Errorf("rescue jobs: SilentFor %s must be positive", p.SilentFor)
	}
	if p.Limit <= 0 {
		p.Limit = defaultLimit
	}
	queues, err := s.workerQueues(ctx)
	if err != nil || len(queues) == 0 {
		return RescueResult{}, err
	}
	now := s.now()
	at := now.Format(time.RFC3339Nano)
	cutoff := s.ts(now.Add(-p.SilentFor))
	var res RescueResult
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		inQueues, qArg := s.inList("queue", "text", queues)
		lost := `SELECT id FROM jobs WHERE ` + inQueues + ` AND state = 'running' AND %s
			AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = jobs.worker_id AND w.heartbeat_at > ?)
			ORDER BY started_at LIMIT ?` + s.skipLocked()
		end := `UPDATE jobs SET
				state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled' ELSE 'failed' END,
				finished_at = ?, error = ?, errors = ` + s.appendError("attempt", "?", "?", "worker_id") + `
			WHERE id IN (` + fmt.Sprintf(lost, `(attempt >= max_attempts OR cancel_requested_at IS NOT NULL)`) + `)`
		r, err := tx.ExecContext(ctx, s.rebind(end), s.ts(now), lostWorkerError, lostWorkerError, at, qArg, cutoff, p.Limit)
		if err != nil {
			return fmt.Errorf("end lost attempts: %w", s.translate(err))
		}
		n, _ := r.RowsAffected()
		res.Ended = int(n)
		retry := `UPDATE jobs SET state = 'retrying', run_at = ?, error = ?, errors = ` + s.appendError("attempt", "?", "?", "worker_id") + `
			WHERE id IN (` + fmt.Sprintf(lost, `TRUE`) + `)`
		r, err = tx.ExecContext(ctx, s.rebind(retry), s.ts(now), lostWorkerError, lostWorkerError, at, qArg, cutoff, p.Limit-res.Ended)
		if err != nil {
			return fmt.Errorf("retry lost attempts: %w", s.translate(err))
		}
		n, _ = r.RowsAffected()
		res.Retried = int(n)
		return nil
	})
	if err != nil {
		return RescueResult{}, fmt.Errorf("rescue jobs: %w", err)
	}
	return res, nil
}

// workerQueues returns every queue a known worker drains, sorted.
func (s *Store) workerQueues(ctx context.Context) ([]string, error) {
	var raw [][]byte
	if err := s.db.SelectContext(ctx, &raw, `SELECT queues FROM workers`); err != nil {
		return nil, fmt.Errorf("read worker queues: %w", s.translate(err))
	}
	set := map[string]bool{}
	for _, r := range raw {
		var qs map[string]int
		if err := json.Unmarshal(r, &qs); err != nil {
			return nil, fmt.Errorf("read worker queues: %w", err)
		}
		for q := range qs {
			set[q] = true
		}
	}
	out := make([]string, 0, len(set))
	for q := range set {
		out = append(out, q)
	}
	sort.Strings(out)
	return out, nil
}
