package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api"
	"github.com/flaskhq/flask/api/apitest"
	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
)

var testNow = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

type ctlEnv struct {
	t     *testing.T
	store *apitest.Store
	env   map[string]string

	mu   sync.Mutex
	auth []string
	// admin is the admin key in FLASK_API_KEY.
	admin string
}

// newCtlEnv serves the real API over an in-memory store and points
// FLASK_API_URL at it.
func newCtlEnv(t *testing.T) *ctlEnv {
	t.Helper()
	cat, err := job.NewCatalog(
		job.Spec{Type: "email.send", Queue: "mail", MaxAttempts: 3, Timeout: 30 * time.Second},
		job.Spec{Type: "report.build"},
	)
	require.NoError(t, err)
	e := &ctlEnv{t: t, store: apitest.NewStore(func() time.Time { return testNow })}
	srv, err := api.New(api.Config{}, api.Deps{Store: e.store, Catalog: cat, Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.auth = append(e.auth, r.Header.Get("Authorization"))
		e.mu.Unlock()
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	e.admin = e.store.AddKey("default", auth.ScopeAdmin)
	e.env = map[string]string{"FLASK_API_URL": ts.URL, "FLASK_API_KEY": e.admin}
	return e
}

type result struct {
	stdout, stderr string
	err            error
}

func (e *ctlEnv) run(stdin string, args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	err := runJobsIO(e.t.Context(), args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return e.env[k] })
	if err != nil {
		require.NotContains(e.t, err.Error(), "\n", "errors are one line")
	}
	return result{out.String(), errOut.String(), err}
}

// submitJSON submits with --json and returns the job.
func (e *ctlEnv) submitJSON(args ...string) job.Job {
	e.t.Helper()
	r := e.run("", append([]string{"submit", "--json"}, args...)...)
	require.NoError(e.t, r.err, r.stderr)
	var j job.Job
	require.NoError(e.t, json.Unmarshal([]byte(r.stdout), &j), r.stdout)
	return j
}

func TestSubmitTable(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)

	r := e.run("", "submit", "--type", "email.send", "--payload", `{"to": "ada@example.com"}`, "--idempotency-key", "k-1")

	require.NoError(t, r.err)
	require.Regexp(t, `(?m)^ID\s{2,}[0-9a-f-]{36}$`, r.stdout)
	require.Regexp(t, `(?m)^TYPE\s{2,}email\.send$`, r.stdout)
	require.Regexp(t, `(?m)^QUEUE\s{2,}mail$`, r.stdout)
	require.Regexp(t, `(?m)^STATE\s{2,}queued$`, r.stdout)
	require.Regexp(t, `(?m)^ATTEMPT\s{2,}0 of 3$`, r.stdout)
	require.Regexp(t, `(?m)^PAYLOAD\s{2,}\{"to":"ada@example.com"\}$`, r.stdout)
	require.Regexp(t, `(?m)^IDEMPOTENCY KEY\s{2,}"k-1"$`, r.stdout)
	require.Empty(t, r.stderr)

	again := e.run("", "submit", "--type", "email.send", "--idempotency-key", "k-1")
	require.NoError(t, again.err)
	require.Contains(t, again.stderr, "already exists")
	require.Equal(t, 1, e.store.Len())
}

func TestSubmitFlags(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	j := e.submitJSON("--type", "report.build", "--queue", "nightly", "--max-attempts", "2",
		"--timeout", "90s", "--run-at", "2030-01-01T00:00:00Z", "--payload", "[1, 2]")
	require.Equal(t, "nightly", j.Queue)
	require.Equal(t, 2, j.MaxAttempts)
	require.Equal(t, job.Duration(90*time.Second), j.Timeout)
	require.Equal(t, job.StateScheduled, j.State)
	require.JSONEq(t, `[1,2]`, string(j.Payload))

	later := e.submitJSON("--type", "report.build", "--run-at", "+2h")
	require.True(t, later.RunAt.After(time.Now().Add(time.Hour)))
	require.Equal(t, "null", string(e.submitJSON("--type", "report.build").Payload))
}

func TestSubmitPayloadSources(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	file := filepath.Join(t.TempDir(), "payload.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"from":"file"}`), 0o600))

	require.JSONEq(t, `{"from":"file"}`, string(e.submitJSON("--type", "email.send", "--payload", "@"+file).Payload))

	r := e.run(`{"from":"stdin"}`, "submit", "--json", "--type", "email.send", "--payload", "-")
	require.NoError(t, r.err)
	var j job.Job
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &j))
	require.JSONEq(t, `{"from":"stdin"}`, string(j.Payload))

	bad := e.run("", "submit", "--type", "email.send", "--payload", "{not json")
	require.ErrorContains(t, bad.err, "--payload: not valid JSON")
	missing := e.run("", "submit", "--type", "email.send", "--payload", "@"+filepath.Join(t.TempDir(), "nope.json"))
	require.ErrorContains(t, missing.err, "no such file")
}

func TestSubmitErrors(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"submit"}, "--type is required"},
		{[]string{"submit", "--type", "emial.send"}, `Unknown job type (HTTP 422): type: "emial.send" is not an accepted job type; accepted types: email.send, report.build`},
		{[]string{"submit", "--type", "email.send", "--max-attempts", "0", "--queue", "Bad"}, "Invalid value (HTTP 422): queue: "},
		{[]string{"submit", "--type", "email.send", "--run-at", "tomorrow"}, "--run-at"},
		{[]string{"submit", "--type", "email.send", "--timeout", "soon"}, "invalid value"},
		{[]string{"submit", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"submit", "--type", "email.send", "extra"}, `unexpected argument "extra"`},
		{[]string{"frobnicate"}, `unknown subcommand "frobnicate"`},
		{nil, "no subcommand"},
	} {
		r := e.run("", tt.args...)
		require.ErrorContains(t, r.err, tt.want, tt.args)
	}
	require.Zero(t, e.store.Len())

	r := e.run("", "submit", "-h")
	require.ErrorIs(t, r.err, flag.ErrHelp, "main exits 0 on help")
	require.Contains(t, r.stderr, "-idempotency-key")
}

func TestSubmitWait(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	e.store.OnGet(func(j *job.Job, n int) {
		if n < 2 {
			j.State = job.StateRunning
			return
		}
		switch j.Type {
		case "email.send":
			j.State, j.Attempt, j.Error = job.StateFailed, 3, "smtp: 550 mailbox\nunavailable"
		default:
			j.State, j.Attempt, j.Result = job.StateSucceeded, 1, json.RawMessage(`{"rows":7}`)
		}
	})

	ok := e.run("", "submit", "--type", "report.build", "--wait", "--poll-interval", "1ms")
	require.NoError(t, ok.err)
	require.Regexp(t, `(?m)^STATE\s{2,}succeeded$`, ok.stdout)
	require.Regexp(t, `(?m)^RESULT\s{2,}\{"rows":7\}$`, ok.stdout)
	require.Contains(t, ok.stderr, "waiting")

	failed := e.run("", "submit", "--json", "--type", "email.send", "--wait", "--poll-interval", "1ms")
	require.ErrorContains(t, failed.err, "failed after 3 attempts: smtp: 550 mailbox unavailable")
	var j job.Job
	require.NoError(t, json.Unmarshal([]byte(failed.stdout), &j), "the final job is printed before the error")
	require.Equal(t, job.StateFailed, j.State)

	cancelled := e.submitJSON("--type", "report.build", "--run-at", "2030-01-01T00:00:00Z")
	e.store.OnGet(nil)
	require.NoError(t, e.store.Update(cancelled.ID, func(j *job.Job) { j.State = job.StateCancelled }))
	require.ErrorContains(t, outcome(&job.Job{ID: cancelled.ID, State: job.StateCancelled}), "was cancelled")
}

func TestGet(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	j := e.submitJSON("--type", "email.send")
	require.NoError(t, e.store.Update(j.ID, func(j *job.Job) {
		j.Errors = []job.AttemptError{{Attempt: 1, Error: "timeout", At: testNow}}
		j.WorkerID = "w-1"
	}))

	r := e.run("", "get", j.ID)
	require.NoError(t, r.err)
	require.Regexp(t, `(?m)^ID\s{2,}`+j.ID+`$`, r.stdout)
	require.Regexp(t, `(?m)^WORKER\s{2,}w-1$`, r.stdout)
	require.Regexp(t, `(?m)^ERRORS\s{2,}attempt 1 at 2026-11-26T09:30:00Z: timeout$`, r.stdout)
	require.NotContains(t, r.stdout, "STARTED", "unset optional fields are left out")

	r = e.run("", "get", j.ID, "--json")
	require.NoError(t, r.err, "flags may follow the id")
	var got job.Job
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, j.ID, got.ID)

	require.ErrorContains(t, e.run("", "get").err, "give a job id")
	require.ErrorContains(t, e.run("", "get", "a", "b").err, "give one job id")
	r = e.run("", "get", "0190c1f0-0000-7000-8000-000000000000")
	require.ErrorContains(t, r.err, "Not found (HTTP 404): no job has id 0190c1f0-0000-7000-8000-000000000000")
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	var ids []string
	for range 3 {
		ids = append(ids, e.submitJSON("--type", "email.send").ID)
	}
	e.submitJSON("--type", "report.build")

	r := e.run("", "list", "--type", "email.send", "--limit", "2")
	require.NoError(t, r.err)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^ID\s+TYPE\s+QUEUE\s+STATE\s+ATTEMPT\s+CREATED\s+RUN AT$`, lines[0])
	require.Regexp(t, `^`+ids[2]+`\s+email\.send\s+mail\s+queued\s+0/3\s+2026-11-26T09:30:00Z\s+2026-11-26T09:30:00Z$`, lines[1])
	require.Contains(t, lines[2], ids[1])
	require.Equal(t, "more jobs: add --cursor "+ids[1]+"\n", r.stderr)

	r = e.run("", "list", "--json", "--type", "email.send", "--limit", "2", "--cursor", ids[1])
	require.NoError(t, r.err)
	var page struct {
		Jobs       []job.Job `json:"jobs"`
		NextCursor *string   `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	require.Len(t, page.Jobs, 1)
	require.Equal(t, ids[0], page.Jobs[0].ID)
	require.Nil(t, page.NextCursor)

	r = e.run("", "list", "--state", "failed")
	require.NoError(t, r.err)
	require.Equal(t, "no jobs match\n", r.stdout)

	require.ErrorContains(t, e.run("", "list", "--state", "done").err, "want one of scheduled, queued")
	require.ErrorContains(t, e.run("", "list", "--limit", "5000").err, "limit: must be an integer between 1 and 1000")
}

func TestCancelAndRetry(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	j := e.submitJSON("--type", "email.send")

	r := e.run("", "cancel", j.ID)
	require.NoError(t, r.err)
	require.Equal(t, "job "+j.ID+" is cancelled\n", r.stdout)

	r = e.run("", "cancel", j.ID)
	require.ErrorContains(t, r.err, "Job state conflict (HTTP 409): job "+j.ID+" is cancelled, which does not allow cancel")

	r = e.run("", "retry", j.ID, "--json")
	require.NoError(t, r.err)
	var got job.Job
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
	require.Equal(t, job.StateQueued, got.State)

	require.NoError(t, e.store.Update(j.ID, func(j *job.Job) { j.State = job.StateRunning }))
	r = e.run("", "cancel", j.ID)
	require.NoError(t, r.err)
	require.Contains(t, r.stdout, "asked to stop")

	require.NoError(t, e.store.Update(j.ID, func(j *job.Job) { j.State = job.StateFailed }))
	r = e.run("", "retry", j.ID)
	require.NoError(t, r.err)
	require.Equal(t, "job "+j.ID+" is queued again\n", r.stdout)
}

func TestQueuesCommand(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return e.env[k] }
	require.NoError(t, runQueues(t.Context(), nil, &out, &errOut, getenv))
	require.Equal(t, "no queues hold jobs\n", out.String())

	e.submitJSON("--type", "email.send")
	e.submitJSON("--type", "report.build", "--run-at", "2030-01-01T00:00:00Z")
	out.Reset()
	require.NoError(t, runQueues(t.Context(), nil, &out, &errOut, getenv))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	require.Regexp(t, `^QUEUE\s+SCHEDULED\s+QUEUED\s+RUNNING\s+RETRYING\s+SUCCEEDED\s+FAILED\s+CANCELLED\s+OLDEST WAIT$`, lines[0])
	require.Regexp(t, `^default\s+1\s+0\s+0\s+0\s+0\s+0\s+0\s+-$`, lines[1])
	require.Regexp(t, `^mail\s+0\s+1\s+0\s+0\s+0\s+0\s+0\s+0s$`, lines[2])

	out.Reset()
	require.NoError(t, runQueues(t.Context(), []string{"--json"}, &out, &errOut, getenv))
	var body struct {
		Queues []map[string]any `json:"queues"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &body))
	require.Len(t, body.Queues, 2)
}

func TestAPIKeyAndURL(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	e.submitJSON("--type", "email.send")
	e.mu.Lock()
	require.Equal(t, []string{"Bearer " + e.admin}, e.auth, "FLASK_API_KEY is sent")
	e.mu.Unlock()
	e.env["FLASK_API_KEY"] = "s3cret"
	r := e.run("", "list")
	require.ErrorContains(t, r.err, "401")
	require.NotContains(t, r.err.Error(), "s3cret", "the key is never echoed")
	delete(e.env, "FLASK_API_KEY")
	r = e.run("", "list")
	require.ErrorContains(t, r.err, "API key")
	e.env["FLASK_API_KEY"] = e.admin

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	r = e.run("", "list", "--api", deadURL)
	require.ErrorContains(t, r.err, "is the Flask API running at "+deadURL)

	r = e.run("", "list", "--api", "localhost:8080")
	require.ErrorContains(t, r.err, "--api")

	e.env["FLASK_API_URL"] = deadURL
	r = e.run("", "list", "--api", e.env["FLASK_API_URL"])
	require.Error(t, r.err)
	require.False(t, errors.Is(r.err, flag.ErrHelp))
}

func TestDefaultAPIURL(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	cmd := &jobsCmd{stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	_, common := cmd.flags("jobs list", "", "list")
	require.Equal(t, defaultAPIURL, common.api)
}

func TestKeysCommands(t *testing.T) {
	t.Parallel()
	e := newCtlEnv(t)
	keys := func(args ...string) result {
		var out, errOut bytes.Buffer
		err := runKeys(t.Context(), args, &out, &errOut, func(k string) string { return e.env[k] })
		if err != nil {
			require.NotContains(t, err.Error(), "\n", "errors are one line")
		}
		return result{out.String(), errOut.String(), err}
	}
	r := keys("create", "--tenant", "acme", "--scopes", "jobs:submit, jobs:read", "--name", "billing")
	require.NoError(t, r.err, r.stderr)
	token := strings.TrimSpace(r.stdout)
	k, err := auth.ParseKey(token)
	require.NoError(t, err, "stdout is the key alone, for scripts: %q", r.stdout)
	require.Contains(t, r.stderr, "shown only now")

	// The new key works with the jobs commands, in its tenant.
	e.env["FLASK_API_KEY"] = token
	j := e.submitJSON("--type", "email.send")
	require.Equal(t, "acme", e.store.TenantOf(j.ID))
	r = keys("list")
	require.ErrorContains(t, r.err, "403", "listing keys needs the admin scope")
	e.env["FLASK_API_KEY"] = e.admin

	r = keys("list", "--tenant", "acme")
	require.NoError(t, r.err)
	require.Contains(t, r.stdout, k.ID)
	require.Contains(t, r.stdout, "billing")
	require.NotContains(t, r.stdout, k.Secret)

	r = keys("revoke", k.ID)
	require.NoError(t, r.err)
	require.Contains(t, r.stdout, "revoked")
	e.env["FLASK_API_KEY"] = token
	require.ErrorContains(t, e.run("", "get", j.ID).err, "401", "a revoked key is refused")
	e.env["FLASK_API_KEY"] = e.admin

	for _, args := range [][]string{{}, {"nope"}, {"create", "--tenant", "acme"}, {"revoke"}, {"create", "--tenant", "Bad!", "--scopes", "admin"}, {"create", "--tenant", "acme", "--scopes", "root"}} {
		require.Error(t, keys(args...).err, "%v", args)
	}
}
