package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/flaskhq/flask/job"
)

// jobColumns lists the jobs columns in the order jobRow scans them.
const jobColumns = `id, tenant, queue, type, payload, state, attempt, max_attempts, timeout_ms, run_at, created_at,
	started_at, finished_at, result, error, errors, idempotency_key, worker_id, cancel_requested_at, trace_context`

type jobRow struct {
	ID                string         `db:"id"`
	Tenant            string         `db:"tenant"`
	Queue             string         `db:"queue"`
	Type              string         `db:"type"`
	Payload           []byte         `db:"payload"`
	State             string         `db:"state"`
	Attempt           int            `db:"attempt"`
	MaxAttempts       int            `db:"max_attempts"`
	TimeoutMS         int64          `db:"timeout_ms"`
	RunAt             dbTime         `db:"run_at"`
	CreatedAt         dbTime         `db:"created_at"`
	StartedAt         dbTime         `db:"started_at"`
	FinishedAt        dbTime         `db:"finished_at"`
	Result            []byte         `db:"result"`
	Error             sql.NullString `db:"error"`
	Errors            []byte         `db:"errors"`
	IdempotencyKey    sql.NullString `db:"idempotency_key"`
	WorkerID          sql.NullString `db:"worker_id"`
	CancelRequestedAt dbTime         `db:"cancel_requested_at"`
	TraceContext      sql.NullString `db:"trace_context"`
}

func (r *jobRow) job() (job.Job, error) {
	j := job.Job{
		ID:                r.ID,
		Tenant:            r.Tenant,
		Queue:             r.Queue,
		Type:              r.Type,
		Payload:           json.RawMessage(r.Payload),
		State:             job.State(r.State),
		Attempt:           r.Attempt,
		MaxAttempts:       r.MaxAttempts,
		Timeout:           job.Duration(time.Duration(r.TimeoutMS) * time.Millisecond),
		RunAt:             r.RunAt.T,
		CreatedAt:         r.CreatedAt.T,
		StartedAt:         r.StartedAt.ptr(),
		FinishedAt:        r.FinishedAt.ptr(),
		Error:             r.Error.String,
		IdempotencyKey:    r.IdempotencyKey.String,
		WorkerID:          r.WorkerID.String,
		CancelRequestedAt: r.CancelRequestedAt.ptr(),
		Errors:            []job.AttemptError{},
		Trace:             decodeTrace(r.TraceContext),
	}
	if len(r.Result) > 0 {
		j.Result = json.RawMessage(r.Result)
	}
	if len(r.Errors) > 0 {
		if err := json.Unmarshal(r.Errors, &j.Errors); err != nil {
			return j, fmt.Errorf("decode errors of job %s: %w", r.ID, err)
		}
	}
	return j, nil
}

// maxTraceBytes bounds a stored trace context: a traceparent is 55 bytes
// and a tracestate at most 32 members of 256 bytes, so anything longer is
// not a W3C trace context.
const maxTraceBytes = 10 << 10

// encodeTrace renders a trace context for the trace_context column: a JSON
// object, or NULL when there is none (or it is too long to be one).
func encodeTrace(tc map[string]string) sql.NullString {
	if len(tc) == 0 {
		return sql.NullString{}
	}
	b, err := json.Marshal(tc)
	if err != nil || len(b) > maxTraceBytes {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}

// decodeTrace reads the trace_context column. A value that is not a JSON
// object of strings reads as no trace context: tracing is best effort and
// never fails a job.
func decodeTrace(v sql.NullString) map[string]string {
	if !v.Valid || v.String == "" {
		return nil
	}
	var tc map[string]string
	if err := json.Unmarshal([]byte(v.String), &tc); err != nil || len(tc) == 0 {
		return nil
	}
	return tc
}

// dbTime scans a timestamp stored natively (PostgreSQL) or as Unix
// microseconds (SQLite). NULL leaves it unset.
type dbTime struct {
	T     time.Time
	Valid bool
}

func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = dbTime{}
	case time.Time:
		*t = dbTime{T: v.UTC(), Valid: true}
	case int64:
		*t = dbTime{T: time.UnixMicro(v).UTC(), Valid: true}
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

func (t dbTime) ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.T
	return &v
}

// ts converts a time into the argument the dialect stores, at the
// precision both keep (see dbPrecision).
func (s *Store) ts(t time.Time) any {
	if s.d == sqlite {
		return dbPrecision(t).UnixMicro()
	}
	return dbPrecision(t)
}

// pgTimes formats times for a PostgreSQL timestamptz[] parameter.
func pgTimes(ts []time.Time) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = dbPrecision(t).Format(time.RFC3339Nano)
	}
	return out
}

// sqlNamed is a named argument for SQLite's @name placeholders.
func sqlNamed(name string, v any) sql.NamedArg { return sql.Named(name, v) }

// canonicalID returns a job (or outbox entry) id in the form the store writes
// it — a hyphenated, lower-case UUID — or false when id is no UUID and so
// cannot name one. PostgreSQL compares uuid values and SQLite compares text:
// canonical ids make both find the same rows.
func canonicalID(id string) (string, bool) {
	if len(id) != 36 {
		return "", false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// canonicalIDs keeps the ids that are UUIDs, in canonical form.
func canonicalIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if c, ok := canonicalID(id); ok {
			out = append(out, c)
		}
	}
	return out
}

// inList renders "col IN values" for the dialect with a single ? parameter,
// so that any number of values fits: an array on PostgreSQL (pgType is the
// element type, such as uuid or text), a JSON array read by json_each on
// SQLite, whose statements take at most 32766 parameters.
func (s *Store) inList(col, pgType string, values []string) (string, any) {
	if s.d == postgres {
		return col + ` = ANY(?::` + pgType + `[])`, pq.Array(values)
	}
	b, _ := json.Marshal(values) // []string always marshals
	return col + ` IN (SELECT value FROM json_each(?))`, string(b)
}
