package store

import (
	"context"
	"fmt"

	"github.com/flaskhq/flask/job"
)

// FindJobsByKey returns the jobs submitted with the idempotency key, at
// most one per tenant, newest first: tenant's job, or with AllTenants every
// tenant's. Keys match exactly.
//
// Every lookup reads the unique index on (tenant, idempotency_key). For
// AllTenants the tenants are first listed from the (tenant, state) index
// with a loose index scan (a recursive query that jumps from one tenant to
// the next), so the cost grows with the number of tenants, not of jobs.
func (s *Store) FindJobsByKey(ctx context.Context, tenant, key string) ([]job.Job, error) {
	if key == "" {
		return nil, nil
	}
	q := `SELECT ` + jobColumns + ` FROM jobs WHERE tenant = ? AND idempotency_key = ?`
	args := []any{tenant, key}
	if tenant == AllTenants {
		q = `WITH RECURSIVE tenants(tenant) AS (
				SELECT (SELECT tenant FROM jobs ORDER BY tenant LIMIT 1)
				UNION ALL
				SELECT (SELECT j.tenant FROM jobs j WHERE j.tenant > t.tenant ORDER BY j.tenant LIMIT 1)
				FROM tenants t WHERE t.tenant IS NOT NULL
			)
			SELECT ` + jobColumns + ` FROM jobs
			WHERE tenant IN (SELECT tenant FROM tenants WHERE tenant IS NOT NULL) AND idempotency_key = ?`
		args = []any{key}
	}
	var rows []jobRow
	if err := s.db.SelectContext(ctx, &rows, s.rebind(q+` ORDER BY id DESC`), args...); err != nil {
		return nil, fmt.Errorf("find jobs by idempotency key: %w", s.translate(err))
	}
	return jobsFromRows(rows)
}
