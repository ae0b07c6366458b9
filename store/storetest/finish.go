package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

func (h *harness) testFinish(t *testing.T) {
	t.Run("Succeeded", func(t *testing.T) {
		e := h.setup(t)
		// Attempt 1 fails and retries; attempt 2 succeeds and clears the error.
		j := e.running(params("default"), "w1")
		require.True(t, e.finish(j, job.StateRetrying, "boom", e.now()))
		_, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		r := e.claim(j.ID, "w1")
		require.NotNil(t, r.Job)
		require.Equal(t, "boom", r.Job.Error)

		e.clk.Advance(time.Second)
		ok, err := e.s.FinishJob(e.ctx, store.FinishParams{
			JobID: j.ID, Attempt: 2, WorkerID: "w1", State: job.StateSucceeded, Result: json.RawMessage(`{"sent": 3}`),
		})
		require.NoError(t, err)
		require.True(t, ok)
		got := e.get(j.ID)
		require.Equal(t, job.StateSucceeded, got.State)
		require.JSONEq(t, `{"sent": 3}`, string(got.Result))
		requireTimePtr(t, e.now(), got.FinishedAt, "finished_at")
		require.Empty(t, got.Error, "success clears the last error")
		require.Len(t, got.Errors, 1, "but keeps the history")
		require.Equal(t, 2, got.Attempt)
	})

	t.Run("SucceededWithoutResult", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		ok, err := e.s.FinishJob(e.ctx, store.FinishParams{JobID: j.ID, Attempt: 1, WorkerID: "w1", State: job.StateSucceeded})
		require.NoError(t, err)
		require.True(t, ok)
		got := e.get(j.ID)
		require.Equal(t, job.StateSucceeded, got.State)
		require.Empty(t, got.Result)
	})

	t.Run("Retrying", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		e.clk.Advance(time.Second)
		runAt := e.clk.Now().Add(5 * time.Second)
		require.True(t, e.finish(j, job.StateRetrying, "smtp: 451 try later", runAt))
		got := e.get(j.ID)
		require.Equal(t, job.StateRetrying, got.State)
		requireTime(t, runAt.Truncate(time.Microsecond), got.RunAt, "run_at")
		require.Nil(t, got.FinishedAt)
		require.Equal(t, "smtp: 451 try later", got.Error)
		require.Equal(t, []job.AttemptError{{Attempt: 1, Error: "smtp: 451 try later", At: e.now(), WorkerID: "w1"}}, got.Errors)
		require.Equal(t, 1, got.Attempt)
		require.Empty(t, got.Result, "only success stores a result")
		require.Empty(t, e.outboxFor(j.ID)[1:], "a retrying job is not published until due")
	})

	t.Run("Failed", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		e.clk.Advance(time.Second)
		require.True(t, e.finish(j, job.StateFailed, `bad "input"`, time.Time{}))
		got := e.get(j.ID)
		require.Equal(t, job.StateFailed, got.State)
		requireTimePtr(t, e.now(), got.FinishedAt, "finished_at")
		require.Equal(t, []job.AttemptError{{Attempt: 1, Error: `bad "input"`, At: e.now(), WorkerID: "w1"}}, got.Errors)
		require.Equal(t, `bad "input"`, got.Error)
	})

	t.Run("ErrorsAccumulate", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		require.True(t, e.finish(j, job.StateRetrying, "first", e.now()))
		_, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		e.clk.Advance(time.Second)
		r := e.claim(j.ID, "w2")
		require.NotNil(t, r.Job)
		require.True(t, e.finish(*r.Job, job.StateFailed, "second", time.Time{}))
		got := e.get(j.ID)
		require.Equal(t, []job.AttemptError{
			{Attempt: 1, Error: "first", At: start.Truncate(time.Microsecond), WorkerID: "w1"},
			{Attempt: 2, Error: "second", At: e.now(), WorkerID: "w2"},
		}, got.Errors)
	})

	t.Run("Cancelled", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		require.True(t, e.finish(j, job.StateCancelled, "", time.Time{}))
		got := e.get(j.ID)
		require.Equal(t, job.StateCancelled, got.State)
		requireTimePtr(t, e.now(), got.FinishedAt, "finished_at")
		require.Empty(t, got.Errors)
	})

	t.Run("HandBack", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		e.clk.Advance(time.Second)
		require.True(t, e.finish(j, job.StateQueued, "", time.Time{}))
		got := e.get(j.ID)
		require.Equal(t, job.StateQueued, got.State)
		require.Zero(t, got.Attempt, "a handed-back attempt does not count")
		require.Nil(t, got.FinishedAt)
		require.Empty(t, got.Errors)
		requireTime(t, e.now(), got.RunAt, "run_at")

		r := e.claim(j.ID, "w1")
		require.NotNil(t, r.Job, "claimable again")
		require.Equal(t, 1, r.Job.Attempt)
	})

	t.Run("HandBackThroughTheStore", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		runAt := e.now().Add(2 * time.Second)
		require.True(t, e.finish(j, job.StateScheduled, "ignored", runAt))
		got := e.get(j.ID)
		require.Equal(t, job.StateScheduled, got.State)
		require.Zero(t, got.Attempt, "a handed-back attempt does not count")
		require.Nil(t, got.FinishedAt)
		require.Empty(t, got.Errors)
		requireTime(t, runAt, got.RunAt, "run_at")
		require.False(t, e.finish(j, job.StateSucceeded, "", time.Time{}), "the worker let go of it")

		out, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Empty(t, out, "not before run_at")
		e.clk.Advance(2 * time.Second)
		out, err = e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, out, 1, "the relay publishes it afresh")
		require.Equal(t, j.ID, out[0].JobID)
		r := e.claim(j.ID, "w2")
		require.NotNil(t, r.Job)
		require.Equal(t, 1, r.Job.Attempt)
	})

	t.Run("WrittenOnce", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		require.True(t, e.finish(j, job.StateSucceeded, "", time.Time{}))
		before := e.get(j.ID)
		e.clk.Advance(time.Second)
		for _, st := range []job.State{job.StateSucceeded, job.StateFailed, job.StateRetrying, job.StateQueued, job.StateScheduled, job.StateCancelled} {
			require.False(t, e.finish(j, st, "late", e.now()), "second finish as %s", st)
		}
		require.Equal(t, before, e.get(j.ID), "nothing changed")
	})

	t.Run("WrongAttemptOrWorker", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		before := e.get(j.ID)
		for _, p := range []store.FinishParams{
			{JobID: j.ID, Attempt: 2, WorkerID: "w1", State: job.StateSucceeded},
			{JobID: j.ID, Attempt: 1, WorkerID: "w2", State: job.StateSucceeded},
			{JobID: unknownID, Attempt: 1, WorkerID: "w1", State: job.StateSucceeded},
			{JobID: "garbage", Attempt: 1, WorkerID: "w1", State: job.StateSucceeded},
		} {
			ok, err := e.s.FinishJob(e.ctx, p)
			require.NoError(t, err)
			require.False(t, ok, "%+v", p)
		}
		require.Equal(t, before, e.get(j.ID))
	})

	t.Run("StaleWorkerAfterReclaim", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		e.clk.Advance(ttl + time.Second)
		e.heartbeat("w2")
		r := e.claim(j.ID, "w2")
		require.NotNil(t, r.Job)
		require.False(t, e.finish(j, job.StateSucceeded, "", time.Time{}), "w1 lost the job")
		require.Equal(t, job.StateRunning, e.get(j.ID).State)
		require.True(t, e.finish(*r.Job, job.StateSucceeded, "", time.Time{}))
		got := e.get(j.ID)
		require.Equal(t, job.StateSucceeded, got.State)
		require.Equal(t, "w2", got.WorkerID)
	})

	t.Run("NotAnEndState", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		for _, st := range []job.State{job.StateRunning, "bogus"} {
			_, err := e.s.FinishJob(e.ctx, store.FinishParams{JobID: j.ID, Attempt: 1, WorkerID: "w1", State: st})
			require.Error(t, err, "%s", st)
		}
		require.Equal(t, job.StateRunning, e.get(j.ID).State)
	})

	t.Run("Concurrent", func(t *testing.T) {
		e := h.setup(t)
		const n = 100
		batch := make([]store.InsertParams, n)
		for i := range batch {
			batch[i] = params("default")
		}
		res, _, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)
		e.heartbeat("w1")
		var all []string
		for _, r := range res {
			all = append(all, r.Job.ID)
		}
		claimed, err := e.s.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: all, WorkerID: "w1", WorkerTTL: ttl})
		require.NoError(t, err)

		// Every job is finished twice at once: exactly one write applies.
		oks := make([][2]bool, n)
		errs := make([][2]error, n)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for i, c := range claimed {
			require.NotNil(t, c.Job)
			for k := range 2 {
				wg.Go(func() {
					<-gate
					st := job.StateSucceeded
					if i%2 == 1 {
						st = job.StateRetrying
					}
					oks[i][k], errs[i][k] = e.s.FinishJob(e.ctx, store.FinishParams{
						JobID: c.Job.ID, Attempt: 1, WorkerID: "w1", State: st, Error: "e", RunAt: e.clk.Now().Add(time.Hour),
					})
				})
			}
		}
		close(gate)
		wg.Wait()
		for i, c := range claimed {
			require.NoError(t, errs[i][0])
			require.NoError(t, errs[i][1])
			require.True(t, oks[i][0] != oks[i][1], "job %d: exactly one of two finishes applies (%v)", i, oks[i])
			got := e.get(c.Job.ID)
			if i%2 == 1 {
				require.Equal(t, job.StateRetrying, got.State)
				require.Len(t, got.Errors, 1, "the error is appended once")
			} else {
				require.Equal(t, job.StateSucceeded, got.State)
			}
		}
	})
}
