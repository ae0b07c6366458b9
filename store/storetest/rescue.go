package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

func (h *harness) testRescue(t *testing.T) {
	t.Run("LostAttempts", func(t *testing.T) {
		e := h.setup(t)
		silent := 5 * time.Minute
		rescue := func() store.RescueResult {
			t.Helper()
			res, err := e.s.RescueJobs(e.ctx, store.RescueParams{SilentFor: silent})
			require.NoError(t, err)
			return res
		}
		require.Equal(t, store.RescueResult{}, rescue(), "no workers, nothing to do")

		retried := e.running(params("default"), "dead")
		p := params("default")
		p.MaxAttempts = 1
		last := e.running(p, "dead")
		cancelled := e.running(params("default"), "dead")
		_, err := e.s.CancelJob(e.ctx, cancelled.ID)
		require.NoError(t, err)
		unknownQueue := e.running(params("nobody-drains-this"), "dead")
		e.clk.Advance(silent - time.Second)
		alive := e.running(params("default"), "alive")
		require.Equal(t, store.RescueResult{}, rescue(), "not silent long enough")

		e.clk.Advance(2 * time.Second)
		e.heartbeat("alive")
		require.Equal(t, store.RescueResult{Retried: 1, Ended: 2}, rescue())

		got := e.get(retried.ID)
		require.Equal(t, job.StateRetrying, got.State)
		require.Equal(t, 1, got.Attempt, "the lost attempt counts")
		requireTime(t, e.now(), got.RunAt, "due at once")
		require.Len(t, got.Errors, 1)
		require.Equal(t, "dead", got.Errors[0].WorkerID)
		require.Contains(t, got.Error, "worker lost")

		got = e.get(last.ID)
		require.Equal(t, job.StateFailed, got.State, "no attempt left")
		require.NotNil(t, got.FinishedAt)
		require.Equal(t, job.StateCancelled, e.get(cancelled.ID).State, "cancel was asked")
		require.Equal(t, job.StateRunning, e.get(alive.ID).State, "its worker is alive")
		require.Equal(t, job.StateRunning, e.get(unknownQueue.ID).State, "no known worker drains its queue")

		require.Equal(t, store.RescueResult{}, rescue(), "once")
		require.False(t, e.finish(retried, job.StateSucceeded, "", time.Time{}), "the dead worker's late finish is refused")
		out, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, out, 1, "the relay publishes the retried job")
		r := e.claim(retried.ID, "alive")
		require.NotNil(t, r.Job)
		require.Equal(t, 2, r.Job.Attempt)
	})

	t.Run("Limit", func(t *testing.T) {
		e := h.setup(t)
		for range 3 {
			e.running(params("default"), "dead")
		}
		e.clk.Advance(time.Hour)
		res, err := e.s.RescueJobs(e.ctx, store.RescueParams{SilentFor: time.Minute, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, store.RescueResult{Retried: 2}, res)
		res, err = e.s.RescueJobs(e.ctx, store.RescueParams{SilentFor: time.Minute, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, store.RescueResult{Retried: 1}, res)
		_, err = e.s.RescueJobs(e.ctx, store.RescueParams{})
		require.Error(t, err, "SilentFor is required")
	})
}
