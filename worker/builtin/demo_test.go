package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/worker"
	"github.com/flaskhq/flask/worker/builtin"
)

// demoHandler registers the demo types in a fresh registry and returns one.
func demoHandler(t *testing.T, typ string) (worker.Handler, job.Spec) {
	t.Helper()
	r := worker.NewRegistry()
	require.NoError(t, builtin.RegisterDemo(r))
	h, spec, ok := r.Lookup(typ)
	require.True(t, ok, "type %s not registered", typ)
	return h, spec
}

func demoJob(typ, payload string, attempt int) *job.Job {
	return &job.Job{ID: "019ac1e2-0000-7000-8000-000000000001", Type: typ, Payload: json.RawMessage(payload), Attempt: attempt, MaxAttempts: 5}
}

func TestDemoSpecs(t *testing.T) {
	t.Parallel()
	r := worker.NewRegistry()
	require.NoError(t, builtin.RegisterDemo(r))
	require.Equal(t, builtin.DemoSpecs(), r.Specs(), "registered specs must be what the API catalog gets")
	_, err := job.NewCatalog(builtin.DemoSpecs()...)
	require.NoError(t, err)

	for _, s := range builtin.DemoSpecs() {
		require.Equal(t, "default", s.Queue, s.Type)
		require.Equal(t, 5, s.MaxAttempts, s.Type)
		want := time.Minute
		if s.Type == builtin.TypeDemoSleep {
			want = time.Hour
		}
		require.Equal(t, want, s.Timeout, s.Type)
		for attempt := 1; attempt <= s.MaxAttempts; attempt++ {
			for _, rnd := range []float64{0, 0.5, 0.999} {
				d := s.Backoff.Delay(attempt, rnd)
				require.True(t, d >= 800*time.Millisecond && d <= time.Second, "%s attempt %d: delay %s", s.Type, attempt, d)
			}
		}
	}
	require.Error(t, builtin.RegisterDemo(r), "registering twice must fail")
}

func TestDemoSleepFinishes(t *testing.T) {
	t.Parallel()
	h, _ := demoHandler(t, builtin.TypeDemoSleep)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := h(ctx, demoJob(builtin.TypeDemoSleep, `{"ms": 20}`, 1))
	require.NoError(t, err)
	require.JSONEq(t, `{"slept_ms": 20}`, string(res))
}

func TestDemoSleepStopsAtDeadline(t *testing.T) {
	t.Parallel()
	h, _ := demoHandler(t, builtin.TypeDemoSleep)
	// A sleep longer than the deadline must end with the deadline, which
	// also shows that it does sleep rather than return at once.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	res, err := h(ctx, demoJob(builtin.TypeDemoSleep, `{"ms": 3600000}`, 1))
	require.Nil(t, res)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, worker.IsSkipRetry(err), "a timeout may be retried")

	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err = h(ctx, demoJob(builtin.TypeDemoSleep, `{"ms": 500}`, 1))
	require.ErrorIs(t, err, context.DeadlineExceeded, "a 500ms sleep must outlast a 30ms deadline")
}

func TestDemoSleepCancelled(t *testing.T) {
	t.Parallel()
	h, _ := demoHandler(t, builtin.TypeDemoSleep)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := h(ctx, demoJob(builtin.TypeDemoSleep, `{"ms": 3600000}`, 1))
		errc <- err
	}()
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("demo.sleep ignored cancellation")
	}

	// Already cancelled: no sleep at all, even for ms=0.
	_, err := h(ctx, demoJob(builtin.TypeDemoSleep, `{"ms": 0}`, 1))
	require.ErrorIs(t, err, context.Canceled)
}

func TestDemoFail(t *testing.T) {
	t.Parallel()
	h, _ := demoHandler(t, builtin.TypeDemoFail)
	for attempt := 1; attempt <= 2; attempt++ {
		res, err := h(t.Context(), demoJob(builtin.TypeDemoFail, `{"times": 2}`, attempt))
		require.Nil(t, res)
		require.EqualError(t, err, "demo failure on attempt "+string(rune('0'+attempt))+" of 2")
		require.False(t, worker.IsSkipRetry(err))
	}
	res, err := h(t.Context(), demoJob(builtin.TypeDemoFail, `{"times": 2}`, 3))
	require.NoError(t, err)
	require.JSONEq(t, `{"attempts": 3}`, string(res))

	res, err = h(t.Context(), demoJob(builtin.TypeDemoFail, `{"times": 0}`, 1))
	require.NoError(t, err)
	require.JSONEq(t, `{"attempts": 1}`, string(res))

	_, err = h(t.Context(), demoJob(builtin.TypeDemoFail, `{"times": 3, "final": true}`, 1))
	require.True(t, worker.IsSkipRetry(err), "final must skip retries: %v", err)
	require.ErrorContains(t, err, "demo failure on attempt 1 of 3")

	res, err = h(t.Context(), demoJob(builtin.TypeDemoFail, `{"times": 1, "final": true}`, 2))
	require.NoError(t, err, "final applies only to failing attempts")
	require.JSONEq(t, `{"attempts": 2}`, string(res))
}

func TestDemoEcho(t *testing.T) {
	t.Parallel()
	h, _ := demoHandler(t, builtin.TypeDemoEcho)
	for _, payload := range []string{`{"a": [1, 2, {"b": null}], "s": "é"}`, `42`, `"text"`, `null`} {
		j := demoJob(builtin.TypeDemoEcho, payload, 1)
		res, err := h(t.Context(), j)
		require.NoError(t, err)
		require.JSONEq(t, payload, string(res))
		if len(res) > 0 {
			res[0] = 'X'
			require.Equal(t, payload, string(j.Payload), "result must not alias the payload")
		}
	}
	res, err := h(t.Context(), demoJob(builtin.TypeDemoEcho, ``, 1))
	require.NoError(t, err)
	require.Nil(t, res)
}

func TestDemoBadPayloads(t *testing.T) {
	t.Parallel()
	cases := []struct {
		typ, payload, want string
	}{
		{builtin.TypeDemoSleep, `{"ms": -1}`, "between 0 and 3600000"},
		{builtin.TypeDemoSleep, `{"ms": 3600001}`, "between 0 and 3600000"},
		{builtin.TypeDemoSleep, `{"ms": "100"}`, "ms must be an integer"},
		{builtin.TypeDemoSleep, `{"ms": 1.5}`, "ms must be an integer"},
		{builtin.TypeDemoSleep, `{"ms": 1e30}`, "ms must be an integer"},
		{builtin.TypeDemoSleep, `{"ms": 10, "sleep": 1}`, `unknown field "sleep"`},
		{builtin.TypeDemoSleep, `{}`, "payload.ms is required"},
		{builtin.TypeDemoSleep, ``, "payload.ms is required"},
		{builtin.TypeDemoSleep, `[100]`, "must be a JSON object"},
		{builtin.TypeDemoSleep, `{"ms": 1} {"ms": 2}`, "unexpected data"},
		{builtin.TypeDemoSleep, `{"ms": `, "not valid JSON"},
		{builtin.TypeDemoSleep, `{"ms" 1}`, "not valid JSON"},
		{builtin.TypeDemoFail, `{"times": -1}`, "between 0 and 1000"},
		{builtin.TypeDemoFail, `{"times": 1, "final": "yes"}`, "final must be true or false"},
		{builtin.TypeDemoFail, `{"times": 1, "extra": 1}`, `unknown field "extra"`},
		{builtin.TypeDemoFail, `{"final": true}`, "payload.times is required"},
		{builtin.TypeDemoEcho, `{"a":`, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.typ+" "+c.payload, func(t *testing.T) {
			t.Parallel()
			h, _ := demoHandler(t, c.typ)
			res, err := h(t.Context(), demoJob(c.typ, c.payload, 1))
			require.Nil(t, res)
			require.Error(t, err)
			require.True(t, worker.IsSkipRetry(err), "bad payload must not be retried: %v", err)
			require.ErrorContains(t, err, c.want)
			var ra *worker.RetryAfterError
			require.False(t, errors.As(err, &ra))
		})
	}
}
