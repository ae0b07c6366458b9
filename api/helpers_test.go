package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/apitest"
	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func testCatalog(t testing.TB) *job.Catalog {
	t.Helper()
	cat, err := job.NewCatalog(
		job.Spec{Type: "email.send", Queue: "mail", MaxAttempts: 5, Timeout: 30 * time.Second},
		job.Spec{Type: "report.build"},
		job.Spec{Type: "image.resize", Queue: "media", Timeout: 5 * time.Minute},
	)
	require.NoError(t, err)
	return cat
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a server over fakes, with what a test needs to look at.
type harness struct {
	t       testing.TB
	srv     *Server
	store   *apitest.Store
	disp    *apitest.Dispatcher
	broker  *apitest.Checker
	reg     *prometheus.Registry
	logs    *syncBuffer
	noCheck bool // skip the OpenAPI check of responses (fuzzing)
	// admin is the token of an admin key of the default tenant, sent by do
	// unless the request sets its own Authorization ("" to send none).
	admin string
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		store:  apitest.NewStore(func() time.Time { return testNow }),
		disp:   &apitest.Dispatcher{},
		broker: &apitest.Checker{},
		reg:    prometheus.NewRegistry(),
		logs:   &syncBuffer{},
	}
	if cfg.StatsCacheTTL == 0 {
		// Tests change the store between reads; the cache has tests of its own.
		cfg.StatsCacheTTL = time.Nanosecond
	}
	if cfg.StatsTerminalTTL == 0 {
		cfg.StatsTerminalTTL = time.Nanosecond
	}
	srv, err := New(cfg, Deps{
		Store:      h.store,
		Catalog:    testCatalog(t),
		Dispatcher: h.disp,
		Broker:     h.broker,
		Logger:     slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: h.reg,
		Gatherer:   h.reg,
		Now:        func() time.Time { return testNow },
	})
	require.NoError(t, err)
	h.srv = srv
	h.admin = h.store.AddKey(store.DefaultTenant, auth.ScopeAdmin)
	return h
}

// request describes one request of a test.
type request struct {
	method, path string
	body         string
	header       map[string]string
}

// do serves the request and, unless noCheck, validates the response against
// the OpenAPI document (and the request too when it succeeded).
func (h *harness) do(req request) *httptest.ResponseRecorder {
	h.t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequest(req.method, req.path, body)
	if req.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Authorization", "Bearer "+h.admin)
	for k, v := range req.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, r)
	if !h.noCheck {
		checkAgainstDocument(h.t, req, w)
	}
	return w
}

// scrape serves GET /metrics from the metrics handler.
func (h *harness) scrape() *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.srv.MetricsHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return w
}

func (h *harness) post(path, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(request{method: http.MethodPost, path: path, body: body})
}

func (h *harness) get(path string) *httptest.ResponseRecorder {
	h.t.Helper()
	return h.do(request{method: http.MethodGet, path: path})
}

// decodeJob reads a job from a response.
func decodeJob(t testing.TB, w *httptest.ResponseRecorder) job.Job {
	t.Helper()
	require.Equal(t, "application/json", w.Header().Get("Content-Type"), w.Body.String())
	var j job.Job
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &j))
	return j
}

// decodeProblem reads a problem from a response and checks its status.
func decodeProblem(t testing.TB, w *httptest.ResponseRecorder, status int) problem {
	t.Helper()
	require.Equal(t, status, w.Code, w.Body.String())
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	var p problem
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Type)
	require.NotEmpty(t, p.Title)
	require.NotEmpty(t, p.Detail)
	require.NotEmpty(t, p.RequestID)
	return p
}

// fields lists the fields named by a problem.
func (p problem) fields() []string {
	out := make([]string, 0, len(p.Errors))
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// slogTo is a debug-level JSON logger writing to w.
func slogTo(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// counterValue reads a counter.
func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}
