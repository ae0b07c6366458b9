package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// tenantParams returns insert parameters for a job of tenant in queue q.
func tenantParams(tenant, q string) store.InsertParams {
	p := params(q)
	p.Tenant = tenant
	return p
}

func (h *harness) testTenants(t *testing.T) {
	t.Run("DefaultTenant", func(t *testing.T) {
		e := h.setup(t)
		j := e.insert(params("default")) // no tenant
		got, err := e.s.GetTenantJob(e.ctx, store.DefaultTenant, j.ID)
		require.NoError(t, err, "a job inserted without a tenant belongs to the default tenant")
		require.Equal(t, j.ID, got.ID)
		require.Equal(t, store.DefaultTenant, j.Tenant, "the insert returns the tenant")
		require.Equal(t, store.DefaultTenant, got.Tenant)
		_, err = e.s.GetTenantJob(e.ctx, "acme", j.ID)
		require.ErrorIs(t, err, job.ErrNotFound)
	})

	t.Run("OtherTenantIsNotFound", func(t *testing.T) {
		e := h.setup(t)
		a := e.insert(tenantParams("acme", "default"))
		failed := e.running(tenantParams("acme", "default"), "w1")
		require.True(t, e.finish(failed, job.StateFailed, "boom", time.Time{}))

		for _, id := range []string{a.ID, failed.ID} {
			_, err := e.s.GetTenantJob(e.ctx, "globex", id)
			require.ErrorIs(t, err, job.ErrNotFound, "get another tenant's job")
			got, err := e.s.GetTenantJob(e.ctx, "acme", id)
			require.NoError(t, err)
			require.Equal(t, id, got.ID)
			require.Equal(t, "acme", got.Tenant, "a job reads back with its tenant")
			got, err = e.s.GetTenantJob(e.ctx, store.AllTenants, id)
			require.NoError(t, err, "all tenants see it")
			require.Equal(t, id, got.ID)
		}

		_, err := e.s.CancelTenantJob(e.ctx, "globex", a.ID)
		require.ErrorIs(t, err, job.ErrNotFound, "cancel another tenant's job")
		require.Equal(t, job.StateQueued, e.get(a.ID).State, "untouched")
		_, _, err = e.s.RetryTenantJob(e.ctx, "globex", failed.ID)
		require.ErrorIs(t, err, job.ErrNotFound, "retry another tenant's job")
		require.Equal(t, job.StateFailed, e.get(failed.ID).State, "untouched")

		// A state conflict is reported only to the owner: to another tenant
		// the job does not exist.
		_, _, err = e.s.RetryTenantJob(e.ctx, "acme", a.ID)
		var se *job.StateError
		require.ErrorAs(t, err, &se)
		_, _, err = e.s.RetryTenantJob(e.ctx, "globex", a.ID)
		require.ErrorIs(t, err, job.ErrNotFound)

		c, err := e.s.CancelTenantJob(e.ctx, "acme", a.ID)
		require.NoError(t, err)
		require.Equal(t, job.StateCancelled, c.State)
		r, out, err := e.s.RetryTenantJob(e.ctx, "acme", failed.ID)
		require.NoError(t, err)
		require.Equal(t, job.StateQueued, r.State)
		require.Len(t, out, 1)
	})

	t.Run("List", func(t *testing.T) {
		e := h.setup(t)
		var acme []string
		for range 3 {
			acme = append(acme, e.insert(tenantParams("acme", "default")).ID)
			e.insert(tenantParams("globex", "default"))
		}
		got, err := e.s.ListJobs(e.ctx, store.ListParams{Tenant: "acme", Limit: 100})
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, j := range got {
			require.Equal(t, acme[2-i], j.ID, "acme's jobs, newest first")
		}
		got, err = e.s.ListJobs(e.ctx, store.ListParams{Tenant: "acme", Limit: 1, Cursor: acme[2]})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, acme[1], got[0].ID, "a cursor pages within the tenant")
		got, err = e.s.ListJobs(e.ctx, store.ListParams{Tenant: "initech", Limit: 100})
		require.NoError(t, err)
		require.Empty(t, got)
		got, err = e.s.ListJobs(e.ctx, store.ListParams{Limit: 100})
		require.NoError(t, err)
		require.Len(t, got, 6, "all tenants")
	})

	t.Run("QueueStatsAndCount", func(t *testing.T) {
		e := h.setup(t)
		e.insert(tenantParams("acme", "default"))
		e.insert(tenantParams("acme", "mail"))
		sched := tenantParams("acme", "mail")
		sched.RunAt = e.now().Add(time.Hour)
		e.insert(sched)
		e.insert(tenantParams("globex", "default"))
		e.insert(tenantParams("globex", "other"))

		stats, err := e.s.TenantQueueStats(e.ctx, "acme")
		require.NoError(t, err)
		byQueue := map[string]store.QueueStats{}
		for _, q := range stats {
			byQueue[q.Queue] = q
		}
		require.Len(t, byQueue, 2, "acme's queues only: %v", stats)
		require.Equal(t, 1, byQueue["default"].Counts[job.StateQueued])
		require.Equal(t, 1, byQueue["mail"].Counts[job.StateQueued])
		require.Equal(t, 1, byQueue["mail"].Counts[job.StateScheduled])
		require.NotNil(t, byQueue["mail"].OldestQueuedAt)

		all, err := e.s.QueueStats(e.ctx)
		require.NoError(t, err)
		require.Len(t, all, 3, "every tenant's queues")

		n, err := e.s.CountWaiting(e.ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, 3, n, "queued and scheduled jobs wait")
		running := e.running(tenantParams("acme", "default"), "w1")
		require.Equal(t, job.StateRunning, running.State)
		n, err = e.s.CountWaiting(e.ctx, "acme")
		require.NoError(t, err)
		require.Equal(t, 3, n, "a running job does not wait")
		n, err = e.s.CountWaiting(e.ctx, "initech")
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("IdempotencyKeyPerTenant", func(t *testing.T) {
		e := h.setup(t)
		a, b := tenantParams("acme", "default"), tenantParams("globex", "default")
		a.IdempotencyKey, b.IdempotencyKey = "order-1", "order-1"
		res, out, err := e.s.InsertJobs(e.ctx, []store.InsertParams{a, b})
		require.NoError(t, err)
		require.False(t, res[0].Existing)
		require.False(t, res[1].Existing, "the same key in another tenant is another job")
		require.NotEqual(t, res[0].Job.ID, res[1].Job.ID)
		require.Len(t, out, 2)

		again, _, err := e.s.InsertJobs(e.ctx, []store.InsertParams{b, a})
		require.NoError(t, err)
		require.True(t, again[0].Existing)
		require.Equal(t, res[1].Job.ID, again[0].Job.ID, "globex gets its own job back")
		require.True(t, again[1].Existing)
		require.Equal(t, res[0].Job.ID, again[1].Job.ID, "acme gets its own job back")
	})
}

func (h *harness) testAPIKeys(t *testing.T) {
	hash := func(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }

	t.Run("CreateGetListRevoke", func(t *testing.T) {
		e := h.setup(t)
		k, err := e.s.CreateAPIKey(e.ctx, store.CreateKeyParams{ID: "k1", Name: "ci", Tenant: "acme",
			Scopes: []string{"jobs:submit", "jobs:read"}, SecretHash: hash("s1")})
		require.NoError(t, err)
		requireTime(t, e.now(), k.CreatedAt, "created_at")
		_, err = e.s.CreateAPIKey(e.ctx, store.CreateKeyParams{ID: "k2", Name: "ops", Tenant: "globex",
			Scopes: []string{"admin"}, SecretHash: hash("s2")})
		require.NoError(t, err)

		got, err := e.s.GetAPIKey(e.ctx, "k1")
		require.NoError(t, err)
		require.Equal(t, "ci", got.Name)
		require.Equal(t, "acme", got.Tenant)
		require.Equal(t, []string{"jobs:submit", "jobs:read"}, got.Scopes)
		require.True(t, bytes.Equal(hash("s1"), got.SecretHash))
		require.Nil(t, got.RevokedAt)
		require.Nil(t, got.LastUsedAt)

		_, err = e.s.GetAPIKey(e.ctx, "nope")
		require.ErrorIs(t, err, store.ErrKeyNotFound)

		_, err = e.s.CreateAPIKey(e.ctx, store.CreateKeyParams{ID: "k1", Name: "again", Tenant: "acme",
			Scopes: []string{"admin"}, SecretHash: hash("s3")})
		require.ErrorIs(t, err, job.ErrDuplicate)

		list, err := e.s.ListAPIKeys(e.ctx, "acme")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "k1", list[0].ID)
		list, err = e.s.ListAPIKeys(e.ctx, store.AllTenants)
		require.NoError(t, err)
		require.Len(t, list, 2)

		at := e.clk.Advance(time.Minute)
		r, err := e.s.RevokeAPIKey(e.ctx, "k1")
		require.NoError(t, err)
		requireTimePtr(t, dbTime(at), r.RevokedAt, "revoked_at")
		e.clk.Advance(time.Minute)
		r, err = e.s.RevokeAPIKey(e.ctx, "k1")
		require.NoError(t, err)
		requireTimePtr(t, dbTime(at), r.RevokedAt, "revoking again keeps the first time")
		_, err = e.s.RevokeAPIKey(e.ctx, "nope")
		require.ErrorIs(t, err, store.ErrKeyNotFound)
	})

	t.Run("Validation", func(t *testing.T) {
		e := h.setup(t)
		ok := store.CreateKeyParams{ID: "k", Name: "n", Tenant: "t", Scopes: []string{"admin"}, SecretHash: hash("s")}
		for name, mut := range map[string]func(p *store.CreateKeyParams){
			"no id":        func(p *store.CreateKeyParams) { p.ID = "" },
			"no tenant":    func(p *store.CreateKeyParams) { p.Tenant = "" },
			"no scope":     func(p *store.CreateKeyParams) { p.Scopes = nil },
			"spaced scope": func(p *store.CreateKeyParams) { p.Scopes = []string{"a b"} },
			"short hash":   func(p *store.CreateKeyParams) { p.SecretHash = []byte("short") },
		} {
			p := ok
			mut(&p)
			_, err := e.s.CreateAPIKey(e.ctx, p)
			require.Error(t, err, name)
		}
		_, err := e.s.CreateAPIKey(e.ctx, ok)
		require.NoError(t, err)
	})

	t.Run("Ensure", func(t *testing.T) {
		e := h.setup(t)
		p := store.CreateKeyParams{ID: "boot", Name: "bootstrap", Tenant: "default", Scopes: []string{"admin"}, SecretHash: hash("s")}
		k, created, err := e.s.EnsureAPIKey(e.ctx, p)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "boot", k.ID)
		p2 := p
		p2.SecretHash = hash("other")
		k, created, err = e.s.EnsureAPIKey(e.ctx, p2)
		require.NoError(t, err)
		require.False(t, created)
		require.True(t, bytes.Equal(hash("s"), k.SecretHash), "an existing key keeps its secret")
		_, err = e.s.RevokeAPIKey(e.ctx, "boot")
		require.NoError(t, err)
		k, created, err = e.s.EnsureAPIKey(e.ctx, p)
		require.NoError(t, err)
		require.False(t, created)
		require.NotNil(t, k.RevokedAt, "ensuring never un-revokes")
	})

	t.Run("Touch", func(t *testing.T) {
		e := h.setup(t)
		for _, id := range []string{"a", "b", "c"} {
			_, err := e.s.CreateAPIKey(e.ctx, store.CreateKeyParams{ID: id, Name: id, Tenant: "t", Scopes: []string{"jobs:read"}, SecretHash: hash(id)})
			require.NoError(t, err)
		}
		later := e.now().Add(time.Hour)
		require.NoError(t, e.s.TouchAPIKeys(e.ctx, []string{"a", "b", "missing"}, later))
		require.NoError(t, e.s.TouchAPIKeys(e.ctx, []string{"a"}, e.now()), "an older use does not move it back")
		for id, want := range map[string]*time.Time{"a": &later, "b": &later, "c": nil} {
			k, err := e.s.GetAPIKey(e.ctx, id)
			require.NoError(t, err)
			if want == nil {
				require.Nil(t, k.LastUsedAt, id)
			} else {
				requireTimePtr(t, dbTime(*want), k.LastUsedAt, id+" last_used_at")
			}
		}
		require.NoError(t, e.s.TouchAPIKeys(e.ctx, nil, later))
	})
}

// dbTime is t as the store keeps it.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
