package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.ClosePostgres()
	os.Exit(code)
}

// TestQueueScalingOnStores serves GET /v1/stats/queues/{queue} over the real
// stores: a stats:read key made through the admin API reads the counts of
// every tenant, and the metrics agree.
func TestQueueScalingOnStores(t *testing.T) {
	t.Parallel()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := map[string]func(t *testing.T, cfg store.Config) *store.Store{
		"SQLite": func(t *testing.T, cfg store.Config) *store.Store {
			s, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "flask.db"), cfg, discard)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
		"Postgres": func(t *testing.T, cfg store.Config) *store.Store {
			s, err := store.Open(t.Context(), storetest.PostgresDB(t), cfg, discard)
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, s.Close()) })
			return s
		},
	}
	for name, openStore := range open {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 11, 26, 9, 29, 0, 0, time.UTC)
			clock := func() time.Time { return now } // moved only between calls
			st := openStore(t, store.Config{Now: clock})
			ctx := t.Context()
			_, err := st.Migrate(ctx)
			require.NoError(t, err)

			insert := func(tenant string, runAt time.Time) string {
				res, _, err := st.InsertJobs(ctx, []store.InsertParams{{Tenant: tenant, Queue: "mail", Type: "email.send",
					Payload: json.RawMessage(`{}`), MaxAttempts: 3, Timeout: time.Minute, RunAt: runAt}})
				require.NoError(t, err)
				return res[0].Job.ID
			}
			running := insert("acme", now)
			now = now.Add(30 * time.Second)
			insert("acme", now) // the oldest waiting: 30s at the end
			now = now.Add(25 * time.Second)
			insert("globex", now)
			insert("globex", now.Add(time.Hour)) // scheduled
			now = now.Add(5 * time.Second)
			_, err = st.Heartbeat(ctx, store.WorkerInfo{ID: "w1", Queues: map[string]int{"mail": 8}})
			require.NoError(t, err)
			claimed, err := st.ClaimJobs(ctx, store.ClaimParams{JobIDs: []string{running}, WorkerID: "w1", WorkerTTL: time.Minute})
			require.NoError(t, err)
			require.NotNil(t, claimed[0].Job)

			reg := prometheus.NewRegistry()
			srv, err := New(Config{}, Deps{Store: st, Catalog: testCatalog(t), Registerer: reg, Gatherer: reg, Now: clock})
			require.NoError(t, err)
			admin, err := auth.NewKey()
			require.NoError(t, err)
			_, err = st.CreateAPIKey(ctx, store.CreateKeyParams{ID: admin.ID, Name: "admin", Tenant: store.DefaultTenant,
				Scopes: []string{string(auth.ScopeAdmin)}, SecretHash: admin.Hash()})
			require.NoError(t, err)

			serve := func(method, path, token, body string) *httptest.ResponseRecorder {
				req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				if body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				w := httptest.NewRecorder()
				srv.Handler().ServeHTTP(w, req)
				return w
			}
			w := serve(http.MethodPost, "/v1/keys", admin.Token(), `{"name":"keda","tenant":"ops","scopes":["stats:read"]}`)
			require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
			var created struct {
				Key    string   `json:"key"`
				Scopes []string `json:"scopes"`
			}
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &created))
			require.Equal(t, []string{"stats:read"}, created.Scopes)

			w = serve(http.MethodGet, "/v1/stats/queues/mail", created.Key, "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			var v ScalingView
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v))
			require.Equal(t, ScalingView{Queue: "mail", Scheduled: 1, Queued: 2, Running: 1, Backlog: 3,
				OldestAgeSeconds: 30, Workers: 1, Slots: 8, ObservedAt: now.UTC()}, v)

			w = serve(http.MethodGet, "/v1/jobs", created.Key, "")
			require.Equal(t, http.StatusForbidden, w.Code, "stats:read reads no job")
			w = serve(http.MethodGet, "/v1/stats/queues/unheard-of", created.Key, "")
			require.Equal(t, http.StatusNotFound, w.Code)
			require.Contains(t, w.Body.String(), `"field":"queue"`)

			mfs, err := reg.Gather()
			require.NoError(t, err)
			got := map[string]float64{}
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					key := mf.GetName()
					for _, l := range m.GetLabel() {
						key += "," + l.GetName() + "=" + l.GetValue()
					}
					got[key] = m.GetGauge().GetValue()
				}
			}
			require.Equal(t, 2.0, got["flask_queue_jobs,queue=mail,state=queued"])
			require.Equal(t, 1.0, got["flask_queue_jobs,queue=mail,state=running"])
			require.Equal(t, 30.0, got["flask_queue_oldest_age_seconds,queue=mail"])
			require.Equal(t, 1.0, got["flask_queue_workers,queue=mail"])
			require.Equal(t, 8.0, got["flask_queue_worker_slots,queue=mail"])
			require.Equal(t, 1.0, got["flask_queue_stats_up"])
		})
	}
}
