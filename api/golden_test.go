package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got, indented, with testdata/name, or rewrites the file
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, got, "", "  "))
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./api -run Golden -update to create it")
	require.Equal(t, string(want), buf.String(), "%s differs; run with -update if the change is intended", path)
}

func TestGoldenJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	started, finished, cancelAsked := testNow.Add(3*time.Second), testNow.Add(4*time.Second), testNow.Add(3500*time.Millisecond)
	h.store.Put(job.Job{
		ID:          "019ac0f1-7d2e-7b3a-9c41-2f5e8d1a0b6c",
		Queue:       "mail",
		Type:        "email.send",
		Payload:     json.RawMessage(`{"to":"ada@example.com","template":"welcome"}`),
		State:       job.StateFailed,
		Attempt:     2,
		MaxAttempts: 2,
		Timeout:     job.Duration(30 * time.Second),
		RunAt:       testNow.Add(3 * time.Second),
		CreatedAt:   testNow,
		StartedAt:   &started,
		FinishedAt:  &finished,
		Error:       "smtp: 550 mailbox unavailable",
		Errors: []job.AttemptError{
			{Attempt: 1, Error: "smtp: connection reset", At: testNow.Add(time.Second), WorkerID: "worker-7f3a"},
			{Attempt: 2, Error: "smtp: 550 mailbox unavailable", At: finished, WorkerID: "worker-7f3a"},
		},
		IdempotencyKey:    "welcome-ada",
		WorkerID:          "worker-7f3a",
		CancelRequestedAt: &cancelAsked,
	})

	w := h.get("/v1/jobs/019ac0f1-7d2e-7b3a-9c41-2f5e8d1a0b6c")

	require.Equal(t, http.StatusOK, w.Code)
	golden(t, "job.json", w.Body.Bytes())
}

func TestGoldenNewJob(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.store.Put(job.Job{
		ID: "019ac0f1-7d2e-7b3a-9c41-2f5e8d1a0b6d", Queue: "default", Type: "report.build",
		State: job.StateQueued, MaxAttempts: 10, Timeout: job.Duration(time.Minute), RunAt: testNow, CreatedAt: testNow,
	})
	w := h.get("/v1/jobs/019ac0f1-7d2e-7b3a-9c41-2f5e8d1a0b6d")
	require.Equal(t, http.StatusOK, w.Code)
	golden(t, "job_new.json", w.Body.Bytes())
}

func TestGoldenProblem(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := h.do(request{method: http.MethodPost, path: "/v1/jobs",
		body:   `{"type":"emial.send","paylod":{},"timeout":"25h"}`,
		header: map[string]string{RequestIDHeader: "golden-1"}})
	require.Equal(t, http.StatusBadRequest, w.Code)
	golden(t, "problem_submit.json", w.Body.Bytes())

	w = h.do(request{method: http.MethodPost, path: "/v1/jobs/batch",
		body:   `{"jobs":[{"type":"email.send"},{"type":"email.send"},{"type":"email.send"},{"type":"emial.send"}]}`,
		header: map[string]string{RequestIDHeader: "golden-2"}})
	require.Equal(t, http.StatusUnprocessableEntity, w.Code)
	golden(t, "problem_batch.json", w.Body.Bytes())
}
