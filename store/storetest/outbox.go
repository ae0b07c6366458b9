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

func entryIDs(es []store.OutboxEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func (h *harness) testOutbox(t *testing.T) {
	t.Run("PendingOlderThanAndLimit", func(t *testing.T) {
		e := h.setup(t)
		var all []store.OutboxEntry
		var times []time.Time
		for range 3 {
			_, out, err := e.s.InsertJobs(e.ctx, []store.InsertParams{params("default")})
			require.NoError(t, err)
			all = append(all, out...)
			times = append(times, e.now())
			e.clk.Advance(time.Second)
		}
		got, err := e.s.PendingOutbox(e.ctx, times[1], 10)
		require.NoError(t, err)
		require.Equal(t, all[:2], got, "created at or before olderThan, oldest first")

		got, err = e.s.PendingOutbox(e.ctx, times[2], 2)
		require.NoError(t, err)
		require.Equal(t, all[:2], got, "limit")

		got, err = e.s.PendingOutbox(e.ctx, times[0].Add(-time.Microsecond), 10)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("DeleteAndStats", func(t *testing.T) {
		e := h.setup(t)
		n, oldest, err := e.s.OutboxStats(e.ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Nil(t, oldest)

		first := e.now()
		batch := []store.InsertParams{params("default"), params("default"), params("default")}
		_, out1, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)
		e.clk.Advance(time.Second)
		second := e.now()
		_, out2, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)

		n, oldest, err = e.s.OutboxStats(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 6, n)
		requireTimePtr(t, first, oldest, "oldest")

		// Ids that are malformed or gone are ignored.
		e.s.ForgetOutbox(append(entryIDs(out1), "garbage", unknownID))
		e.waitOutbox(t, 3)
		n, oldest, err = e.s.OutboxStats(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		requireTimePtr(t, second, oldest, "oldest")
		require.Equal(t, entryIDs(out2), entryIDs(e.outbox()))

		e.s.ForgetOutbox(entryIDs(out1)) // forgetting twice is fine
		e.s.ForgetOutbox(nil)
		e.s.ForgetOutbox(entryIDs(out2[:1]))
		e.waitOutbox(t, 2)
		require.Equal(t, entryIDs(out2[1:]), entryIDs(e.outbox()))
	})

	t.Run("ConcurrentForgets", func(t *testing.T) {
		e := h.setup(t)
		batch := make([]store.InsertParams, 300)
		for i := range batch {
			batch[i] = params("default")
		}
		_, out, err := e.s.InsertJobs(e.ctx, batch)
		require.NoError(t, err)
		gate := make(chan struct{})
		var wg sync.WaitGroup
		for _, o := range out[:299] {
			wg.Go(func() {
				<-gate
				e.s.ForgetOutbox([]string{o.ID})
			})
		}
		close(gate)
		wg.Wait()
		e.waitOutbox(t, 1)
		require.Equal(t, []store.OutboxEntry{out[299]}, e.outbox())
	})

	t.Run("ManyIDs", func(t *testing.T) {
		// More ids than SQLite takes parameters in one statement (32766),
		// and than a group-commit batch carries.
		e := h.setup(t)
		j := e.insert(params("default"))
		out := e.outboxFor(j.ID)
		many := make([]string, 40000)
		for i := range many {
			many[i] = fmt.Sprintf("0190d7b4-7e6a-7c2e-8b7e-%012x", i)
		}
		jobs, err := e.s.GetJobs(e.ctx, append(many, j.ID))
		require.NoError(t, err)
		require.Len(t, jobs, 1)
		res, err := e.s.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: append(many, j.ID), WorkerID: "w1", WorkerTTL: ttl})
		require.NoError(t, err)
		require.Len(t, res, len(many)+1)
		require.NotNil(t, res[len(many)].Job)
		e.s.ForgetOutbox(append(many, out[0].ID))
		e.waitOutbox(t, 0)
	})
}

// waitOutbox waits until n entries are left in the outbox: ForgetOutbox
// deletes in the background, within about 20ms.
func (e *env) waitOutbox(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, _, err := e.s.OutboxStats(e.ctx)
		return err == nil && got == n
	}, 10*time.Second, 5*time.Millisecond, "outbox never got down to %d entries", n)
}

func (h *harness) testPromote(t *testing.T) {
	t.Run("DueAndNotDue", func(t *testing.T) {
		e := h.setup(t)
		next, err := e.s.NextDue(e.ctx)
		require.NoError(t, err)
		require.Nil(t, next)

		p := params("default")
		p.RunAt = e.clk.Now().Add(10 * time.Second)
		s1 := e.insert(p)
		p.RunAt = e.clk.Now().Add(time.Hour)
		later := e.insert(p)
		r := e.running(params("other"), "w1")
		require.True(t, e.finish(r, job.StateRetrying, "boom", e.clk.Now().Add(5*time.Second)))
		e.insert(params("default")) // queued: not touched
		before := len(e.outbox())

		next, err = e.s.NextDue(e.ctx)
		require.NoError(t, err)
		requireTimePtr(t, e.now().Add(5*time.Second), next, "earliest due")

		out, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Empty(t, out, "nothing due yet")

		e.clk.Advance(10 * time.Second)
		out, err = e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, out, 2)
		require.Equal(t, r.ID, out[0].JobID, "earliest first")
		require.Equal(t, "other", out[0].Queue)
		require.Equal(t, s1.ID, out[1].JobID)
		for _, o := range out {
			requireTime(t, e.now(), o.CreatedAt, "outbox created_at")
			require.Equal(t, job.StateQueued, e.get(o.JobID).State)
		}
		require.Len(t, e.outbox(), before+2)
		require.Equal(t, job.StateScheduled, e.get(later.ID).State)

		next, err = e.s.NextDue(e.ctx)
		require.NoError(t, err)
		requireTimePtr(t, later.RunAt, next, "next due")

		c := e.claim(r.ID, "w1")
		require.NotNil(t, c.Job, "a promoted job is claimable")
		require.Equal(t, 2, c.Job.Attempt)
	})

	t.Run("Defer", func(t *testing.T) {
		e := h.setup(t)
		j := e.insert(params("default"))
		runAt := e.now().Add(time.Second)
		ok, err := e.s.DeferJob(e.ctx, store.DeferParams{JobID: j.ID, RunAt: runAt})
		require.NoError(t, err)
		require.True(t, ok)
		got := e.get(j.ID)
		require.Equal(t, job.StateScheduled, got.State)
		requireTime(t, runAt, got.RunAt, "run_at")
		require.Zero(t, got.Attempt)
		require.Nil(t, e.claim(j.ID, "w1").Job, "a deferred job is not claimable before it is published again")

		e.clk.Advance(time.Second)
		out, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Equal(t, j.ID, out[0].JobID)
		require.NotNil(t, e.claim(j.ID, "w1").Job)

		// Only a queued job is deferred: running, finished, unknown and
		// malformed ids are left alone.
		r := e.running(params("default"), "w1")
		done := e.inState(job.StateSucceeded)
		for _, id := range []string{r.ID, done.ID, unknownID, "garbage"} {
			ok, err := e.s.DeferJob(e.ctx, store.DeferParams{JobID: id, RunAt: runAt})
			require.NoError(t, err)
			require.False(t, ok, id)
		}
		require.Equal(t, job.StateRunning, e.get(r.ID).State)
		require.Equal(t, job.StateSucceeded, e.get(done.ID).State)
	})

	t.Run("Limit", func(t *testing.T) {
		e := h.setup(t)
		for i := range 5 {
			p := params("default")
			p.RunAt = e.clk.Now().Add(time.Duration(i+1) * time.Second)
			e.insert(p)
		}
		e.clk.Advance(time.Minute)
		out, err := e.s.PromoteDue(e.ctx, 3)
		require.NoError(t, err)
		require.Len(t, out, 3)
		out, err = e.s.PromoteDue(e.ctx, 3)
		require.NoError(t, err)
		require.Len(t, out, 2)
		out, err = e.s.PromoteDue(e.ctx, 3)
		require.NoError(t, err)
		require.Empty(t, out)
	})
}

func (h *harness) testQueueStats(t *testing.T) {
	t.Run("Counts", func(t *testing.T) {
		e := h.setup(t)
		stats, err := e.s.QueueStats(e.ctx)
		require.NoError(t, err)
		require.Empty(t, stats)

		firstQueued := e.now()
		e.insert(params("mail"))
		e.clk.Advance(time.Second)
		e.insert(params("mail"))
		j := e.running(params("mail"), "w1")
		require.True(t, e.finish(j, job.StateSucceeded, "", time.Time{}))
		p := params("reports")
		p.RunAt = e.clk.Now().Add(time.Hour)
		e.insert(p)

		stats, err = e.s.QueueStats(e.ctx)
		require.NoError(t, err)
		require.Len(t, stats, 2)
		require.Equal(t, "mail", stats[0].Queue)
		require.Equal(t, map[job.State]int{job.StateQueued: 2, job.StateSucceeded: 1}, stats[0].Counts)
		requireTimePtr(t, firstQueued, stats[0].OldestQueuedAt, "oldest queued")
		require.Equal(t, "reports", stats[1].Queue)
		require.Equal(t, map[job.State]int{job.StateScheduled: 1}, stats[1].Counts)
		require.Nil(t, stats[1].OldestQueuedAt)
	})
}

func (h *harness) testWorkers(t *testing.T) {
	t.Run("HeartbeatListPruneRemove", func(t *testing.T) {
		e := h.setup(t)
		ws, err := e.s.ListWorkers(e.ctx)
		require.NoError(t, err)
		require.Empty(t, ws)

		started := e.now().Add(-time.Hour)
		w1 := store.WorkerInfo{ID: "w1", Hostname: "a", Queues: map[string]int{"mail": 2}, InFlight: 1, StartedAt: started}
		_, err = e.s.Heartbeat(e.ctx, w1)
		require.NoError(t, err)
		e.clk.Advance(time.Minute)
		_, err = e.s.Heartbeat(e.ctx, store.WorkerInfo{ID: "w2", Hostname: "b", Queues: map[string]int{"default": 8, "mail": 1}})
		require.NoError(t, err)
		w2Seen := e.now()

		ws, err = e.s.ListWorkers(e.ctx)
		require.NoError(t, err)
		require.Len(t, ws, 2)
		require.Equal(t, "w2", ws[0].ID, "most recently seen first")
		require.Equal(t, map[string]int{"default": 8, "mail": 1}, ws[0].Queues)
		requireTime(t, w2Seen, ws[0].StartedAt, "started_at defaults to now")
		requireTime(t, w2Seen, ws[0].HeartbeatAt, "heartbeat_at")
		require.Equal(t, "w1", ws[1].ID)
		require.Equal(t, "a", ws[1].Hostname)
		require.Equal(t, 1, ws[1].InFlight)
		requireTime(t, started, ws[1].StartedAt, "started_at")
		requireTime(t, start.Truncate(time.Microsecond), ws[1].HeartbeatAt, "heartbeat_at")

		e.clk.Advance(time.Minute)
		w1.InFlight, w1.Queues = 3, map[string]int{"mail": 5}
		_, err = e.s.Heartbeat(e.ctx, w1)
		require.NoError(t, err)
		ws, err = e.s.ListWorkers(e.ctx)
		require.NoError(t, err)
		require.Equal(t, "w1", ws[0].ID)
		require.Equal(t, 3, ws[0].InFlight, "a heartbeat updates the record")
		require.Equal(t, map[string]int{"mail": 5}, ws[0].Queues)
		requireTime(t, e.now(), ws[0].HeartbeatAt, "heartbeat_at")
		requireTime(t, started, ws[0].StartedAt, "started_at kept")

		n, err := e.s.PruneWorkers(e.ctx, w2Seen.Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, 1, n, "w2 is silent since before the cutoff")
		ws, err = e.s.ListWorkers(e.ctx)
		require.NoError(t, err)
		require.Len(t, ws, 1)
		require.Equal(t, "w1", ws[0].ID)

		_, err = e.s.Heartbeat(e.ctx, store.WorkerInfo{Hostname: "c"})
		require.Error(t, err, "a worker needs an id")

		require.NoError(t, e.s.RemoveWorker(e.ctx, "w1"))
		require.NoError(t, e.s.RemoveWorker(e.ctx, "w1"), "removing twice is fine")
		ws, err = e.s.ListWorkers(e.ctx)
		require.NoError(t, err)
		require.Empty(t, ws)
	})
}

// statsModel is what the statistics must say about a set of jobs, derived
// from the jobs themselves (GetJob), per tenant ("" for every tenant).
type statsModel map[string]map[string]store.QueueStats

func (e *env) statsModel(ids []string) statsModel {
	e.t.Helper()
	m := statsModel{}
	for _, id := range ids {
		j := e.get(id)
		for _, tenant := range []string{store.AllTenants, j.Tenant} {
			if m[tenant] == nil {
				m[tenant] = map[string]store.QueueStats{}
			}
			q, ok := m[tenant][j.Queue]
			if !ok {
				q = store.QueueStats{Queue: j.Queue, Counts: map[job.State]int{}}
			}
			q.Counts[j.State]++
			if j.State == job.StateQueued && (q.OldestQueuedAt == nil || j.RunAt.Before(*q.OldestQueuedAt)) {
				at := j.RunAt
				q.OldestQueuedAt = &at
			}
			m[tenant][j.Queue] = q
		}
	}
	return m
}

// requireStats checks every statistics method against the jobs ids, for
// every tenant and for each one of tenants: the counts per queue and state,
// the oldest queued job, the split between active and terminal states, and
// the waiting count of the queued-jobs cap.
func (e *env) requireStats(step string, ids []string, tenants []string) {
	e.t.Helper()
	model := e.statsModel(ids)
	for _, tenant := range append([]string{store.AllTenants}, tenants...) {
		want := model[tenant]
		all, err := e.s.TenantQueueStats(e.ctx, tenant)
		require.NoError(e.t, err)
		active, err := e.s.ActiveQueueStats(e.ctx, tenant)
		require.NoError(e.t, err)
		terminal, err := e.s.TerminalQueueStats(e.ctx, tenant)
		require.NoError(e.t, err)
		require.Equal(e.t, all, store.MergeQueueStats(active, terminal), "%s, tenant %q: the halves make the whole", step, tenant)
		if tenant == store.AllTenants {
			qs, err := e.s.QueueStats(e.ctx)
			require.NoError(e.t, err)
			require.Equal(e.t, all, qs, "%s: QueueStats is TenantQueueStats of every tenant", step)
		}
		require.Len(e.t, all, len(want), "%s, tenant %q: queues %v", step, tenant, all)
		for _, q := range all {
			w, ok := want[q.Queue]
			require.True(e.t, ok, "%s, tenant %q: unexpected queue %s", step, tenant, q.Queue)
			require.Equal(e.t, w.Counts, q.Counts, "%s, tenant %q, queue %s", step, tenant, q.Queue)
			if w.OldestQueuedAt == nil {
				require.Nil(e.t, q.OldestQueuedAt, "%s, tenant %q, queue %s: nothing queued", step, tenant, q.Queue)
			} else {
				requireTimePtr(e.t, *w.OldestQueuedAt, q.OldestQueuedAt, step+": oldest queued")
			}
		}
		for _, q := range active {
			require.Greater(e.t, len(q.Counts), 0, "%s: an active queue has counts", step)
			for st := range q.Counts {
				require.False(e.t, st.Terminal(), "%s: %s counted among the active states", step, st)
			}
		}
		for _, q := range terminal {
			require.Nil(e.t, q.OldestQueuedAt, "%s: no oldest queued among finished jobs", step)
			for st := range q.Counts {
				require.True(e.t, st.Terminal(), "%s: %s counted among the terminal states", step, st)
			}
		}
		if tenant != store.AllTenants {
			waiting := 0
			for _, q := range want {
				waiting += q.Counts[job.StateScheduled] + q.Counts[job.StateQueued] + q.Counts[job.StateRetrying]
			}
			n, err := e.s.CountWaiting(e.ctx, tenant)
			require.NoError(e.t, err)
			require.Equal(e.t, waiting, n, "%s, tenant %q: waiting jobs", step, tenant)
		}
	}
}

func (h *harness) testStatsTransitions(t *testing.T) {
	t.Run("EveryTransition", func(t *testing.T) {
		e := h.setup(t)
		tenants := []string{"acme", "globex"}
		var ids []string
		check := func(step string) { e.t.Helper(); e.requireStats(step, ids, tenants) }
		check("empty")

		a := e.insert(tenantParams("acme", "mail"))
		e.clk.Advance(time.Second)
		b := e.insert(tenantParams("globex", "mail"))
		sp := tenantParams("acme", "reports")
		sp.RunAt = e.now().Add(time.Minute)
		sched := e.insert(sp)
		ids = append(ids, a.ID, b.ID, sched.ID)
		check("inserted: queued and scheduled")

		e.heartbeat("w1")
		ra := e.claim(a.ID, "w1")
		require.NotNil(t, ra.Job)
		check("claimed: queued to running")

		require.True(t, e.finish(*ra.Job, job.StateRetrying, "boom", e.now().Add(30*time.Second)))
		check("finished: running to retrying")

		e.clk.Advance(2 * time.Minute)
		promoted, err := e.s.PromoteDue(e.ctx, 10)
		require.NoError(t, err)
		require.Len(t, promoted, 2, "the retrying and the scheduled job")
		check("promoted: scheduled and retrying to queued")

		ra = e.claim(a.ID, "w1")
		require.NotNil(t, ra.Job)
		require.True(t, e.finish(*ra.Job, job.StateSucceeded, "", time.Time{}))
		check("finished: running to succeeded")

		rb := e.claim(b.ID, "w1")
		require.NotNil(t, rb.Job)
		require.True(t, e.finish(*rb.Job, job.StateFailed, "bad input", time.Time{}))
		check("finished: running to failed")

		_, _, err = e.s.RetryJob(e.ctx, b.ID)
		require.NoError(t, err)
		check("retried by hand: failed to queued")

		_, err = e.s.CancelJob(e.ctx, b.ID)
		require.NoError(t, err)
		check("cancelled: queued to cancelled")

		rs := e.claim(sched.ID, "w1")
		require.NotNil(t, rs.Job)
		require.True(t, e.finish(*rs.Job, job.StateCancelled, "", time.Time{}))
		check("finished: running to cancelled")
	})
}
