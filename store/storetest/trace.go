package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// traceOf returns a distinct W3C trace context for the n-th job of a case.
func traceOf(n int) map[string]string {
	return map[string]string{
		"traceparent": fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04x-00f067aa0ba902b7-01", n),
		"tracestate":  fmt.Sprintf("flask=t%d", n),
	}
}

// traced returns valid insert parameters carrying trace context tc.
func traced(tc map[string]string) store.InsertParams {
	p := params("default")
	p.Trace = tc
	return p
}

// promoteOne advances the clock by d and promotes the one job then due.
func (e *env) promoteOne(d time.Duration) store.OutboxEntry {
	e.t.Helper()
	e.clk.Advance(d)
	due, err := e.s.PromoteDue(e.ctx, 10)
	require.NoError(e.t, err)
	require.Len(e.t, due, 1)
	return due[0]
}

// testTrace: the trace context a job was submitted under is kept with it and
// goes into every outbox entry published for it — the first publish, the
// sweep's, and the promotions after a retry, a deferral or a schedule — so
// that every attempt continues one trace.
func (h *harness) testTrace(t *testing.T) {
	t.Run("Insert", func(t *testing.T) {
		e := h.setup(t)
		res, out, err := e.s.InsertJobs(e.ctx, []store.InsertParams{traced(traceOf(1))})
		require.NoError(t, err)
		require.Equal(t, traceOf(1), res[0].Job.Trace, "the inserted job")
		require.Len(t, out, 1)
		require.Equal(t, traceOf(1), out[0].Trace, "the outbox entry returned")
		require.Equal(t, traceOf(1), e.get(res[0].Job.ID).Trace, "read back")
		require.Equal(t, traceOf(1), e.outboxFor(res[0].Job.ID)[0].Trace, "the sweep's entry")

		bare := e.insert(params("default"))
		require.Nil(t, bare.Trace)
		require.Nil(t, e.get(bare.ID).Trace, "no trace context: none kept")
		require.Nil(t, e.outboxFor(bare.ID)[0].Trace)
	})

	t.Run("BatchInsert", func(t *testing.T) {
		e := h.setup(t)
		batch := make([]store.InsertParams, 5)
		for i := range batch {
			batch[i] = params("default")
			if i != 2 {
				batch[i].Trace = traceOf(i)
			}
		}
		batch[4].RunAt = e.now().Add(time.Minute) // scheduled: no entry yet
		res, out, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)
		require.Len(t, out, 4)
		byJob := map[string]store.OutboxEntry{}
		for _, o := range out {
			byJob[o.JobID] = o
		}
		for i, r := range res {
			want := traceOf(i)
			if i == 2 {
				want = nil
			}
			require.Equal(t, want, e.get(r.Job.ID).Trace, "job %d", i)
			if i < 4 {
				require.Equal(t, want, byJob[r.Job.ID].Trace, "entry of job %d", i)
			}
		}
		// The scheduled job's promotion carries its context.
		due := e.promoteOne(2 * time.Minute)
		require.Equal(t, res[4].Job.ID, due.JobID)
		require.Equal(t, traceOf(4), due.Trace)
	})

	t.Run("Idempotent", func(t *testing.T) {
		e := h.setup(t)
		p := traced(traceOf(1))
		p.IdempotencyKey = "k1"
		first := e.insert(p)
		p.Trace = traceOf(2)
		res, out, err := e.s.InsertJobs(e.ctx, []store.InsertParams{p})
		require.NoError(t, err)
		require.True(t, res[0].Existing)
		require.Empty(t, out)
		require.Equal(t, traceOf(1), res[0].Job.Trace, "the original job keeps its own trace")
		require.Equal(t, traceOf(1), e.get(first.ID).Trace)
	})

	t.Run("RetryAndPromote", func(t *testing.T) {
		e := h.setup(t)
		j := e.running(traced(traceOf(7)), "w1")
		require.Equal(t, traceOf(7), j.Trace, "the claimed job")
		require.True(t, e.finish(j, job.StateRetrying, "boom", e.now().Add(time.Second)))
		require.Equal(t, traceOf(7), e.promoteOne(2*time.Second).Trace, "the retry's message")

		// Failed for good, then retried by hand.
		r := e.claim(j.ID, "w1")
		require.NotNil(t, r.Job)
		j = *r.Job
		require.True(t, e.finish(j, job.StateFailed, "boom again", time.Time{}))
		_, entries, err := e.s.RetryJob(e.ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Equal(t, traceOf(7), entries[0].Trace, "a manual retry continues the job's trace")
	})

	t.Run("Defer", func(t *testing.T) {
		e := h.setup(t)
		j := e.insert(traced(traceOf(3)))
		ok, err := e.s.DeferJob(e.ctx, store.DeferParams{JobID: j.ID, RunAt: e.now().Add(time.Second)})
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, traceOf(3), e.promoteOne(2*time.Second).Trace, "the deferred job's message")
	})

	t.Run("Oversized", func(t *testing.T) {
		e := h.setup(t)
		j := e.insert(traced(map[string]string{"tracestate": string(make([]byte, 20<<10))}))
		require.Nil(t, j.Trace, "not a trace context: not kept")
		require.Nil(t, e.get(j.ID).Trace)
	})
}
