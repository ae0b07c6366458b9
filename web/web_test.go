package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

func TestPagesGolden(t *testing.T) {
	t.Parallel()

	t.Run("OverviewEmpty", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		res, body := e.get("/")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, "No jobs yet")
		require.Contains(t, body, "No worker is connected")
		golden(t, "overview_empty", body)
	})

	t.Run("Overview", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{IdleSampleInterval: time.Nanosecond}) // every poll samples
		e.d.hub.poll(e.ctx)                                         // the sampler's baseline
		ok := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
		bad := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo", MaxAttempts: 1})
		e.insert(store.InsertParams{Queue: "mail", Type: "email.send"})
		e.insert(store.InsertParams{Queue: "mail", Type: "email.send", RunAt: start.Add(time.Hour)})
		e.run(ok.ID, "w-1", job.StateSucceeded, `{"echo":1}`, "")
		e.run(bad.ID, "w-1", job.StateFailed, "", "boom")
		e.heartbeat("w-2", map[string]int{"mail": 2, "default": 8}, 3)
		e.d.hub.poll(e.ctx) // counts the two finished jobs in the current bucket

		res, body := e.get("/")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, `data-queue="default"`)
		require.Contains(t, body, `data-queue="mail"`)
		require.Contains(t, body, "2 finished")
		require.Contains(t, body, "50%", "one of the two finished jobs failed")
		require.Contains(t, body, `<code>w-2</code>`)
		require.Contains(t, body, "default:8, mail:2")
		golden(t, "overview", body)
	})

	t.Run("Jobs", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		a := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
		e.insert(store.InsertParams{Queue: "mail", Type: "email.send", IdempotencyKey: "order-7"})
		e.run(a.ID, "w-1", job.StateSucceeded, `{"ok":true}`, "")
		res, body := e.get("/jobs")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, 2, strings.Count(body, "data-job-row="))
		golden(t, "jobs", body)
	})

	t.Run("JobsFilteredEmpty", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
		res, body := e.get("/jobs?queue=mail&state=failed")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, "No job matches these filters")
		golden(t, "jobs_filtered_empty", body)
	})

	t.Run("JobsBadFilters", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		res, body := e.get("/jobs?queue=" + url.QueryEscape("no spaces") + "&state=done&limit=5000&cursor=x")
		require.Equal(t, http.StatusBadRequest, res.StatusCode)
		for _, id := range []string{`id="err-queue"`, `id="err-state"`, `id="err-limit"`} {
			require.Contains(t, body, id, "the error is shown next to its field")
		}
		require.Contains(t, body, "is not a page of this list")
		golden(t, "jobs_bad_filters", body)
	})

	t.Run("JobFailed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		j := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo", MaxAttempts: 2, IdempotencyKey: "k-1",
			Payload: json.RawMessage(`{"times":5,"nested":{"a":[1,2]}}`)})
		e.run(j.ID, "w-1", job.StateRetrying, "", "connection refused")
		e.promote()
		e.run(j.ID, "w-2", job.StateFailed, "", "still refused")
		res, body := e.get("/jobs/" + j.ID)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, "Attempt 1 failed")
		require.Contains(t, body, "connection refused")
		require.Contains(t, body, "Attempt 2 started")
		require.Contains(t, body, `data-action="retry"`)
		require.NotContains(t, body, `data-action="cancel"`, "a failed job cannot be cancelled")
		golden(t, "job_failed", body)
	})

	t.Run("JobSucceeded", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		j := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
		e.run(j.ID, "w-1", job.StateSucceeded, `{"rows":[{"id":1}],"ok":true}`, "")
		res, body := e.get("/jobs/" + j.ID)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, "&#34;rows&#34;: [", "the result is indented")
		require.NotContains(t, body, `data-action=`, "a succeeded job can be neither retried nor cancelled")
		golden(t, "job_succeeded", body)
	})

	t.Run("JobQueued", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		j := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
		_, body := e.get("/jobs/" + j.ID)
		require.Contains(t, body, `data-action="cancel"`)
		require.Contains(t, body, "No result yet.")
	})

	t.Run("JobNotFound", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		res, body := e.get("/jobs/0190d7b4-7e6a-7c2e-8b7e-3f1f1f1f1f1f")
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		golden(t, "job_not_found", body)
		res, body = e.get("/jobs/nope")
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		require.Contains(t, body, "is not a job id")
	})

	t.Run("Submit", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		res, body := e.get("/submit?type=email.send")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Contains(t, body, `<option value="email.send" data-queue="mail" data-max-attempts="3" data-timeout="30s" selected>`)
		require.Contains(t, body, `data-queue="default"`, "a type without a queue gets the default queue")
		for _, f := range []string{"type", "payload", "queue", "max_attempts", "timeout", "run_at", "idempotency_key"} {
			require.Contains(t, body, `data-error-for="`+f+`"`, "an API problem naming %s has a place next to it", f)
		}
		golden(t, "submit", body)
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for _, path := range []string{"/", "/jobs", "/submit", "/jobs/0190d7b4-7e6a-7c2e-8b7e-3f1f1f1f1f1f"} {
		res, body := e.get(path)
		h := res.Header
		require.Equal(t, contentSecurityPolicy, h.Get("Content-Security-Policy"), path)
		require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "no-store", h.Get("Cache-Control"), path)
		require.Equal(t, "text/html; charset=utf-8", h.Get("Content-Type"), path)
		require.NotContains(t, body, "<script>", "no inline script: %s", path)
		require.NotContains(t, body, " style=", "no inline style: %s", path)
		require.NotContains(t, body, " on", "no inline handler attribute: %s", path) // onclick=, onload=…
	}
}

func TestAssets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	for _, name := range []string{"app.js", "app.css"} {
		u := e.d.assets.url(name)
		require.Regexp(t, `^/ui/assets/app\.[0-9a-f]{12}\.(js|css)$`, u)
		res, body := e.get(u)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"))
		want, err := staticFS.ReadFile("static/" + name)
		require.NoError(t, err)
		require.Equal(t, string(want), body)
		if name == "app.js" {
			require.Equal(t, "text/javascript; charset=utf-8", res.Header.Get("Content-Type"))
		}

		req := httptest.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		rec := httptest.NewRecorder()
		e.d.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusNotModified, rec.Code)
	}
	res, _ := e.get("/ui/assets/app.000000000000.js")
	require.Equal(t, http.StatusNotFound, res.StatusCode, "an old hash is gone")
	require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	j := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo", IdempotencyKey: "order-42"})

	for _, q := range []string{j.ID, strings.ToUpper(j.ID), "order-42", "  order-42 "} {
		res, _ := e.get("/jobs?q=" + url.QueryEscape(q))
		require.Equal(t, http.StatusSeeOther, res.StatusCode, "q=%q", q)
		require.Equal(t, "/jobs/"+j.ID, res.Header.Get("Location"), "q=%q", q)
	}
	other := e.insert(store.InsertParams{Tenant: "acme", Queue: "default", Type: "demo.echo", IdempotencyKey: "order-7"})
	mine := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo", IdempotencyKey: "order-7"})
	res, body := e.get("/jobs?q=order-7")
	require.Equal(t, http.StatusOK, res.StatusCode, "one key in two tenants: both are listed")
	require.Contains(t, body, `data-job-row="`+other.ID+`"`)
	require.Contains(t, body, `data-job-row="`+mine.ID+`"`)

	res, body = e.get("/jobs?q=order-43")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.Contains(t, body, "No job has the id or idempotency key <code>order-43</code>")
}

func TestJobsPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	var ids []string
	for range 5 {
		ids = append(ids, e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"}).ID)
	}
	e.insert(store.InsertParams{Queue: "mail", Type: "email.send"})

	path := "/jobs?queue=default&limit=2"
	var seen []string
	for page := 0; path != ""; page++ {
		require.Less(t, page, 4, "three pages of 2, 2 and 1 jobs")
		res, body := e.get(path)
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, page > 0, strings.Contains(body, "← Newest"), "a later page links back to the first")
		for _, m := range uuidRE.FindAllString(body, -1) {
			if !strings.Contains(body, `data-job-row="`+m+`"`) || (len(seen) > 0 && seen[len(seen)-1] == m) {
				continue
			}
			seen = append(seen, m)
		}
		path = ""
		if i := strings.Index(body, `rel="next"`); i >= 0 {
			start := strings.LastIndex(body[:i], `href="`) + len(`href="`)
			end := strings.Index(body[start:], `"`)
			path = strings.ReplaceAll(body[start:start+end], "&amp;", "&")
			require.Contains(t, path, "queue=default", "the next page keeps the filters")
			require.Contains(t, path, "limit=2")
		}
	}
	require.Equal(t, reverse(ids), seen, "every job of the queue once, newest first")
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestCrossOriginProtection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	var reached int
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.WriteHeader(http.StatusCreated)
	})
	h := e.d.Wrap(next)
	post := func(headers map[string]string) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "http://flask.example/v1/jobs", strings.NewReader(`{}`))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}

	res := post(map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	var p struct {
		Type   string `json:"type"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	body, _ := io.ReadAll(res.Body)
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	require.Equal(t, ProblemCrossOrigin, p.Type)
	require.Equal(t, "Origin", p.Errors[0].Field)

	res = post(map[string]string{"Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "an old browser's Origin header is checked against Host")
	require.Equal(t, 0, reached, "refused requests never reach the API")

	require.Equal(t, http.StatusCreated, post(map[string]string{"Sec-Fetch-Site": "same-origin"}).StatusCode)
	require.Equal(t, http.StatusCreated, post(map[string]string{"Origin": "http://flask.example"}).StatusCode)
	require.Equal(t, http.StatusCreated, post(nil).StatusCode, "curl and the Go client send neither header")
	require.Equal(t, 3, reached)

	res, _ = e.get("/v1/queues")
	require.Equal(t, http.StatusTeapot, res.StatusCode, "other paths go to the API")
	res, _ = e.get("/jobs/")
	require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
}
