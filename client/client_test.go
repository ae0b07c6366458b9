package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api"
	"github.com/flaskhq/flask/api/apitest"
	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/client"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

var testNow = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

type env struct {
	store *apitest.Store
	url   string
	c     *client.Client

	mu      sync.Mutex
	headers []http.Header
	// admin is the admin key every client of newEnv sends unless its
	// options set another.
	admin string
}

// newEnv serves the real API handler over an in-memory store.
func newEnv(t *testing.T, opts ...client.Option) *env {
	t.Helper()
	cat, err := job.NewCatalog(
		job.Spec{Type: "email.send", Queue: "mail", MaxAttempts: 5, Timeout: 30 * time.Second},
		job.Spec{Type: "report.build"},
	)
	require.NoError(t, err)
	e := &env{store: apitest.NewStore(func() time.Time { return testNow })}
	e.admin = e.store.AddKey("default", auth.ScopeAdmin)
	opts = append([]client.Option{client.WithAPIKey(e.admin)}, opts...)
	srv, err := api.New(api.Config{}, api.Deps{Store: e.store, Catalog: cat, Dispatcher: &apitest.Dispatcher{},
		Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.headers = append(e.headers, r.Header.Clone())
		e.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.c, err = client.New(ts.URL, opts...)
	require.NoError(t, err)
	return e
}

func TestSubmitAndGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	runAt := testNow.Add(time.Hour)

	res, err := e.c.Submit(ctx, client.SubmitRequest{
		Type: "email.send", Payload: json.RawMessage(`{"to":"ada@example.com"}`),
		MaxAttempts: 2, Timeout: 90 * time.Second, RunAt: runAt, IdempotencyKey: "welcome-ada",
	})
	require.NoError(t, err)
	require.False(t, res.Existing)
	require.Equal(t, "mail", res.Job.Queue)
	require.Equal(t, 2, res.Job.MaxAttempts)
	require.Equal(t, job.Duration(90*time.Second), res.Job.Timeout)
	require.Equal(t, job.StateScheduled, res.Job.State)

	again, err := e.c.Submit(ctx, client.SubmitRequest{Type: "email.send", IdempotencyKey: "welcome-ada"})
	require.NoError(t, err)
	require.True(t, again.Existing)
	require.Equal(t, res.Job.ID, again.Job.ID)

	got, err := e.c.Get(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, res.Job, *got)
}

func TestBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jobs, err := e.c.SubmitBatch(t.Context(), []client.SubmitRequest{{Type: "email.send"}, {Type: "report.build"}})
	require.NoError(t, err)
	require.Len(t, jobs, 2)
	require.Equal(t, "report.build", jobs[1].Type)

	_, err = e.c.SubmitBatch(t.Context(), []client.SubmitRequest{{Type: "email.send"}, {Type: "nope"}})
	p, ok := client.IsProblem(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Equal(t, "jobs[1].type", p.Errors[0].Field)
	require.Equal(t, 2, e.store.Len(), "the failed batch added nothing")
}

func TestProblemErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()

	_, err := e.c.Get(ctx, "0190c1f0-0000-7000-8000-000000000000")
	require.ErrorIs(t, err, job.ErrNotFound)
	require.Contains(t, err.Error(), "Not found (HTTP 404)")

	_, err = e.c.Submit(ctx, client.SubmitRequest{Type: "emial.send"})
	p, ok := client.IsProblem(err)
	require.True(t, ok)
	require.Equal(t, 422, p.Status)
	require.NotEmpty(t, p.RequestID)
	require.Equal(t, `submit job of type emial.send: Unknown job type (HTTP 422): type: "emial.send" is not an accepted job type; accepted types: email.send, report.build`, err.Error())

	_, err = e.c.Submit(ctx, client.SubmitRequest{Type: "email.send", Queue: "Bad", MaxAttempts: 5000})
	require.Contains(t, err.Error(), "Invalid value (HTTP 422): queue: ")
	require.Contains(t, err.Error(), "; max_attempts: must be between 1 and 1000")
	require.NotContains(t, err.Error(), "\n")

	res, err := e.c.Submit(ctx, client.SubmitRequest{Type: "email.send"})
	require.NoError(t, err)
	_, err = e.c.Retry(ctx, res.Job.ID)
	p, ok = client.IsProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusConflict, p.Status)
	require.Equal(t, job.StateQueued, p.State)

	_, err = e.c.Get(ctx, "")
	require.ErrorContains(t, err, "empty")
}

func TestNonProblemErrorResponse(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>\n<h1>502 Bad Gateway</h1>\n</html>"))
	}))
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL)
	require.NoError(t, err)

	_, err = c.Queues(t.Context())
	p, ok := client.IsProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusBadGateway, p.Status)
	require.Equal(t, "list queues: Bad Gateway (HTTP 502): <html> <h1>502 Bad Gateway</h1> </html>", err.Error())
}

func TestCancelRetryAndWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	res, err := e.c.Submit(ctx, client.SubmitRequest{Type: "email.send"})
	require.NoError(t, err)

	cancelled, err := e.c.Cancel(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, job.StateCancelled, cancelled.State)
	retried, err := e.c.Retry(ctx, res.Job.ID)
	require.NoError(t, err)
	require.Equal(t, job.StateQueued, retried.State)

	e.store.OnGet(func(j *job.Job, n int) {
		if j.ID == res.Job.ID && n == 3 {
			j.State = job.StateSucceeded
			j.Result = json.RawMessage(`{"ok":true}`)
		}
	})
	done, err := e.c.Wait(ctx, res.Job.ID, time.Millisecond)
	require.NoError(t, err)
	require.Equal(t, job.StateSucceeded, done.State)
	require.JSONEq(t, `{"ok":true}`, string(done.Result))

	short, cancel := context.WithCancel(ctx)
	cancel()
	other, err := e.c.Submit(ctx, client.SubmitRequest{Type: "email.send"})
	require.NoError(t, err)
	_, err = e.c.Wait(short, other.Job.ID, time.Millisecond)
	require.ErrorIs(t, err, context.Canceled)
}

func TestListPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	for range 5 {
		_, err := e.c.Submit(ctx, client.SubmitRequest{Type: "email.send"})
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	opts := client.ListOpts{Queue: "mail", State: job.StateQueued, Type: "email.send", Limit: 2}
	for {
		page, err := e.c.List(ctx, opts)
		require.NoError(t, err)
		for _, j := range page.Jobs {
			require.False(t, seen[j.ID])
			seen[j.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	require.Len(t, seen, 5)

	b, err := json.Marshal(client.JobList{})
	require.NoError(t, err)
	require.JSONEq(t, `{"jobs":[],"next_cursor":null}`, string(b))
}

func TestQueuesWorkersTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	_, err := e.c.Submit(ctx, client.SubmitRequest{Type: "email.send"})
	require.NoError(t, err)
	e.store.SetWorkers([]store.WorkerInfo{{ID: "w-1", Hostname: "node-a", Queues: map[string]int{"mail": 4}, StartedAt: testNow, HeartbeatAt: testNow}})

	queues, err := e.c.Queues(ctx)
	require.NoError(t, err)
	require.Len(t, queues, 1)
	require.Equal(t, 1, queues[0].Counts[job.StateQueued])
	require.NotNil(t, queues[0].OldestQueuedAgeSeconds)

	workers, err := e.c.Workers(ctx)
	require.NoError(t, err)
	require.Equal(t, []client.Worker{{ID: "w-1", Hostname: "node-a", Queues: map[string]int{"mail": 4}, StartedAt: testNow, HeartbeatAt: testNow}}, workers)

	types, err := e.c.Types(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"email.send", "report.build"}, []string{types[0].Type, types[1].Type})
	require.Equal(t, job.Duration(30*time.Second), types[0].Timeout)
}

func TestAPIKeyAndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, client.WithUserAgent("flaskctl/test"))
	_, err := e.c.Types(t.Context())
	require.NoError(t, err)
	e.mu.Lock()
	require.Equal(t, "Bearer "+e.admin, e.headers[0].Get("Authorization"))
	require.Equal(t, "flaskctl/test", e.headers[0].Get("User-Agent"))
	e.mu.Unlock()

	bad := newEnv(t, client.WithAPIKey("k-123"))
	_, err = bad.c.Types(t.Context())
	p, ok := client.IsProblem(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusUnauthorized, p.Status)

	none := newEnv(t, client.WithAPIKey(""))
	_, err = none.c.Types(t.Context())
	p, ok = client.IsProblem(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusUnauthorized, p.Status)
	none.mu.Lock()
	defer none.mu.Unlock()
	require.Empty(t, none.headers[0].Get("Authorization"), "no key, no header")
}

func TestKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := t.Context()
	k, err := e.c.CreateKey(ctx, client.CreateKeyRequest{Name: "ci", Tenant: "acme", Scopes: []string{"jobs:submit", "jobs:read"}})
	require.NoError(t, err)
	require.Equal(t, "acme", k.Tenant)
	require.True(t, strings.HasPrefix(k.Secret, "flask_"+k.ID+"_"), "the whole token, once")

	acme, err := client.New(e.url, client.WithAPIKey(k.Secret))
	require.NoError(t, err)
	res, err := acme.Submit(ctx, client.SubmitRequest{Type: "email.send"})
	require.NoError(t, err)
	require.Equal(t, "acme", e.store.TenantOf(res.Job.ID))
	_, err = acme.Cancel(ctx, res.Job.ID)
	p, ok := client.IsProblem(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusForbidden, p.Status, "no jobs:manage scope")

	keys, err := e.c.ListKeys(ctx, "acme")
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, k.ID, keys[0].ID)
	all, err := e.c.ListKeys(ctx, "")
	require.NoError(t, err)
	require.Len(t, all, 2)

	r, err := e.c.RevokeKey(ctx, k.ID)
	require.NoError(t, err)
	require.NotNil(t, r.RevokedAt)
	_, err = acme.Get(ctx, res.Job.ID)
	p, ok = client.IsProblem(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, http.StatusUnauthorized, p.Status)
	_, err = e.c.RevokeKey(ctx, "zzzzzzzzzzzzzzzz")
	p, ok = client.IsProblem(err)
	require.True(t, ok)
	require.Equal(t, http.StatusNotFound, p.Status)
}

func TestNewValidatesURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://h/?q=1", "http://h/#f", "http://[::1"} {
		_, err := client.New(u)
		require.Error(t, err, u)
	}
	c, err := client.New("http://127.0.0.1:1/prefix/")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err = c.Types(ctx)
	require.Error(t, err, "nothing listens on port 1")
	require.False(t, errors.Is(err, job.ErrNotFound))
}

func TestBasePathPrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var paths []string
	var mu sync.Mutex
	ts := httptest.NewServer(http.StripPrefix("/flask", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		http.Redirect(w, r, e.url+r.URL.Path, http.StatusTemporaryRedirect)
	})))
	t.Cleanup(ts.Close)
	c, err := client.New(ts.URL+"/flask/", client.WithAPIKey(e.admin))
	require.NoError(t, err)
	_, err = c.Types(t.Context())
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"/v1/types"}, paths)
	require.False(t, strings.Contains(paths[0], "//"))
}
