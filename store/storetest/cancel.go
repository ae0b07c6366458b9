package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
)

func (h *harness) testCancel(t *testing.T) {
	t.Run("Waiting", func(t *testing.T) {
		e := h.setup(t)
		for _, st := range []job.State{job.StateQueued, job.StateScheduled, job.StateRetrying} {
			j := e.inState(st)
			e.clk.Advance(time.Second)
			c, err := e.s.CancelJob(e.ctx, j.ID)
			require.NoError(t, err, "%s", st)
			got := e.get(j.ID)
			require.Equal(t, got, *c, "%s: the returned job is the stored one", st)
			require.Equal(t, job.StateCancelled, got.State, "%s", st)
			requireTimePtr(t, e.now(), got.FinishedAt, string(st)+" finished_at")
			require.Nil(t, got.CancelRequestedAt, "%s", st)
		}
		next, err := e.s.NextDue(e.ctx)
		require.NoError(t, err)
		require.Nil(t, next, "cancelled jobs are not due")
	})

	t.Run("Running", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		other := e.running(params("default"), "w1")
		require.Empty(t, e.heartbeat("w1"))
		e.clk.Advance(time.Second)
		c, err := e.s.CancelJob(e.ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, job.StateRunning, c.State)
		requireTimePtr(t, e.now(), c.CancelRequestedAt, "cancel_requested_at")
		require.Nil(t, c.FinishedAt)
		require.Equal(t, *c, e.get(j.ID))

		require.Equal(t, []string{j.ID}, e.heartbeat("w1"), "the holder learns of the request")
		require.Empty(t, e.heartbeat("w2"))

		e.clk.Advance(time.Second)
		again, err := e.s.CancelJob(e.ctx, j.ID)
		require.NoError(t, err, "asking twice is fine")
		requireTimePtr(t, *c.CancelRequestedAt, again.CancelRequestedAt, "the first request's time is kept")

		require.True(t, e.finish(j, job.StateCancelled, "", time.Time{}))
		require.Equal(t, job.StateCancelled, e.get(j.ID).State)
		require.Empty(t, e.heartbeat("w1"))
		require.Equal(t, job.StateRunning, e.get(other.ID).State)
	})

	t.Run("Finished", func(t *testing.T) {
		e := h.setup(t)
		for _, st := range []job.State{job.StateSucceeded, job.StateFailed, job.StateCancelled} {
			j := e.inState(st)
			before := e.get(j.ID)
			_, err := e.s.CancelJob(e.ctx, j.ID)
			var se *job.StateError
			require.True(t, errors.As(err, &se), "%s: want *job.StateError, got %v", st, err)
			require.Equal(t, st, se.State)
			require.Equal(t, j.ID, se.ID)
			require.Equal(t, before, e.get(j.ID))
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		e := h.setup(t)
		for _, id := range []string{unknownID, "garbage"} {
			_, err := e.s.CancelJob(e.ctx, id)
			require.ErrorIs(t, err, job.ErrNotFound)
		}
	})
}

func (h *harness) testRetry(t *testing.T) {
	t.Run("FailedExhausted", func(t *testing.T) {
		e := h.setup(t)
		p := params("default")
		p.MaxAttempts = 1
		j := e.running(p, "w1")
		require.True(t, e.finish(j, job.StateFailed, "boom", time.Time{}))
		e.clk.Advance(time.Minute)
		r, out, err := e.s.RetryJob(e.ctx, j.ID)
		require.NoError(t, err)
		got := e.get(j.ID)
		require.Equal(t, got, *r)
		require.Equal(t, job.StateQueued, got.State)
		require.Equal(t, 1, got.Attempt, "attempts are kept")
		require.Equal(t, 2, got.MaxAttempts, "one more attempt")
		require.Nil(t, got.FinishedAt)
		requireTime(t, e.now(), got.RunAt, "run_at")
		require.Len(t, got.Errors, 1, "history kept")
		require.Len(t, out, 1)
		require.Equal(t, j.ID, out[0].JobID)
		requireTime(t, e.now(), out[0].CreatedAt, "outbox created_at")
		require.Contains(t, e.outboxFor(j.ID), out[0])

		c := e.claim(j.ID, "w1")
		require.NotNil(t, c.Job, "a retried job is claimable")
		require.Equal(t, 2, c.Job.Attempt)
	})

	t.Run("Cancelled", func(t *testing.T) {
		e := h.setup(t)
		j := e.inState(job.StateCancelled)
		r, out, err := e.s.RetryJob(e.ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, job.StateQueued, r.State)
		require.Zero(t, r.Attempt)
		require.Equal(t, 3, r.MaxAttempts, "attempts left: unchanged")
		require.Len(t, out, 1)
		require.Len(t, e.outboxFor(j.ID), 2, "enqueued at insert and at retry")
	})

	t.Run("CancelledWhileRunning", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		_, err := e.s.CancelJob(e.ctx, j.ID)
		require.NoError(t, err)
		require.True(t, e.finish(j, job.StateCancelled, "", time.Time{}))
		r, _, err := e.s.RetryJob(e.ctx, j.ID)
		require.NoError(t, err)
		require.Nil(t, r.CancelRequestedAt, "the old cancel request is forgotten")
		require.Empty(t, e.heartbeat("w1"))
	})

	t.Run("NotRetryable", func(t *testing.T) {
		e := h.setup(t)
		for _, st := range []job.State{job.StateQueued, job.StateScheduled, job.StateRunning, job.StateRetrying, job.StateSucceeded} {
			j := e.inState(st)
			before := e.get(j.ID)
			n := len(e.outbox())
			_, _, err := e.s.RetryJob(e.ctx, j.ID)
			var se *job.StateError
			require.True(t, errors.As(err, &se), "%s: want *job.StateError, got %v", st, err)
			require.Equal(t, st, se.State)
			require.Equal(t, before, e.get(j.ID))
			require.Len(t, e.outbox(), n, "no outbox entry")
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		e := h.setup(t)
		for _, id := range []string{unknownID, "garbage"} {
			_, _, err := e.s.RetryJob(e.ctx, id)
			require.ErrorIs(t, err, job.ErrNotFound)
		}
	})
}
