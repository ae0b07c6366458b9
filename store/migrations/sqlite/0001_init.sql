-- Jobs, the outbox of messages still to publish, and live workers.
-- Times are Unix microseconds (UTC); JSON is text.
CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    queue               TEXT    NOT NULL,
    type                TEXT    NOT NULL,
    payload             TEXT    NOT NULL CHECK (json_valid(payload)),
    state               TEXT    NOT NULL CHECK (state IN ('scheduled', 'queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    attempt             INTEGER NOT NULL DEFAULT 0,
    max_attempts        INTEGER NOT NULL CHECK (max_attempts > 0),
    timeout_ms          INTEGER NOT NULL CHECK (timeout_ms > 0),
    run_at              INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    finished_at         INTEGER,
    result              TEXT,
    error               TEXT,
    errors              TEXT    NOT NULL DEFAULT '[]',
    idempotency_key     TEXT,
    worker_id           TEXT,
    cancel_requested_at INTEGER
) WITHOUT ROWID;

CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_queue_state ON jobs (queue, state);
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');
-- Only jobs asked to cancel while running: claims and finishes do not touch it.
CREATE INDEX jobs_cancel_requested ON jobs (worker_id) WHERE state = 'running' AND cancel_requested_at IS NOT NULL;

CREATE TABLE job_outbox (
    id         TEXT PRIMARY KEY,
    job_id     TEXT    NOT NULL,
    queue      TEXT    NOT NULL,
    type       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX job_outbox_created_at ON job_outbox (created_at);

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    hostname     TEXT    NOT NULL,
    queues       TEXT    NOT NULL,
    in_flight    INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
) WITHOUT ROWID;
