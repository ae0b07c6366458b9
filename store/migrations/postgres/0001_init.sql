-- Jobs, the outbox of messages still to publish, and live workers.
CREATE TABLE jobs (
    id                  uuid PRIMARY KEY,
    queue               text        NOT NULL,
    type                text        NOT NULL,
    payload             jsonb       NOT NULL,
    state               text        NOT NULL CHECK (state IN ('scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    attempt             integer     NOT NULL DEFAULT 0,
    max_attempts        integer     NOT NULL CHECK (max_attempts > 0),
    timeout_ms          bigint      NOT NULL CHECK (timeout_ms > 0),
    run_at              timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    started_at          timestamptz,
    finished_at         timestamptz,
    result              jsonb,
    error               text,
    errors              jsonb       NOT NULL DEFAULT '[]',
    idempotency_key     text,
    worker_id           text,
    cancel_requested_at timestamptz
);

CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_queue_state ON jobs (queue, state);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');
-- Only jobs asked to cancel while running: claims and finishes do not touch it.
CREATE INDEX jobs_cancel_requested ON jobs (worker_id) WHERE state = 'running' AND cancel_requested_at IS NOT NULL;

CREATE TABLE job_outbox (
    id         uuid PRIMARY KEY,
    job_id     uuid        NOT NULL,
    queue      text        NOT NULL,
    type       text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX job_outbox_created_at ON job_outbox (created_at);

CREATE TABLE workers (
    id           text PRIMARY KEY,
    hostname     text        NOT NULL,
    queues       jsonb       NOT NULL,
    in_flight    integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
