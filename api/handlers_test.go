package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

func TestSubmitCreatesJobWithTypeDefaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})

	w := h.post("/v1/jobs", `{"type": "email.send", "payload": {"to": "ada@example.com",  "n": [1, 2]}}`)

	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	j := decodeJob(t, w)
	require.Equal(t, "/v1/jobs/"+j.ID, w.Header().Get("Location"))
	require.Equal(t, "email.send", j.Type)
	require.Equal(t, "mail", j.Queue)
	require.Equal(t, 5, j.MaxAttempts)
	require.Equal(t, job.Duration(30*time.Second), j.Timeout)
	require.Equal(t, job.StateQueued, j.State)
	require.JSONEq(t, `{"to":"ada@example.com","n":[1,2]}`, string(j.Payload))
	require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	require.NotEmpty(t, w.Header().Get(RequestIDHeader))

	entries := h.disp.Entries()
	require.Len(t, entries, 1, "the outbox entry is dispatched before the answer")
	require.Equal(t, j.ID, entries[0].JobID)

	stored, err := h.store.GetJob(t.Context(), j.ID)
	require.NoError(t, err)
	require.Equal(t, `{"to":"ada@example.com","n":[1,2]}`, string(stored.Payload), "payloads are stored compacted")
	require.Equal(t, 1.0, counterValue(t, h.srv.metrics.submitted.WithLabelValues("mail", "email.send")))
}

func TestSubmitExplicitValuesOverrideDefaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	runAt := testNow.Add(time.Hour)

	w := h.post("/v1/jobs", fmt.Sprintf(`{"type":"email.send","queue":"bulk-mail","max_attempts":1,
		"timeout":"2m","run_at":%q,"payload":null}`, runAt.Format(time.RFC3339)))

	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	j := decodeJob(t, w)
	require.Equal(t, "bulk-mail", j.Queue)
	require.Equal(t, 1, j.MaxAttempts)
	require.Equal(t, job.Duration(2*time.Minute), j.Timeout)
	require.True(t, runAt.Equal(j.RunAt))
	require.Equal(t, job.StateScheduled, j.State)
	require.Equal(t, "null", string(j.Payload))
	require.Empty(t, h.disp.Entries(), "a scheduled job has nothing to publish yet")
}

func TestSubmitOptionalNullsTakeDefaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{DefaultQueue: "work"})

	w := h.post("/v1/jobs", `{"type":"report.build","queue":null,"max_attempts":null,"timeout":null,"run_at":null,"idempotency_key":null}`)

	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	j := decodeJob(t, w)
	require.Equal(t, "work", j.Queue, "Config.DefaultQueue replaces the catalog's default queue")
	require.Equal(t, job.DefaultMaxAttempts, j.MaxAttempts)
	require.Equal(t, job.Duration(job.DefaultTimeout), j.Timeout)
	require.Equal(t, "null", string(j.Payload))
}

func TestSubmitIdempotency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	body := `{"type":"email.send","payload":{"to":"ada@example.com"},"idempotency_key":"welcome-ada"}`

	first := h.post("/v1/jobs", body)
	require.Equal(t, http.StatusCreated, first.Code, first.Body.String())
	again := h.post("/v1/jobs", body)
	require.Equal(t, http.StatusOK, again.Code, again.Body.String())
	require.Equal(t, decodeJob(t, first).ID, decodeJob(t, again).ID)

	// The header names the same key: still the original job.
	viaHeader := h.do(request{method: http.MethodPost, path: "/v1/jobs",
		body: `{"type":"email.send"}`, header: map[string]string{IdempotencyKeyHeader: `"welcome-ada"`}})
	require.Equal(t, http.StatusOK, viaHeader.Code, viaHeader.Body.String())
	require.Equal(t, decodeJob(t, first).ID, decodeJob(t, viaHeader).ID)

	require.Equal(t, 1, h.store.Len(), "never a second job")
	require.Len(t, h.disp.Entries(), 1)
	require.Equal(t, 1.0, counterValue(t, h.srv.metrics.submitted.WithLabelValues("mail", "email.send")))
}

func TestSubmitIdempotencyHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})

	w := h.do(request{method: http.MethodPost, path: "/v1/jobs", body: `{"type":"email.send"}`,
		header: map[string]string{IdempotencyKeyHeader: "order-17"}})
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	require.Equal(t, "order-17", decodeJob(t, w).IdempotencyKey)

	same := h.do(request{method: http.MethodPost, path: "/v1/jobs", body: `{"type":"email.send","idempotency_key":"order-17"}`,
		header: map[string]string{IdempotencyKeyHeader: "order-17"}})
	require.Equal(t, http.StatusOK, same.Code, same.Body.String())

	mismatch := h.do(request{method: http.MethodPost, path: "/v1/jobs", body: `{"type":"email.send","idempotency_key":"order-18"}`,
		header: map[string]string{IdempotencyKeyHeader: "order-17"}})
	p := decodeProblem(t, mismatch, http.StatusBadRequest)
	require.Equal(t, []string{"idempotency_key"}, p.fields())
	require.Contains(t, p.Detail, IdempotencyKeyHeader)
	require.Equal(t, 1, h.store.Len())
}

func TestSubmitRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		fields []string
		detail string // a part of the problem's detail
	}{
		{"unknown field", `{"type":"email.send","paylod":{}}`, 400, []string{"paylod"}, "not a field of a job"},
		{"field in other case", `{"TYPE":"email.send"}`, 400, []string{"TYPE", "type"}, "not a field"},
		{"malformed JSON", `{"type":"email.send",}`, 400, []string{""}, "malformed JSON at byte offset"},
		{"truncated JSON", `{"type":"email.send"`, 400, []string{""}, "ends before"},
		{"trailing data", `{"type":"email.send"} {"type":"email.send"}`, 400, []string{""}, "unexpected data after the JSON object"},
		{"trailing garbage", `{"type":"email.send"}]`, 400, []string{""}, "unexpected data"},
		{"array body", `[{"type":"email.send"}]`, 400, []string{""}, "must be a JSON object, not array"},
		{"null body", `null`, 400, []string{""}, "not null"},
		{"missing type", `{"payload":1}`, 400, []string{"type"}, "required"},
		{"type not a string", `{"type":7}`, 400, []string{"type"}, "must be a string"},
		{"unknown type", `{"type":"emial.send"}`, 422, []string{"type"}, "accepted types: email.send, image.resize, report.build"},
		{"malformed type", `{"type":"no spaces"}`, 422, []string{"type"}, "not an accepted job type"},
		{"invalid UTF-8 in type", "{\"type\":\"email.send\xff\"}", 400, []string{"type"}, "invalid UTF-8"},
		{"invalid UTF-8 in payload", "{\"type\":\"email.send\",\"payload\":\"\xc3\x28\"}", 400, []string{"payload"}, "invalid UTF-8"},
		{"lone surrogate", `{"type":"email.send","payload":{"s":"\ud800x"}}`, 400, []string{"payload"}, "surrogate"},
		{"lone low surrogate", `{"type":"email.send","idempotency_key":"\udc00"}`, 400, []string{"idempotency_key"}, "surrogate"},
		{"NUL escape", `{"type":"email.send","payload":"a\u0000b"}`, 400, []string{"payload"}, `\u0000`},
		{"max_attempts zero", `{"type":"email.send","max_attempts":0}`, 422, []string{"max_attempts"}, "between 1 and 1000"},
		{"max_attempts too many", `{"type":"email.send","max_attempts":1001}`, 422, []string{"max_attempts"}, "between 1 and 1000"},
		{"max_attempts huge", `{"type":"email.send","max_attempts":99999999999999999999999}`, 422, []string{"max_attempts"}, "between"},
		{"max_attempts fraction", `{"type":"email.send","max_attempts":1.5}`, 400, []string{"max_attempts"}, "integer"},
		{"max_attempts string", `{"type":"email.send","max_attempts":"3"}`, 400, []string{"max_attempts"}, "integer"},
		{"timeout not a duration", `{"type":"email.send","timeout":"soon"}`, 400, []string{"timeout"}, "duration"},
		{"timeout a number", `{"type":"email.send","timeout":30}`, 400, []string{"timeout"}, "must be a string"},
		{"timeout too short", `{"type":"email.send","timeout":"0s"}`, 422, []string{"timeout"}, "between 1ms and 24h"},
		{"timeout too long", `{"type":"email.send","timeout":"25h"}`, 422, []string{"timeout"}, "between 1ms and 24h"},
		{"run_at not RFC 3339", `{"type":"email.send","run_at":"tomorrow"}`, 400, []string{"run_at"}, "RFC 3339"},
		{"run_at without zone", `{"type":"email.send","run_at":"2026-11-26T10:00:00"}`, 400, []string{"run_at"}, "RFC 3339"},
		{"bad queue", `{"type":"email.send","queue":"Mail.EU"}`, 422, []string{"queue"}, "lower-case"},
		{"long idempotency key", `{"type":"email.send","idempotency_key":"` + strings.Repeat("k", 256) + `"}`, 422, []string{"idempotency_key"}, "longer than 255"},
		{"control character in key", `{"type":"email.send","idempotency_key":"a\nb"}`, 422, []string{"idempotency_key"}, "control"},
		{
			"several faults, 400 first", `{"type":"nope","timeout":"x","max_attempts":0}`, 400,
			[]string{"type", "max_attempts", "timeout"}, "timeout: must be a duration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{})
			w := h.post("/v1/jobs", tt.body)
			p := decodeProblem(t, w, tt.status)
			require.ElementsMatch(t, tt.fields, p.fields())
			require.Contains(t, p.Detail, tt.detail)
			require.Zero(t, h.store.Len(), "nothing is stored")
			require.Empty(t, h.disp.Entries())
		})
	}
}

func TestSubmitPayloadTooLarge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxPayloadBytes: 16})

	ok := h.post("/v1/jobs", `{"type":"email.send","payload": [1, 2, 3, 4, 5, 6, 7]}`) // 15 bytes once compacted
	require.Equal(t, http.StatusCreated, ok.Code, ok.Body.String())

	w := h.post("/v1/jobs", `{"type":"email.send","payload":"0123456789abcdef"}`)
	p := decodeProblem(t, w, http.StatusRequestEntityTooLarge)
	require.Equal(t, ProblemTooLarge, p.Type)
	require.Equal(t, []string{"payload"}, p.fields())
	require.Equal(t, 1, h.store.Len())
}

func TestSubmitBodyTooLarge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxBodyBytes: 64})

	w := h.post("/v1/jobs", `{"type":"email.send","payload":"`+strings.Repeat("x", 100)+`"}`)

	p := decodeProblem(t, w, http.StatusRequestEntityTooLarge)
	require.Equal(t, ProblemTooLarge, p.Type)
	require.Contains(t, p.Detail, "larger than 64 bytes")
	require.Zero(t, h.store.Len())
}

func TestSubmitContentType(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "nonsense;;"} {
		w := h.do(request{method: http.MethodPost, path: "/v1/jobs", body: `{"type":"email.send"}`,
			header: map[string]string{"Content-Type": ct}})
		p := decodeProblem(t, w, http.StatusUnsupportedMediaType)
		require.Equal(t, []string{"Content-Type"}, p.fields(), ct)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/jobs", strings.NewReader(`{"type":"email.send"}`))
	r.Header.Set("Authorization", "Bearer "+h.admin)
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, r)
	decodeProblem(t, w, http.StatusUnsupportedMediaType)

	w = h.do(request{method: http.MethodPost, path: "/v1/jobs", body: `{"type":"email.send"}`,
		header: map[string]string{"Content-Type": "application/json; charset=UTF-8"}})
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
}

func TestStoreErrorIsGeneric500(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.store.FailWith(func(op string) error {
		return errors.New(`pq: relation "jobs" does not exist at 10.0.0.7`)
	})

	w := h.post("/v1/jobs", `{"type":"email.send"}`)

	p := decodeProblem(t, w, http.StatusInternalServerError)
	require.Equal(t, ProblemInternal, p.Type)
	require.NotContains(t, w.Body.String(), "pq:")
	require.NotContains(t, w.Body.String(), "10.0.0.7")
	logs := h.logs.String()
	require.Equal(t, 1, strings.Count(logs, `relation \"jobs\" does not exist`), "the cause is logged once: %s", logs)
	require.Contains(t, logs, p.RequestID)
}

func TestBatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})

	w := h.post("/v1/jobs/batch", `{"jobs":[
		{"type":"email.send","payload":{"to":"ada@example.com"}},
		{"type":"report.build","idempotency_key":"r-1"},
		{"type":"image.resize","run_at":"2030-01-01T00:00:00Z"}]}`)

	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var out BatchResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	require.Len(t, out.Jobs, 3)
	require.Equal(t, []string{"email.send", "report.build", "image.resize"},
		[]string{out.Jobs[0].Type, out.Jobs[1].Type, out.Jobs[2].Type}, "in request order")
	require.Equal(t, "media", out.Jobs[2].Queue)
	require.Equal(t, job.StateScheduled, out.Jobs[2].State)
	require.Len(t, h.disp.Entries(), 2)

	again := h.post("/v1/jobs/batch", `{"jobs":[{"type":"report.build","idempotency_key":"r-1"}]}`)
	require.Equal(t, http.StatusOK, again.Code, "every job existed")
	require.Equal(t, 3, h.store.Len())
}

func TestBatchIsAllOrNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		fields []string
	}{
		{"bad item", `{"jobs":[{"type":"email.send"},{"type":"email.send"},{"type":"email.send"},{"type":""}]}`, 400, []string{"jobs[3].type"}},
		{"unknown type in item", `{"jobs":[{"type":"email.send"},{"type":"nope"}]}`, 422, []string{"jobs[1].type"}},
		{"unknown field in item", `{"jobs":[{"type":"email.send","x":1}]}`, 400, []string{"jobs[0].x"}},
		{"item not an object", `{"jobs":[{"type":"email.send"}, 5]}`, 400, []string{"jobs[1]"}},
		{"empty", `{"jobs":[]}`, 400, []string{"jobs"}},
		{"missing jobs", `{}`, 400, []string{"jobs"}},
		{"jobs not an array", `{"jobs":{"type":"email.send"}}`, 400, []string{"jobs"}},
		{"unknown top-level field", `{"jobs":[{"type":"email.send"}],"job":[]}`, 400, []string{"job"}},
		{"malformed", `{"jobs":[{"type":"email.send"}]`, 400, []string{""}},
		{"duplicate keys", `{"jobs":[{"type":"email.send","idempotency_key":"k"},{"type":"email.send","idempotency_key":"k"}]}`, 400, []string{"jobs[1].idempotency_key"}},
		{"payload too large", `{"jobs":[{"type":"email.send"},{"type":"email.send","payload":"` + strings.Repeat("p", 40) + `"}]}`, 413, []string{"jobs[1].payload"}},
		{"too many", `{"jobs":[{"type":"email.send"},{"type":"email.send"},{"type":"email.send"},{"type":"email.send"},{"type":"email.send"}]}`, 400, []string{"jobs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Config{MaxBatch: 4, MaxPayloadBytes: 32})
			w := h.post("/v1/jobs/batch", tt.body)
			p := decodeProblem(t, w, tt.status)
			require.Equal(t, tt.fields, p.fields())
			require.Zero(t, h.store.Len(), "a failed batch inserts nothing")
			require.Empty(t, h.disp.Entries())
		})
	}
}

func TestBatchRefusesIdempotencyHeader(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := h.do(request{method: http.MethodPost, path: "/v1/jobs/batch", body: `{"jobs":[{"type":"email.send"}]}`,
		header: map[string]string{IdempotencyKeyHeader: "k"}})
	p := decodeProblem(t, w, http.StatusBadRequest)
	require.Equal(t, []string{IdempotencyKeyHeader}, p.fields())
}

func TestBatchBodyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxBodyBytes: 32, MaxBatchBodyBytes: 128})
	item := `{"type":"email.send"},`
	ok := h.post("/v1/jobs/batch", `{"jobs":[`+strings.Repeat(item, 4)+`{"type":"email.send"}]}`)
	require.Equal(t, http.StatusCreated, ok.Code, "a batch body may exceed MaxBodyBytes: %s", ok.Body.String())
	tooBig := h.post("/v1/jobs/batch", `{"jobs":[`+strings.Repeat(item, 6)+`{"type":"email.send"}]}`)
	decodeProblem(t, tooBig, http.StatusRequestEntityTooLarge)
}

func TestGetJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	created := decodeJob(t, h.post("/v1/jobs", `{"type":"email.send"}`))

	w := h.get("/v1/jobs/" + created.ID)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, created, decodeJob(t, w))

	upper := h.get("/v1/jobs/" + strings.ToUpper(created.ID))
	require.Equal(t, http.StatusOK, upper.Code, "ids are case-insensitive")

	p := decodeProblem(t, h.get("/v1/jobs/0190c1f0-0000-7000-8000-000000000000"), http.StatusNotFound)
	require.Equal(t, ProblemNotFound, p.Type)
	p = decodeProblem(t, h.get("/v1/jobs/not-a-uuid"), http.StatusNotFound)
	require.Contains(t, p.Detail, "UUID")
}

func TestListJobsPagination(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	var ids []string
	for i := range 5 {
		j := decodeJob(t, h.post("/v1/jobs", fmt.Sprintf(`{"type":"email.send","payload":%d}`, i)))
		ids = append(ids, j.ID)
	}
	h.post("/v1/jobs", `{"type":"report.build"}`)

	var got []string
	path := "/v1/jobs?type=email.send&limit=2"
	pages := 0
	for {
		w := h.get(path)
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		var page JobList
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		pages++
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if page.NextCursor == nil {
			require.Less(t, len(page.Jobs), 3)
			break
		}
		require.Len(t, page.Jobs, 2)
		path = "/v1/jobs?type=email.send&limit=2&cursor=" + *page.NextCursor
	}
	require.Equal(t, 3, pages)
	want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	require.Equal(t, want, got, "newest first, each job once")

	var all JobList
	require.NoError(t, json.Unmarshal(h.get("/v1/jobs").Body.Bytes(), &all))
	require.Len(t, all.Jobs, 6)
	require.Nil(t, all.NextCursor)

	var exact JobList
	require.NoError(t, json.Unmarshal(h.get("/v1/jobs?limit=6").Body.Bytes(), &exact))
	require.Len(t, exact.Jobs, 6)
	require.Nil(t, exact.NextCursor, "a full last page has no next page")

	var filtered JobList
	require.NoError(t, json.Unmarshal(h.get("/v1/jobs?queue=default&state=queued").Body.Bytes(), &filtered))
	require.Len(t, filtered.Jobs, 1)
	require.Equal(t, "report.build", filtered.Jobs[0].Type)

	var empty JobList
	w := h.get("/v1/jobs?state=failed")
	require.JSONEq(t, `{"jobs":[],"next_cursor":null}`, w.Body.String())
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &empty))
}

func TestListJobsRejectsBadParameters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for query, field := range map[string]string{
		"limit=0":                  "limit",
		"limit=1001":               "limit",
		"limit=ten":                "limit",
		"state=done":               "state",
		"queue=Bad.Queue":          "queue",
		"type=no%20spaces":         "type",
		"cursor=page-2":            "cursor",
		"stat=failed":              "stat",
		"limit=1&limit=2":          "limit",
		"cursor=%7B0190c1f0-0000}": "cursor",
	} {
		p := decodeProblem(t, h.get("/v1/jobs?"+query), http.StatusBadRequest)
		require.Equal(t, []string{field}, p.fields(), query)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	queued := decodeJob(t, h.post("/v1/jobs", `{"type":"email.send"}`))

	w := h.post("/v1/jobs/"+queued.ID+"/cancel", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, job.StateCancelled, decodeJob(t, w).State)

	p := decodeProblem(t, h.post("/v1/jobs/"+queued.ID+"/cancel", ""), http.StatusConflict)
	require.Equal(t, ProblemStateConflict, p.Type)
	require.Equal(t, job.StateCancelled, p.State)
	require.Contains(t, p.Detail, "cancelled")

	running := decodeJob(t, h.post("/v1/jobs", `{"type":"email.send"}`))
	require.NoError(t, h.store.Update(running.ID, func(j *job.Job) { j.State = job.StateRunning }))
	w = h.post("/v1/jobs/"+running.ID+"/cancel", "")
	require.Equal(t, http.StatusOK, w.Code)
	got := decodeJob(t, w)
	require.Equal(t, job.StateRunning, got.State, "a running job stays running until its worker stops")
	require.NotNil(t, got.CancelRequestedAt)

	decodeProblem(t, h.post("/v1/jobs/0190c1f0-0000-7000-8000-000000000000/cancel", ""), http.StatusNotFound)
	decodeProblem(t, h.post("/v1/jobs/x/cancel", ""), http.StatusNotFound)
}

func TestRetry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	j := decodeJob(t, h.post("/v1/jobs", `{"type":"email.send"}`))

	p := decodeProblem(t, h.post("/v1/jobs/"+j.ID+"/retry", ""), http.StatusConflict)
	require.Equal(t, job.StateQueued, p.State)

	require.NoError(t, h.store.Update(j.ID, func(j *job.Job) {
		j.State = job.StateFailed
		j.Attempt = 5
		j.Error = "smtp: 550"
	}))
	w := h.post("/v1/jobs/"+j.ID+"/retry", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, job.StateQueued, decodeJob(t, w).State)
	entries := h.disp.Entries()
	require.Len(t, entries, 2, "the retry's outbox entry is dispatched")
	require.Equal(t, j.ID, entries[1].JobID)

	decodeProblem(t, h.post("/v1/jobs/0190c1f0-0000-7000-8000-000000000000/retry", ""), http.StatusNotFound)
}

func TestQueues(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	oldest := testNow.Add(-90 * time.Second)
	h.store.Put(job.Job{ID: "0190c1f0-0000-7000-8000-000000000001", Queue: "mail", Type: "email.send", State: job.StateQueued, RunAt: oldest, CreatedAt: oldest})
	h.store.Put(job.Job{ID: "0190c1f0-0000-7000-8000-000000000002", Queue: "mail", Type: "email.send", State: job.StateFailed, RunAt: oldest, CreatedAt: oldest})
	h.store.Put(job.Job{ID: "0190c1f0-0000-7000-8000-000000000003", Queue: "media", Type: "image.resize", State: job.StateRunning, RunAt: oldest, CreatedAt: oldest})

	w := h.get("/v1/queues")

	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"queues":[
		{"queue":"mail","counts":{"scheduled":0,"queued":1,"running":0,"retrying":0,"succeeded":0,"failed":1,"cancelled":0},
		 "oldest_queued_at":"2026-11-26T09:28:30Z","oldest_queued_age_seconds":90},
		{"queue":"media","counts":{"scheduled":0,"queued":0,"running":1,"retrying":0,"succeeded":0,"failed":0,"cancelled":0},
		 "oldest_queued_at":null,"oldest_queued_age_seconds":null}]}`, w.Body.String())
}

func TestWorkers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	require.JSONEq(t, `{"workers":[]}`, h.get("/v1/workers").Body.String())

	h.store.SetWorkers([]store.WorkerInfo{{ID: "w-1", Hostname: "node-a", Queues: map[string]int{"mail": 8}, InFlight: 3, StartedAt: testNow, HeartbeatAt: testNow}})
	w := h.get("/v1/workers")
	require.JSONEq(t, `{"workers":[{"id":"w-1","hostname":"node-a","queues":{"mail":8},"in_flight":3,
		"started_at":"2026-11-26T09:30:00Z","heartbeat_at":"2026-11-26T09:30:00Z"}]}`, w.Body.String())
}

func TestTypes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := h.get("/v1/types")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"types":[
		{"type":"email.send","queue":"mail","max_attempts":5,"timeout":"30s","backoff":{"base":"1s","max":"1h0m0s","min":"0s"}},
		{"type":"image.resize","queue":"media","max_attempts":10,"timeout":"5m0s","backoff":{"base":"1s","max":"1h0m0s","min":"0s"}},
		{"type":"report.build","queue":"default","max_attempts":10,"timeout":"1m0s","backoff":{"base":"1s","max":"1h0m0s","min":"0s"}}]}`,
		w.Body.String())
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	require.JSONEq(t, `{"status":"ok"}`, h.get("/healthz").Body.String())

	w := h.get("/readyz")
	require.Equal(t, http.StatusOK, w.Code)
	require.JSONEq(t, `{"status":"ready","checks":{"store":"ok","broker":"ok"}}`, w.Body.String())

	h.broker.SetError(errors.New("nats: no servers available"))
	p := decodeProblem(t, h.get("/readyz"), http.StatusServiceUnavailable)
	require.Equal(t, map[string]string{"store": "ok", "broker": "failed"}, p.Checks)
	require.Contains(t, p.Detail, "broker")
	require.NotContains(t, p.Detail, "nats:")

	h.store.SetPingError(errors.New("dial tcp: refused"))
	p = decodeProblem(t, h.get("/readyz"), http.StatusServiceUnavailable)
	require.Equal(t, map[string]string{"store": "failed", "broker": "failed"}, p.Checks)
	require.Contains(t, p.Detail, "broker and store")

	require.JSONEq(t, `{"status":"ok"}`, h.get("/healthz").Body.String(), "liveness ignores dependencies")
}

// slowStore blocks in GetJob until its context ends.
type slowStore struct{ Store }

func (s slowStore) GetTenantJob(ctx context.Context, tenant, id string) (*job.Job, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("get job %s: %w", id, ctx.Err())
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	srv, err := New(Config{RequestTimeout: 20 * time.Millisecond}, Deps{Store: slowStore{h.store}, Catalog: testCatalog(t)})
	require.NoError(t, err)
	h.srv = srv

	p := decodeProblem(t, h.get("/v1/jobs/0190c1f0-0000-7000-8000-000000000000"), http.StatusServiceUnavailable)
	require.Equal(t, ProblemUnavailable, p.Type)
}

// panicStore panics in ListWorkers.
type panicStore struct{ Store }

func (panicStore) ListWorkers(context.Context) ([]store.WorkerInfo, error) { panic("boom") }

func TestPanicBecomes500(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	logs := &syncBuffer{}
	srv, err := New(Config{}, Deps{Store: panicStore{h.store}, Catalog: testCatalog(t), Logger: slogTo(logs)})
	require.NoError(t, err)
	h.srv = srv

	p := decodeProblem(t, h.get("/v1/workers"), http.StatusInternalServerError)
	require.Equal(t, ProblemInternal, p.Type)
	require.NotContains(t, p.Detail, "boom")
	require.Contains(t, logs.String(), "boom")
	require.Contains(t, logs.String(), `"status":500`)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})

	p := decodeProblem(t, h.get("/v2/jobs"), http.StatusNotFound)
	require.Equal(t, ProblemNotFound, p.Type)

	w := h.do(request{method: http.MethodDelete, path: "/v1/jobs/0190c1f0-0000-7000-8000-000000000000"})
	decodeProblem(t, w, http.StatusMethodNotAllowed)
	require.Equal(t, "GET", w.Header().Get("Allow"))

	w = h.do(request{method: http.MethodPut, path: "/v1/jobs"})
	decodeProblem(t, w, http.StatusMethodNotAllowed)
	require.Equal(t, "GET, POST", w.Header().Get("Allow"))
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	secret := "Bearer " + h.admin
	w := h.do(request{method: http.MethodPost, path: "/v1/jobs",
		body:   `{"type":"email.send","payload":{"password":"hunter2"}}`,
		header: map[string]string{"Authorization": secret, RequestIDHeader: "req-42"}})
	require.Equal(t, http.StatusCreated, w.Code)
	require.Equal(t, "req-42", w.Header().Get(RequestIDHeader))
	h.get("/v1/jobs/" + decodeJob(t, w).ID)

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		if m["msg"] == "http request" {
			lines = append(lines, m)
		}
	}
	require.Len(t, lines, 2)
	require.Equal(t, "POST", lines[0]["method"])
	require.Equal(t, "/v1/jobs", lines[0]["route"])
	require.Equal(t, 201.0, lines[0]["status"])
	require.Equal(t, "req-42", lines[0]["request_id"])
	require.Contains(t, lines[0], "duration_ms")
	require.Equal(t, "/v1/jobs/{id}", lines[1]["route"], "the route pattern, not the raw path")
	require.NotContains(t, h.logs.String(), "hunter2")
	key, err := auth.ParseKey(h.admin)
	require.NoError(t, err)
	require.NotContains(t, h.logs.String(), key.Secret, "the key's secret is never logged")

	bad := h.do(request{method: http.MethodGet, path: "/v1/jobs", header: map[string]string{RequestIDHeader: "bad id with spaces"}})
	require.NotEqual(t, "bad id with spaces", bad.Header().Get(RequestIDHeader))
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	j := decodeJob(t, h.post("/v1/jobs", `{"type":"email.send"}`))
	h.get("/v1/jobs/" + j.ID)
	h.get("/v1/jobs/" + j.ID)
	h.get("/nowhere/" + j.ID)

	require.Equal(t, 2.0, counterValue(t, h.srv.metrics.requests.WithLabelValues("/v1/jobs/{id}", "GET", "200")))
	require.Equal(t, 1.0, counterValue(t, h.srv.metrics.requests.WithLabelValues("unmatched", "GET", "404")))

	require.Equal(t, http.StatusNotFound, h.get("/metrics").Code, "metrics are not served on the API's address")
	w := h.scrape()
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	for _, want := range []string{
		`flask_jobs_submitted_total{queue="mail",type="email.send"} 1`,
		`flask_http_requests_total{code="201",method="POST",route="/v1/jobs"} 1`,
		`flask_http_request_duration_seconds_count{method="GET",route="/v1/jobs/{id}"} 2`,
		`flask_queue_jobs{queue="mail",state="queued"} 1`,
		`flask_queue_jobs{queue="mail",state="failed"} 0`,
		`flask_queue_oldest_age_seconds{queue="mail"} 0`,
		`flask_queue_stats_up 1`,
		`flask_outbox_entries 1`,
		`flask_outbox_oldest_age_seconds 0`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, j.ID, "raw paths never become labels")

	h.store.FailWith(func(op string) error {
		if op == "QueueStats" {
			return errors.New("db down")
		}
		return nil
	})
	w = h.scrape()
	require.Equal(t, http.StatusOK, w.Code, "a failed statistics read does not fail the scrape")
	require.Contains(t, w.Body.String(), "flask_queue_stats_up 0")

	h.store.FailWith(func(op string) error {
		if op == "OutboxStats" {
			return errors.New("db down")
		}
		return nil
	})
	w = h.scrape()
	require.Equal(t, http.StatusOK, w.Code)
	require.Contains(t, w.Body.String(), "flask_queue_stats_up 0", "an outbox read failure is reported too")
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	st := slowStore{}
	_, err := New(Config{DefaultQueue: "Not Valid"}, Deps{Store: st, Catalog: testCatalog(t)})
	require.ErrorContains(t, err, "default queue")
	_, err = New(Config{MaxListLimit: 10, DefaultListLimit: 20}, Deps{Store: st, Catalog: testCatalog(t)})
	require.ErrorContains(t, err, "default list limit")
	_, err = New(Config{}, Deps{Catalog: testCatalog(t)})
	require.ErrorContains(t, err, "store")
	_, err = New(Config{}, Deps{Store: st})
	require.ErrorContains(t, err, "catalog")
}

// TestConcurrentRequestsAreIndependent sends good and bad submissions at
// once: every good one is kept, every bad one leaves nothing behind.
func TestConcurrentRequestsAreIndependent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{MaxBatch: 5})
	const n = 40
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"type":"email.send","payload":%d}`, i)
			path := "/v1/jobs"
			switch i % 4 {
			case 1:
				body = fmt.Sprintf(`{"type":"email.send","payload":%d,"bogus":true}`, i)
			case 2:
				path = "/v1/jobs/batch"
				body = fmt.Sprintf(`{"jobs":[{"type":"email.send","payload":%d},{"type":"email.send"}]}`, i)
			case 3:
				path = "/v1/jobs/batch"
				body = `{"jobs":[{"type":"email.send"},{"type":"unknown"}]}`
			}
			r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+h.admin)
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, r)
			codes[i] = w.Code
		})
	}
	wg.Wait()
	for i, code := range codes {
		switch i % 4 {
		case 0, 2:
			require.Equal(t, http.StatusCreated, code, i)
		case 1:
			require.Equal(t, http.StatusBadRequest, code, i)
		case 3:
			require.Equal(t, http.StatusUnprocessableEntity, code, i)
		}
	}
	require.Equal(t, n/4+2*n/4, h.store.Len())
}

// TestListJobsFullPages pages with limit=1000, the store's own cap: the
// lookahead job cannot be fetched, yet no page is lost.
func TestListJobsFullPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	const n = 1500
	for i := range n {
		h.store.Put(job.Job{ID: fmt.Sprintf("0190c1f0-0000-7000-8000-%012d", i), Queue: "mail", Type: "email.send",
			State: job.StateQueued, MaxAttempts: 3, Timeout: job.Duration(time.Second), RunAt: testNow, CreatedAt: testNow})
	}
	seen := 0
	path := "/v1/jobs?limit=1000"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3)
		var page JobList
		w := h.get(path)
		require.Equal(t, http.StatusOK, w.Code)
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &page))
		seen += len(page.Jobs)
		if page.NextCursor == nil {
			break
		}
		path = "/v1/jobs?limit=1000&cursor=" + *page.NextCursor
	}
	require.Equal(t, n, seen)
}
