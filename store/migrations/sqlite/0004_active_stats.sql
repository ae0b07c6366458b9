-- The jobs that still need a worker, for the queue statistics that autoscalers
-- and /metrics read every second: counts per queue and state and the oldest
-- queued run_at come from an index-only scan of this small partial index
-- instead of a scan of every job ever run (jobs_queue_state holds the
-- finished ones too, and there is no retention). Tenant first, so that one
-- tenant's statistics and the queued-jobs cap (CountWaiting) read a range of
-- it; it replaces jobs_tenant_waiting, which it covers. A finish writes no
-- entry in it: the finished row leaves the predicate.
CREATE INDEX jobs_active ON jobs (tenant, queue, state, run_at) WHERE state IN ('scheduled', 'queued', 'running', 'retrying');
DROP INDEX jobs_tenant_waiting;
