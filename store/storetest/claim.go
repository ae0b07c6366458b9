package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

const unknownID = "0190d7b4-7e6a-7c2e-8b7e-3f1f1f1f1f1f"

func (h *harness) testClaim(t *testing.T) {
	t.Run("Queued", func(t *testing.T) {
		e := h.setup(t)
		q := e.insert(params("default"))
		e.heartbeat("w1")
		e.clk.Advance(time.Second)
		r := e.claim(q.ID, "w1")
		require.NotNil(t, r.Job)
		require.Equal(t, job.StateRunning, r.State)
		require.False(t, r.Busy)
		require.False(t, r.Abandoned)
		for what, j := range map[string]job.Job{"returned": *r.Job, "stored": e.get(q.ID)} {
			require.Equal(t, job.StateRunning, j.State, what)
			require.Equal(t, 1, j.Attempt, what)
			require.Equal(t, "w1", j.WorkerID, what)
			requireTimePtr(t, e.now(), j.StartedAt, what+" started_at")
			require.Nil(t, j.FinishedAt, what)
			require.Empty(t, j.Errors, what)
			require.JSONEq(t, string(q.Payload), string(j.Payload), what)
		}
	})

	t.Run("LiveHolderMeansBusy", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		e.heartbeat("w2")
		e.clk.Advance(ttl - time.Second) // w1 is still alive
		r := e.claim(j.ID, "w2")
		require.Nil(t, r.Job)
		require.True(t, r.Busy)
		require.False(t, r.Abandoned)
		require.Equal(t, job.StateRunning, r.State)
		got := e.get(j.ID)
		require.Equal(t, "w1", got.WorkerID)
		require.Equal(t, 1, got.Attempt)

		r = e.claim(j.ID, "w1")
		require.True(t, r.Busy, "a redelivery to the holder itself is busy too")
		require.Equal(t, 1, e.get(j.ID).Attempt)
	})

	t.Run("UnknownAndMalformed", func(t *testing.T) {
		e := h.setup(t)
		e.heartbeat("w1")
		q := e.insert(params("default"))
		res, err := e.s.ClaimJobs(e.ctx, store.ClaimParams{
			JobIDs: []string{unknownID, "garbage", q.ID, ""}, WorkerID: "w1", WorkerTTL: ttl,
		})
		require.NoError(t, err)
		require.Len(t, res, 4)
		for _, i := range []int{0, 1, 3} {
			require.Equal(t, store.ClaimResult{JobID: []string{unknownID, "garbage", q.ID, ""}[i]}, res[i], "result %d", i)
		}
		require.NotNil(t, res[2].Job, "results in input order")
		require.Equal(t, q.ID, res[2].Job.ID)

		res, err = e.s.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: []string{"garbage"}, WorkerID: "w1", WorkerTTL: ttl})
		require.NoError(t, err)
		require.Equal(t, []store.ClaimResult{{JobID: "garbage"}}, res)
	})

	t.Run("NotClaimable", func(t *testing.T) {
		e := h.setup(t)
		e.heartbeat("w1")
		for _, st := range []job.State{job.StateScheduled, job.StateRetrying, job.StateSucceeded, job.StateFailed, job.StateCancelled} {
			j := e.inState(st)
			before := e.get(j.ID)
			r := e.claim(j.ID, "w1")
			require.Nil(t, r.Job, "%s", st)
			require.Equal(t, st, r.State)
			require.False(t, r.Busy, "%s", st)
			require.False(t, r.Abandoned, "%s", st)
			require.Equal(t, before, e.get(j.ID), "%s: unchanged", st)
		}
	})

	t.Run("ManyAtOnce", func(t *testing.T) {
		e := h.setup(t)
		e.heartbeat("w1")
		a, b := e.insert(params("default")), e.insert(params("default"))
		done := e.inState(job.StateSucceeded)
		res, err := e.s.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: []string{b.ID, done.ID, a.ID}, WorkerID: "w1", WorkerTTL: ttl})
		require.NoError(t, err)
		require.Len(t, res, 3)
		require.Equal(t, b.ID, res[0].Job.ID)
		require.Equal(t, store.ClaimResult{JobID: done.ID, State: job.StateSucceeded}, res[1])
		require.Equal(t, a.ID, res[2].Job.ID)
	})

	t.Run("ReclaimFromLostWorker", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		e.clk.Advance(ttl + time.Second)
		e.heartbeat("w2")
		r := e.claim(j.ID, "w2")
		require.NotNil(t, r.Job, "the holder's heartbeat is older than the TTL")
		require.False(t, r.Abandoned)
		for what, got := range map[string]job.Job{"returned": *r.Job, "stored": e.get(j.ID)} {
			require.Equal(t, job.StateRunning, got.State, what)
			require.Equal(t, 2, got.Attempt, what)
			require.Equal(t, "w2", got.WorkerID, what)
			requireTimePtr(t, e.now(), got.StartedAt, what+" started_at")
			require.Len(t, got.Errors, 1, what)
			ae := got.Errors[0]
			require.Equal(t, 1, ae.Attempt, what)
			require.Contains(t, ae.Error, "worker lost", what)
			require.Equal(t, "w1", ae.WorkerID, what)
			requireTime(t, e.now(), ae.At, what+" error at")
			require.Equal(t, ae.Error, got.Error, what)
		}
	})

	t.Run("ReclaimWithoutHeartbeat", func(t *testing.T) {
		e := h.setup(t)
		j := e.insert(params("default"))
		r := e.claim(j.ID, "w1") // w1 never sent a heartbeat
		require.NotNil(t, r.Job)
		r = e.claim(j.ID, "w2")
		require.NotNil(t, r.Job, "a worker without a heartbeat record is not alive")
		require.Equal(t, 2, r.Job.Attempt)
	})

	t.Run("AbandonedWithoutAttemptsLeft", func(t *testing.T) {
		e := h.setup(t)
		p := params("default")
		p.MaxAttempts = 1
		j := e.running(p, "w1")
		e.clk.Advance(ttl + time.Second)
		e.heartbeat("w2")
		r := e.claim(j.ID, "w2")
		require.Nil(t, r.Job)
		require.True(t, r.Abandoned)
		require.False(t, r.Busy)
		require.Equal(t, job.StateFailed, r.State)
		got := e.get(j.ID)
		require.Equal(t, job.StateFailed, got.State)
		require.Equal(t, 1, got.Attempt)
		requireTimePtr(t, e.now(), got.FinishedAt, "finished_at")
		require.Len(t, got.Errors, 1)
		require.Contains(t, got.Errors[0].Error, "worker lost")
		require.Equal(t, 1, got.Errors[0].Attempt)
		require.Equal(t, "w1", got.Errors[0].WorkerID)
		require.Contains(t, got.Error, "worker lost")

		r = e.claim(j.ID, "w2")
		require.Equal(t, store.ClaimResult{JobID: j.ID, State: job.StateFailed}, r, "ended once")
	})

	t.Run("AbandonedWithCancelRequest", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(params("default"), "w1")
		c, err := e.s.CancelJob(e.ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, job.StateRunning, c.State)
		e.clk.Advance(ttl + time.Second)
		e.heartbeat("w2")
		r := e.claim(j.ID, "w2")
		require.Nil(t, r.Job)
		require.True(t, r.Abandoned)
		require.Equal(t, job.StateCancelled, r.State)
		got := e.get(j.ID)
		require.Equal(t, job.StateCancelled, got.State)
		requireTimePtr(t, e.now(), got.FinishedAt, "finished_at")
		require.Len(t, got.Errors, 1)
	})
}
