package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/flaskhq/flask/api/apitest"
	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/telemetry"
)

const (
	clientTrace  = "0af7651916cd43dd8448eb211c80319c"
	clientSpan   = "b7ad6b7169203331"
	clientParent = "00-" + clientTrace + "-" + clientSpan + "-01"
)

// tracedServer is a server over the in-memory store with tracer tp (nil:
// tracing off), its store, and an admin token.
func tracedServer(tb testing.TB, tp trace.TracerProvider, logs *syncBuffer) (*Server, *apitest.Store, string) {
	tb.Helper()
	st := apitest.NewStore(func() time.Time { return testNow })
	if logs == nil {
		logs = &syncBuffer{}
	}
	srv, err := New(Config{RateLimit: -1, TenantMaxQueued: -1}, Deps{Store: st, Catalog: testCatalog(tb), Dispatcher: &apitest.Dispatcher{},
		Logger: slog.New(telemetry.LogHandler(slogTo(logs).Handler())), Registerer: prometheus.NewRegistry(), Now: func() time.Time { return testNow },
		Tracer: tp, MessagingSystem: "nats"})
	require.NoError(tb, err)
	return srv, st, st.AddKey(store.DefaultTenant, auth.ScopeAdmin)
}

func serve(srv *Server, token, method, path, body, traceparent string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if traceparent != "" {
		r.Header.Set("Traceparent", traceparent)
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	return w
}

// TestTraceSubmit: a SERVER span per request named by its route pattern,
// continuing the caller's trace, and a PRODUCER span per job whose context
// the job keeps.
func TestTraceSubmit(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	srv, st, token := tracedServer(t, tp, nil)

	w := serve(srv, token, http.MethodPost, "/v1/jobs/batch", `{"jobs":[{"type":"email.send"},{"type":"report.build"}]}`, clientParent)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var batch BatchResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &batch))
	w = serve(srv, token, http.MethodGet, "/v1/jobs/"+batch.Jobs[0].ID, "", "")
	require.Equal(t, http.StatusOK, w.Code)
	serve(srv, "", http.MethodGet, "/readyz", "", "") // probes make no spans

	spans := rec.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	require.Len(t, byName["POST /v1/jobs/batch"], 1)
	server := byName["POST /v1/jobs/batch"][0]
	require.Equal(t, trace.SpanKindServer, server.SpanKind())
	require.Equal(t, clientTrace, server.SpanContext().TraceID().String())
	require.Equal(t, clientSpan, server.Parent().SpanID().String())
	require.Len(t, byName["GET /v1/jobs/{id}"], 1, "the route pattern, not the path")
	require.Len(t, spans, 4, "the two requests, the two jobs' PRODUCER spans, and no probe: %v", byName)
	require.False(t, byName["GET /v1/jobs/{id}"][0].Parent().IsValid(), "a request without traceparent starts a trace")

	producers := append(byName["publish mail"], byName["publish default"]...)
	require.Len(t, producers, 2, "one PRODUCER span per job of the batch")
	for i, p := range producers {
		require.Equal(t, trace.SpanKindProducer, p.SpanKind())
		require.Equal(t, server.SpanContext().SpanID(), p.Parent().SpanID())
		j, err := st.GetTenantJob(context.Background(), store.AllTenants, batch.Jobs[i].ID)
		require.NoError(t, err)
		require.Equal(t, p.SpanContext().WithRemote(true), telemetry.SpanContext(j.Trace), "job %d keeps its PRODUCER span's context", i)
	}
}

// TestTraceOffPassesThrough: with tracing off, a job keeps its caller's
// trace context as it came.
func TestTraceOffPassesThrough(t *testing.T) {
	srv, st, token := tracedServer(t, nil, nil)
	w := serve(srv, token, http.MethodPost, "/v1/jobs", `{"type":"email.send"}`, clientParent+"")
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var j job.Job
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &j))
	got, err := st.GetTenantJob(context.Background(), store.AllTenants, j.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"traceparent": clientParent}, got.Trace)

	w = serve(srv, token, http.MethodPost, "/v1/jobs", `{"type":"email.send"}`, "")
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &j))
	got, err = st.GetTenantJob(context.Background(), store.AllTenants, j.ID)
	require.NoError(t, err)
	require.Nil(t, got.Trace, "no caller trace, tracing off: nothing kept")
}

// TestTraceAudit: the audit line of a cancel carries the job's fields and
// trace id, and the request's span links to the job's trace.
func TestTraceAudit(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	logs := &syncBuffer{}
	srv, st, token := tracedServer(t, sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)), logs)
	id := "0190c1f0-0000-7000-8000-0000000000aa"
	st.Put(job.Job{ID: id, Queue: "mail", Type: "email.send", State: job.StateQueued, Attempt: 0, RunAt: testNow, CreatedAt: testNow,
		Trace: map[string]string{"traceparent": clientParent}})
	w := serve(srv, token, http.MethodPost, "/v1/jobs/"+id+"/cancel", "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["msg"] == "job cancelled" {
			line = m
		}
	}
	require.NotNil(t, line, logs.String())
	require.Equal(t, id, line["job_id"])
	require.Equal(t, "mail", line["queue"])
	require.Equal(t, "email.send", line["type"])
	require.EqualValues(t, 0, line["attempt"])
	require.Equal(t, clientTrace, line["trace_id"], "the job's trace")
	spans := rec.Ended()
	require.Len(t, spans, 1)
	require.Len(t, spans[0].Links(), 1)
	require.Equal(t, clientTrace, spans[0].Links()[0].SpanContext.TraceID().String())
}

// BenchmarkSubmitTracing measures POST /v1/jobs (in-memory store) with
// tracing off, off with a caller's traceparent (passed through), and on
// (the SDK with a batch processor feeding an exporter that drops spans).
func BenchmarkSubmitTracing(b *testing.B) {
	on := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = on.Shutdown(context.Background()) })
	for _, c := range []struct {
		name        string
		tp          trace.TracerProvider
		traceparent string
	}{{"off", nil, ""}, {"off_with_traceparent", nil, clientParent}, {"on", on, ""}, {"on_with_traceparent", on, clientParent}} {
		b.Run(c.name, func(b *testing.B) {
			srv, _, token := tracedServer(b, c.tp, nil)
			b.ReportAllocs()
			for b.Loop() {
				if w := serve(srv, token, http.MethodPost, "/v1/jobs", `{"type":"email.send","payload":{"to":"a@example.com"}}`, c.traceparent); w.Code != http.StatusCreated {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
