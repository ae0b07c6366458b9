package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/flaskhq/flask/job"
)

// Handler runs one attempt of a job. It returns the job's result (any JSON
// value, or nil) or an error. It must return when ctx is done: ctx ends at the
// job's timeout, when the job is cancelled, and when the worker shuts down.
type Handler func(ctx context.Context, j *job.Job) (json.RawMessage, error)

// errSkipRetry marks errors that must not be retried.
var errSkipRetry = errors.New("not retryable")

// SkipRetry wraps err so that the job fails at once, whatever attempts it has
// left (the job goes to the failed state, Flask's dead letter).
func SkipRetry(err error) error {
	if err == nil {
		err = errors.New("failed")
	}
	return fmt.Errorf("%w (%w)", err, errSkipRetry)
}

// IsSkipRetry reports whether err was marked with SkipRetry.
func IsSkipRetry(err error) bool { return errors.Is(err, errSkipRetry) }

// RetryAfterError asks for the next attempt no sooner than Delay (for example
// from an HTTP Retry-After header) instead of the type's backoff.
type RetryAfterError struct {
	Err   error
	Delay time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.Delay)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err with a minimum delay before the next attempt.
func RetryAfter(err error, d time.Duration) error { return &RetryAfterError{Err: err, Delay: d} }

// Registry maps job types to their handlers and specs. It is safe for
// concurrent use.
type Registry struct {
	mu       sync.RWMutex
	handlers map[string]registered
}

type registered struct {
	spec job.Spec
	h    Handler
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handlers: map[string]registered{}} }

// Register adds a handler for spec.Type; unset spec fields take the platform
// defaults. Registering a type twice is an error.
func (r *Registry) Register(spec job.Spec, h Handler) error {
	if h == nil {
		return fmt.Errorf("register %s: handler is nil", spec.Type)
	}
	c, err := job.NewCatalog(spec)
	if err != nil {
		return fmt.Errorf("register %s: %w", spec.Type, err)
	}
	full, _ := c.Lookup(spec.Type)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.handlers[spec.Type]; ok {
		return fmt.Errorf("register %s: type registered twice", spec.Type)
	}
	r.handlers[spec.Type] = registered{spec: full, h: h}
	return nil
}

// Lookup returns the handler and spec of a type.
func (r *Registry) Lookup(typ string) (Handler, job.Spec, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.handlers[typ]
	return e.h, e.spec, ok
}

// Specs lists the registered types' specs, sorted by type.
func (r *Registry) Specs() []job.Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]job.Spec, 0, len(r.handlers))
	for _, e := range r.handlers {
		out = append(out, e.spec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
