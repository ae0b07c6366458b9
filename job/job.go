package job

import (
	"encoding/json"
	"fmt"
	"time"
)

// Job is one unit of work: a typed payload run by a worker on a queue.
type Job struct {
	// ID is a UUIDv7, so ids sort by creation time.
	ID string `json:"id"`
	// Tenant owns the job: the tenant of the API key that submitted it.
	Tenant string `json:"tenant"`
	Queue  string `json:"queue"`
	Type   string `json:"type"`
	// Payload is the handler's input, any JSON value.
	Payload json.RawMessage `json:"payload"`
	State   State           `json:"state"`
	// Attempt counts the attempts started so far (0 before the first).
	Attempt     int      `json:"attempt"`
	MaxAttempts int      `json:"max_attempts"`
	Timeout     Duration `json:"timeout"`
	// RunAt is when the job becomes runnable (its schedule, or the end of its backoff).
	RunAt      time.Time  `json:"run_at"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	// Result is what the handler returned on success.
	Result json.RawMessage `json:"result"`
	// Error is the last attempt's error, if any.
	Error string `json:"error,omitempty"`
	// Errors keeps every failed attempt's error, oldest first.
	Errors         []AttemptError `json:"errors"`
	IdempotencyKey string         `json:"idempotency_key,omitempty"`
	// WorkerID names the worker that ran (or runs) the latest attempt.
	WorkerID string `json:"worker_id,omitempty"`
	// CancelRequestedAt is set when a running job was asked to stop.
	CancelRequestedAt *time.Time `json:"cancel_requested_at,omitempty"`
	// Trace is the W3C trace context (traceparent, and tracestate when
	// there is one) the job was submitted under: every attempt continues
	// that trace. Nil outside any trace. Not part of the job's JSON.
	Trace map[string]string `json:"-"`
}

// AttemptError records why one attempt failed.
type AttemptError struct {
	Attempt  int       `json:"attempt"`
	Error    string    `json:"error"`
	At       time.Time `json:"at"`
	WorkerID string    `json:"worker_id,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string ("1m30s").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "30s" or "1h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use a Go duration such as \"30s\" or \"5m\"", s)
	}
	*d = Duration(v)
	return nil
}
