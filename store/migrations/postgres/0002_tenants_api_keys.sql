-- Tenants and API keys. Every job belongs to a tenant: the tenant of the API
-- key that submitted it. Jobs from before this migration belong to 'default'.
ALTER TABLE jobs ADD COLUMN tenant text NOT NULL DEFAULT 'default';

-- Idempotency keys are unique per tenant: one tenant's key never reveals or
-- blocks another's job.
DROP INDEX jobs_idempotency_key;
CREATE UNIQUE INDEX jobs_tenant_idempotency_key ON jobs (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Counts a tenant's waiting jobs (the queued-jobs cap). Partial, so that a
-- claim or a finish (the row leaves the predicate) writes no entry in it.
CREATE INDEX jobs_tenant_waiting ON jobs (tenant) WHERE state IN ('scheduled', 'queued', 'retrying');

-- API keys. The secret is kept only as its SHA-256 digest: it is a 256-bit
-- random token, so a fast hash is enough to make the table useless to a thief.
CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    name         text        NOT NULL,
    tenant       text        NOT NULL,
    scopes       text        NOT NULL,
    secret_hash  bytea       NOT NULL CHECK (length(secret_hash) = 32),
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant);
