package web

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// start is the clock of every test: the store's and the dashboard's.
var start = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

// env is one test's real SQLite store, clock and dashboard.
type env struct {
	t   *testing.T
	ctx context.Context
	st  *countingStore
	raw *store.Store
	clk *storetest.Clock
	d   *Dashboard
}

// countingStore wraps the real store to count the hub's reads.
type countingStore struct {
	*store.Store
	// stats counts the reads of the statistics (storeStats.StatsSnapshot).
	stats, getJobs atomic.Int64
}

func (c *countingStore) GetJobs(ctx context.Context, ids []string) ([]job.Job, error) {
	c.getJobs.Add(1)
	return c.Store.GetJobs(ctx, ids)
}

// storeStats stands in for the API's statistics cache: every call reads
// the store, and the finished counts are stamped with the clock's time.
type storeStats struct {
	st  *countingStore
	clk *storetest.Clock
}

func (s storeStats) StatsSnapshot(ctx context.Context) (store.StatsSnapshot, error) {
	s.st.stats.Add(1)
	qs, err := s.st.QueueStats(ctx)
	if err != nil {
		return store.StatsSnapshot{}, err
	}
	ws, err := s.st.ListWorkers(ctx)
	if err != nil {
		return store.StatsSnapshot{}, err
	}
	now := s.clk.Now()
	return store.StatsSnapshot{Queues: qs, Finished: true, FinishedAt: now, Workers: ws, At: now}, nil
}

func testCatalog(t *testing.T) *job.Catalog {
	t.Helper()
	cat, err := job.NewCatalog(
		job.Spec{Type: "demo.echo", MaxAttempts: 5, Timeout: time.Minute},
		job.Spec{Type: "email.send", Queue: "mail", MaxAttempts: 3, Timeout: 30 * time.Second},
	)
	require.NoError(t, err)
	return cat
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	clk := storetest.NewClock(start)
	raw, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "flask.db"), store.Config{Now: clk.Now}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, raw.Close()) })
	_, err = raw.Migrate(t.Context())
	require.NoError(t, err)
	cs := &countingStore{Store: raw}
	d, err := New(cfg, Deps{Store: cs, Stats: storeStats{cs, clk}, Catalog: testCatalog(t), Now: clk.Now})
	require.NoError(t, err)
	return &env{t: t, ctx: t.Context(), st: cs, raw: raw, clk: clk, d: d}
}

// insert adds a job and returns it.
func (e *env) insert(p store.InsertParams) job.Job {
	e.t.Helper()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 3
	}
	if p.Timeout == 0 {
		p.Timeout = 30 * time.Second
	}
	if p.Payload == nil {
		p.Payload = json.RawMessage(`{"to":"ada@example.com"}`)
	}
	res, _, err := e.raw.InsertJobs(e.ctx, []store.InsertParams{p})
	require.NoError(e.t, err)
	return res[0].Job
}

// heartbeat registers a live worker.
func (e *env) heartbeat(id string, queues map[string]int, inFlight int) {
	e.t.Helper()
	_, err := e.raw.Heartbeat(e.ctx, store.WorkerInfo{ID: id, Hostname: "host-" + id, Queues: queues, InFlight: inFlight})
	require.NoError(e.t, err)
}

// run claims a queued job for worker and ends the attempt in state.
func (e *env) run(id, worker string, state job.State, result, errText string) {
	e.t.Helper()
	e.heartbeat(worker, map[string]int{"default": 4}, 1)
	res, err := e.raw.ClaimJobs(e.ctx, store.ClaimParams{JobIDs: []string{id}, WorkerID: worker, WorkerTTL: time.Minute})
	require.NoError(e.t, err)
	require.NotNil(e.t, res[0].Job, "claim %s: %+v", id, res[0])
	e.clk.Advance(1500 * time.Millisecond)
	ok, err := e.raw.FinishJob(e.ctx, store.FinishParams{JobID: id, Attempt: res[0].Job.Attempt, WorkerID: worker,
		State: state, Result: json.RawMessage(result), Error: errText, RunAt: e.clk.Now().Add(time.Second)})
	require.NoError(e.t, err)
	require.True(e.t, ok, "finish %s", id)
}

// promote queues retrying jobs whose backoff is over.
func (e *env) promote() {
	e.t.Helper()
	e.clk.Advance(2 * time.Second)
	_, err := e.raw.PromoteDue(e.ctx, 0)
	require.NoError(e.t, err)
}

// get serves one request through Wrap (with a next handler that answers
// 418) and returns the response and its body.
func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	e.d.Wrap(teapot()).ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return res, string(body)
}

func teapot() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
}

var (
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	assetRE = regexp.MustCompile(`/ui/assets/(app)\.[0-9a-f]{12}\.(js|css)`)
)

// normalize replaces the random parts of a page: job ids become
// 00000000-0000-0000-0000-00000000000N in order of appearance (their short
// forms, the last 8 digits, too), and asset hashes HASH.
func normalize(s string) string {
	n := 0
	ids := map[string]string{}
	s = uuidRE.ReplaceAllStringFunc(s, func(id string) string {
		if v, ok := ids[id]; ok {
			return v
		}
		n++
		v := fmt.Sprintf("00000000-0000-0000-0000-%012d", n)
		ids[id] = v
		return v
	})
	for id, v := range ids {
		s = strings.ReplaceAll(s, id[len(id)-8:], v[len(v)-8:])
	}
	return assetRE.ReplaceAllString(s, "/ui/assets/$1.HASH.$2")
}

// golden compares got, normalized, with testdata/name.html; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".html")
	got = normalize(got)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./web -update")
	require.Equal(t, string(want), got, "page differs from %s; if the change is meant, run go test ./web -update and review the diff", path)
}
