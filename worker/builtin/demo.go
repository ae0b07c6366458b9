package builtin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/worker"
)

// The demo job types.
const (
	// TypeDemoSleep sleeps payload.ms milliseconds: {"ms": 1500}.
	TypeDemoSleep = "demo.sleep"
	// TypeDemoFail fails while the attempt is at most payload.times, then
	// succeeds: {"times": 2}. With "final": true the failure is not retried.
	TypeDemoFail = "demo.fail"
	// TypeDemoEcho returns its payload as the result.
	TypeDemoEcho = "demo.echo"
)

// MaxDemoSleep is the longest demo.sleep accepts (payload.ms up to 3,600,000).
const MaxDemoSleep = time.Hour

// demoBackoff retries about a second after each failure, so retries are
// visible at once.
var demoBackoff = job.Backoff{Base: time.Second, Max: time.Second, Min: 800 * time.Millisecond}

// DemoSpecs returns the specs of the demo types: queue "default", 5 attempts,
// a backoff of about one second, and a timeout of 1h for demo.sleep and 1m
// for the others. The API adds them to its catalog without importing the
// handlers.
func DemoSpecs() []job.Spec {
	spec := func(typ string, timeout time.Duration) job.Spec {
		return job.Spec{Type: typ, Queue: job.DefaultQueue, MaxAttempts: 5, Timeout: timeout, Backoff: demoBackoff}
	}
	return []job.Spec{
		spec(TypeDemoEcho, time.Minute),
		spec(TypeDemoFail, time.Minute),
		spec(TypeDemoSleep, MaxDemoSleep),
	}
}

// RegisterDemo registers the demo handlers with their DemoSpecs.
func RegisterDemo(r *worker.Registry) error {
	handlers := map[string]worker.Handler{
		TypeDemoSleep: demoSleep,
		TypeDemoFail:  demoFail,
		TypeDemoEcho:  demoEcho,
	}
	for _, s := range DemoSpecs() {
		if err := r.Register(s, handlers[s.Type]); err != nil {
			return fmt.Errorf("register demo types: %w", err)
		}
	}
	return nil
}

func demoSleep(ctx context.Context, j *job.Job) (json.RawMessage, error) {
	var p struct {
		MS *int64 `json:"ms"`
	}
	if err := decodePayload(j.Payload, &p, `"ms"`); err != nil {
		return nil, err
	}
	if p.MS == nil {
		return nil, worker.SkipRetry(errors.New(`bad payload: payload.ms is required, e.g. {"ms": 1500}`))
	}
	if *p.MS < 0 || *p.MS > MaxDemoSleep.Milliseconds() {
		return nil, worker.SkipRetry(fmt.Errorf("bad payload: payload.ms must be between 0 and %d, not %d", MaxDemoSleep.Milliseconds(), *p.MS))
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sleep %dms: %w", *p.MS, err)
	}
	t := time.NewTimer(time.Duration(*p.MS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, fmt.Errorf("sleep %dms: %w", *p.MS, ctx.Err())
	case <-t.C:
	}
	return json.Marshal(struct {
		SleptMS int64 `json:"slept_ms"`
	}{*p.MS})
}

func demoFail(_ context.Context, j *job.Job) (json.RawMessage, error) {
	var p struct {
		Times *int `json:"times"`
		Final bool `json:"final"`
	}
	if err := decodePayload(j.Payload, &p, `"times", "final"`); err != nil {
		return nil, err
	}
	if p.Times == nil {
		return nil, worker.SkipRetry(errors.New(`bad payload: payload.times is required, e.g. {"times": 2}`))
	}
	if *p.Times < 0 || *p.Times > job.MaxMaxAttempts {
		return nil, worker.SkipRetry(fmt.Errorf("bad payload: payload.times must be between 0 and %d, not %d", job.MaxMaxAttempts, *p.Times))
	}
	if j.Attempt <= *p.Times {
		err := fmt.Errorf("demo failure on attempt %d of %d", j.Attempt, *p.Times)
		if p.Final {
			return nil, worker.SkipRetry(err)
		}
		return nil, err
	}
	return json.Marshal(struct {
		Attempts int `json:"attempts"`
	}{j.Attempt})
}

func demoEcho(_ context.Context, j *job.Job) (json.RawMessage, error) {
	if len(j.Payload) == 0 {
		return nil, nil
	}
	if !json.Valid(j.Payload) {
		return nil, worker.SkipRetry(errors.New("bad payload: not valid JSON"))
	}
	return append(json.RawMessage(nil), j.Payload...), nil
}
