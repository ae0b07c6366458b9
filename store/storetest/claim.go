package storetest

import (
	"fmt"
	"sync"
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

	t.Run("ConcurrentClaimsOfOneJob", func(t *testing.T) {
		// Duplicate deliveries to several live workers: each job runs once.
		e := h.setup(t)
		const jobs, workers = 20, 8
		batch := make([]store.InsertParams, jobs)
		for i := range batch {
			batch[i] = params("default")
		}
		res, _, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)
		var all []string
		for _, r := range res {
			all = append(all, r.Job.ID)
		}
		results := make([][]store.ClaimResult, workers)
		errs := make([]error, workers)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for w := range workers {
			name := fmt.Sprintf("w%d", w)
			e.heartbeat(name)
			order := append([]string(nil), all...)
			if w%2 == 1 {
				order = reversed(order)
			}
			wg.Go(func() {
				<-gate
				results[w], errs[w] = e.s.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: order, WorkerID: name, WorkerTTL: ttl})
			})
		}
		close(gate)
		wg.Wait()
		holder := map[string]string{}
		for w := range workers {
			require.NoError(t, errs[w])
			for _, r := range results[w] {
				if r.Job != nil {
					require.Empty(t, holder[r.JobID], "job %s claimed twice", r.JobID)
					holder[r.JobID] = r.Job.WorkerID
					continue
				}
				require.True(t, r.Busy, "a job another live worker claimed is busy")
			}
		}
		require.Len(t, holder, jobs, "every job claimed once")
		for id, w := range holder {
			got := e.get(id)
			require.Equal(t, w, got.WorkerID)
			require.Equal(t, 1, got.Attempt)
		}
	})

	t.Run("NeedsWorkerAndTTL", func(t *testing.T) {
		e := h.setup(t)
		j := e.insert(params("default"))
		for _, p := range []store.ClaimParams{
			{JobIDs: []string{j.ID}, WorkerTTL: ttl},
			{JobIDs: []string{j.ID}, WorkerID: "w1"},
			{JobIDs: []string{j.ID}, WorkerID: "w1", WorkerTTL: -time.Second},
		} {
			_, err := e.s.ClaimJobs(e.ctx, p)
			require.Error(t, err, "%+v", p)
		}
		require.Equal(t, job.StateQueued, e.get(j.ID).State)
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
		require.Equal(t, 1, r.Attempt, "the lost attempt, for the log")
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
