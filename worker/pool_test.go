package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
)

func TestOutcome(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := &Pool{cfg: Config{ID: "w1", Now: func() time.Time { return now }}}
	spec := job.Spec{Backoff: job.Backoff{Base: time.Second, Max: time.Second, Min: time.Second}}
	j := &job.Job{ID: "j1", Attempt: 2, MaxAttempts: 3, Timeout: job.Duration(time.Minute)}
	boom := errors.New("boom")

	ok := p.outcome(j, spec, []byte(`{"a":1}`), nil, nil)
	require.Equal(t, job.StateSucceeded, ok.State)
	require.JSONEq(t, `{"a":1}`, string(ok.Result))
	require.Equal(t, "w1", ok.WorkerID)
	require.Equal(t, 2, ok.Attempt)

	retry := p.outcome(j, spec, nil, boom, nil)
	require.Equal(t, job.StateRetrying, retry.State)
	require.Equal(t, now.Add(time.Second), retry.RunAt, "backoff from the type's spec")
	require.Equal(t, "boom", retry.Error)

	ra := p.outcome(j, spec, nil, RetryAfter(boom, 7*time.Second), nil)
	require.Equal(t, now.Add(7*time.Second), ra.RunAt, "Retry-After wins over backoff")

	last := p.outcome(&job.Job{ID: "j1", Attempt: 3, MaxAttempts: 3}, spec, nil, boom, nil)
	require.Equal(t, job.StateFailed, last.State, "no attempts left")

	final := p.outcome(j, spec, nil, SkipRetry(boom), nil)
	require.Equal(t, job.StateFailed, final.State)
	require.True(t, IsSkipRetry(SkipRetry(boom)))
	require.ErrorIs(t, SkipRetry(boom), boom)

	timeout := p.outcome(j, spec, nil, context.DeadlineExceeded, errTimeout)
	require.Equal(t, job.StateRetrying, timeout.State)
	require.Contains(t, timeout.Error, "timed out after 1m0s")

	cancelled := p.outcome(j, spec, nil, context.Canceled, errCancelRequested)
	require.Equal(t, job.StateCancelled, cancelled.State)

	back := p.outcome(j, spec, nil, context.Canceled, errShutdown)
	require.Equal(t, job.StateQueued, back.State, "shutdown hands the job back")
	require.Empty(t, back.Error, "a handed-back attempt records no error")

	long := p.outcome(j, spec, nil, fmt.Errorf("%s", string(make([]byte, 10000))), nil)
	require.LessOrEqual(t, len(long.Error), maxErrorLen+len("…"))
}

func TestCallRecoversPanic(t *testing.T) {
	_, err := call(context.Background(), func(context.Context, *job.Job) (json.RawMessage, error) { panic("kaboom") }, &job.Job{})
	require.ErrorContains(t, err, "handler panicked: kaboom")
}

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	h := func(context.Context, *job.Job) (json.RawMessage, error) { return nil, nil }
	require.NoError(t, r.Register(job.Spec{Type: "a.b"}, h))
	require.Error(t, r.Register(job.Spec{Type: "a.b"}, h), "registered twice")
	require.Error(t, r.Register(job.Spec{Type: "bad type"}, h))
	require.Error(t, r.Register(job.Spec{Type: "c"}, nil))
	_, spec, ok := r.Lookup("a.b")
	require.True(t, ok)
	require.Equal(t, job.DefaultMaxAttempts, spec.MaxAttempts, "defaults filled in")
	require.Len(t, r.Specs(), 1)
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Queues: map[string]int{"default": 5}}
	require.NoError(t, c.setDefaults())
	require.NotEmpty(t, c.ID)
	require.Equal(t, 30*time.Second, c.WorkerTTL)
	bad := Config{Queues: map[string]int{"default": 0}}
	require.Error(t, bad.setDefaults())
	require.Error(t, (&Config{}).setDefaults())
	ttl := Config{Queues: map[string]int{"q": 1}, HeartbeatInterval: time.Second, WorkerTTL: time.Second}
	require.Error(t, ttl.setDefaults())
}
