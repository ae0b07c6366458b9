package store

import (
	"encoding/json"
	"time"

	"github.com/flaskhq/flask/job"
)

// DefaultTenant owns the jobs inserted without a tenant, and those that
// existed before tenants did.
const DefaultTenant = "default"

// AllTenants, as the tenant of a read or an update, matches the jobs of
// every tenant. Only callers acting for the platform (admin API keys, the
// worker, the relay) use it.
const AllTenants = ""

// InsertParams describes one job to insert.
type InsertParams struct {
	// Tenant owns the job; "" means DefaultTenant. Idempotency keys are
	// unique per tenant.
	Tenant      string
	Queue       string
	Type        string
	Payload     json.RawMessage
	MaxAttempts int
	Timeout     time.Duration
	// RunAt in the future makes the job scheduled; zero means now.
	RunAt          time.Time
	IdempotencyKey string
	// Trace is the W3C trace context to keep with the job (see job.Job.Trace):
	// the span that submitted it. Nil: none.
	Trace map[string]string
}

// InsertResult is the outcome of inserting one job.
type InsertResult struct {
	Job job.Job
	// Existing is true when a job with the same idempotency key already existed;
	// Job is then that original job and nothing was inserted.
	Existing bool
}

// OutboxEntry is a committed "publish this job" record. It stays in the outbox
// until the broker has accepted the message, so a crash between commit and
// publish loses nothing.
type OutboxEntry struct {
	// ID is unique per enqueue of a job (a retry enqueues again) and serves as
	// the broker's de-duplication id.
	ID        string
	JobID     string
	Queue     string
	Type      string
	CreatedAt time.Time
	// Trace is the job's trace context (job.Job.Trace), for the message.
	Trace map[string]string
}

// ListParams filters and pages ListJobs. Results are newest first.
type ListParams struct {
	// Tenant limits the list to one tenant's jobs; AllTenants ("") lists
	// every tenant's.
	Tenant string
	Queue  string
	State  job.State
	Type   string
	// Limit caps the page size (1…1000).
	Limit int
	// Cursor is the id of the last job of the previous page; the page holds
	// jobs older than it.
	Cursor string
}

// QueueStats summarises one queue.
type QueueStats struct {
	Queue  string            `json:"queue"`
	Counts map[job.State]int `json:"counts"`
	// OldestQueuedAt is when the oldest job still waiting in the queue became
	// runnable, or nil when none waits.
	OldestQueuedAt *time.Time `json:"oldest_queued_at"`
}

// StatsSnapshot is one cached reading of the platform-wide statistics, as
// the API's statistics cache shares it with the dashboard.
type StatsSnapshot struct {
	// Queues holds the active states' counts as of At, merged with the
	// finished states' counts as of FinishedAt when Finished is true (while
	// false those counts are missing, not zero).
	Queues     []QueueStats
	Finished   bool
	FinishedAt time.Time
	// Workers are the worker records as of At.
	Workers []WorkerInfo
	At      time.Time
}

// ClaimParams asks to claim jobs for one worker.
type ClaimParams struct {
	JobIDs   []string
	WorkerID string
	// WorkerTTL: a running job whose worker has not sent a heartbeat for this
	// long is considered abandoned and may be claimed again.
	WorkerTTL time.Duration
}

// ClaimResult tells, for one delivered job id, what the worker should do.
type ClaimResult struct {
	JobID string
	// Job is set when the claim succeeded: the job is now running on this worker.
	Job *job.Job
	// State is the job's state when the claim did not succeed ("" if the job
	// does not exist).
	State job.State
	// Busy is true when another live worker runs the job: the delivery is a
	// duplicate and should be retried later rather than dropped.
	Busy bool
	// Abandoned is set when the claim found the job running on a dead worker
	// with no attempts left: it was marked failed instead.
	Abandoned bool
	// Attempt is the abandoned job's last attempt, for its log line.
	Attempt int
}

// FinishParams records the end of one attempt.
type FinishParams struct {
	JobID    string
	Attempt  int
	WorkerID string
	// State is succeeded, failed, retrying, cancelled, or a hand-back of an
	// unfinished attempt on shutdown, which does not count: queued (the
	// delivery goes back to the broker) or scheduled at RunAt (the relay
	// publishes a fresh message).
	State  job.State
	Result json.RawMessage
	// Error is the attempt's error (empty on success or hand-back).
	Error string
	// RunAt is when a retrying or scheduled job becomes runnable again.
	RunAt time.Time
}

// DeferParams defers a queued job that a worker could not start.
type DeferParams struct {
	JobID string
	// RunAt is when the relay publishes the job again.
	RunAt time.Time
}

// WorkerInfo describes a live worker process; it is refreshed by heartbeats.
type WorkerInfo struct {
	ID          string         `json:"id"`
	Hostname    string         `json:"hostname"`
	Queues      map[string]int `json:"queues"`
	InFlight    int            `json:"in_flight"`
	StartedAt   time.Time      `json:"started_at"`
	HeartbeatAt time.Time      `json:"heartbeat_at"`
}
