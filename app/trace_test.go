package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flaskhq/flask/api/auth"
	natsbroker "github.com/flaskhq/flask/events/nats"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/telemetry"
	"github.com/flaskhq/flask/telemetry/telemetrytest"
	"github.com/flaskhq/flask/worker/builtin"
)

// The client's trace: the test plays a service that calls the API inside
// a trace of its own.
const (
	clientTraceID  = "0af7651916cd43dd8448eb211c80319c"
	clientSpanID   = "b7ad6b7169203331"
	clientParent   = "00-" + clientTraceID + "-" + clientSpanID + "-01"
	hookType       = "hook.call"
	traceTestQueue = "default"
)

// downstream is the service the http job type calls: it fails the first
// request with 503 and Retry-After: 1, then answers 200, and records the
// traceparent of each request by attempt.
type downstream struct {
	*httptest.Server
	mu      sync.Mutex
	parents map[string]string // Flask-Attempt → traceparent
}

func startDownstream(t *testing.T) *downstream {
	d := &downstream{parents: map[string]string{}}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.parents[r.Header.Get(builtin.HeaderAttempt)] = r.Header.Get("Traceparent")
		d.mu.Unlock()
		if r.Header.Get(builtin.HeaderAttempt) == "1" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *downstream) parent(attempt string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.parents[attempt]
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// jobLines returns the JSON log records that carry a job_id.
func (s *syncBuffer) jobLines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "a log line that is not JSON: %s", sc.Text())
		if _, ok := rec["job_id"]; ok {
			out = append(out, rec)
		}
	}
	return out
}

// traceRig is an API and a worker wired as the binaries wire them, each
// with its own tracing set up from the settings, on one broker.
type traceRig struct {
	base, key string
	workerLog *syncBuffer
	stop      func() // stops both and flushes their spans
	api, wrk  *telemetry.Tracing
	hook      *downstream
}

func startTraceRig(t *testing.T, common Common) *traceRig {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rig := &traceRig{workerLog: &syncBuffer{}, hook: startDownstream(t)}
	common.HTTPRoutes = hookType + "=" + rig.hook.URL
	common.JobTypes = hookType + ":max_attempts=3"
	ctx, cancel := context.WithCancel(context.Background())
	var err error
	rig.api, err = StartTracing(ctx, common, "flask-api", log)
	require.NoError(t, err)
	rig.wrk, err = StartTracing(ctx, common, "flask-worker", log)
	require.NoError(t, err)

	st, err := OpenStore(ctx, common, log)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b, err := OpenBroker(ctx, common, "test", log, traceTestQueue)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	cat, err := Catalog(common)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	apiCfg := APIConfig{Common: common, MaxBodyBytes: 1 << 20, MaxBatchBodyBytes: 1 << 20, MaxPayloadBytes: 1 << 10,
		MaxBatch: 10, ShutdownTimeout: time.Second, RelayInterval: 50 * time.Millisecond, OutboxGrace: time.Second, RescueAfter: time.Minute}
	wcfg := WorkerConfig{Common: common, Queues: traceTestQueue, Concurrency: 2, ShutdownGrace: time.Second,
		FetchWait: 500 * time.Millisecond, MaxFetch: 16, HeartbeatInterval: 100 * time.Millisecond, WorkerTTL: time.Second,
		HTTPAllowCIDRs: "127.0.0.0/8"}
	reg, err := NewRegistry(wcfg)
	require.NoError(t, err)
	wcommon := common
	wcommon.LogFormat, wcommon.LogLevel = "json", "debug"
	wlog, err := NewLogger(wcommon, rig.workerLog)
	require.NoError(t, err)
	pool, err := NewPool(wcfg, st, b, reg, wlog, prometheus.NewRegistry(), tracerOf(rig.wrk))
	require.NoError(t, err)
	done := make(chan error, 2)
	go func() {
		done <- ServeAPI(ctx, apiCfg, APIParts{Store: st, Broker: b, Catalog: cat, Metrics: prometheus.NewRegistry(), Tracer: tracerOf(rig.api)}, ln, log)
	}()
	go func() { done <- pool.Run(ctx) }()
	var once sync.Once
	rig.stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, <-done)
			StopTracing(ctx, rig.api, log)
			StopTracing(ctx, rig.wrk, log)
		})
	}
	t.Cleanup(rig.stop)

	k, err := auth.NewKey()
	require.NoError(t, err)
	require.NoError(t, EnsureAdminKey(ctx, st, k.Token(), "test", log))
	rig.base, rig.key = "http://"+ln.Addr().String(), k.Token()
	return rig
}

// submitTraced submits a hook job inside the client's trace and waits
// until its second attempt succeeded.
func (rig *traceRig) submitTraced(t *testing.T) job.Job {
	req, err := http.NewRequest(http.MethodPost, rig.base+"/v1/jobs", strings.NewReader(`{"type":"`+hookType+`","payload":{"n":1}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+rig.key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", clientParent)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var j job.Job
	require.NoError(t, json.Unmarshal(b, &j))
	require.Eventually(t, func() bool { return getJob(t, rig.base, rig.key, j.ID).State == job.StateSucceeded },
		20*time.Second, 20*time.Millisecond, "the job did not succeed on its second attempt")
	return getJob(t, rig.base, rig.key, j.ID)
}

// TestTracingEndToEnd follows one job from a client's request through the
// API, the broker (both of them) and two attempts on a worker to the
// service its http job type calls: one trace throughout, with the spans'
// parents right.
func TestTracingEndToEnd(t *testing.T) {
	t.Run("nats", func(t *testing.T) { testTracingEndToEnd(t, natsCommonForTrace(t), "nats") })
	t.Run("sqs", func(t *testing.T) {
		testTracingEndToEnd(t, sqsCommon(t, "sqlite:"+filepath.Join(t.TempDir(), "flask.db"), true), "aws_sqs")
	})
}

func natsCommonForTrace(t *testing.T) Common {
	ns, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{StoreDir: filepath.Join(t.TempDir(), "nats"), Host: "127.0.0.1", Port: -1},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return Common{DatabaseURL: "sqlite:" + filepath.Join(t.TempDir(), "flask.db"), DBMaxConns: 1, DBFlushers: 1, Broker: "nats",
		NATS: NATSConfig{URL: ns.ClientURL(), Stream: "FLASK_JOBS", SubjectPrefix: "flask.jobs", AckWait: 5 * time.Second,
			Replicas: 1, MaxAckPending: 1000},
		DemoTypes: true, LogLevel: "info", LogFormat: "text", Migrate: true}
}

func testTracingEndToEnd(t *testing.T, common Common, system string) {
	rcv := telemetrytest.Start(t)
	// The SDK reads the endpoint itself; Flask reads it to turn tracing on.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	var err error
	common.TracingConfig, err = TracingFromEnv(func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return rcv.URL
		}
		return ""
	})
	require.NoError(t, err)
	rig := startTraceRig(t, common)
	require.True(t, rig.api.Enabled())
	j := rig.submitTraced(t)
	require.Equal(t, 2, j.Attempt)
	rig.stop() // flushes the spans

	server := rcv.Named("POST /v1/jobs")
	require.Len(t, server, 1, "one SERVER span for the submit, named by its route")
	srv := server[0]
	require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, srv.Kind)
	require.Equal(t, clientTraceID, srv.TraceID, "the API continues the client's trace")
	require.Equal(t, clientSpanID, srv.ParentID)
	require.Equal(t, "flask-api", srv.Service)
	require.Equal(t, "/v1/jobs", srv.Attrs["http.route"])
	require.EqualValues(t, 201, srv.Attrs["http.response.status_code"])

	producers := rcv.Named("publish " + traceTestQueue)
	require.Len(t, producers, 1)
	pub := producers[0]
	require.Equal(t, tracepb.Span_SPAN_KIND_PRODUCER, pub.Kind)
	require.Equal(t, clientTraceID, pub.TraceID)
	require.Equal(t, srv.SpanID, pub.ParentID, "the PRODUCER span is the request's child")
	require.Equal(t, system, pub.Attrs["messaging.system"])
	require.Equal(t, traceTestQueue, pub.Attrs["messaging.destination.name"])
	require.Equal(t, j.ID, pub.Attrs["flask.job.id"])
	require.Equal(t, hookType, pub.Attrs["flask.job.type"])
	require.NotEmpty(t, pub.Attrs["messaging.message.id"])

	process := rcv.Named("process " + traceTestQueue)
	require.Len(t, process, 2, "one CONSUMER span per attempt")
	byAttempt := map[int64]telemetrytest.Span{}
	for _, p := range process {
		require.Equal(t, tracepb.Span_SPAN_KIND_CONSUMER, p.Kind)
		require.Equal(t, clientTraceID, p.TraceID, "every attempt, the retry too, is in the client's trace")
		require.Equal(t, pub.SpanID, p.ParentID, "each attempt is the PRODUCER span's child")
		require.Equal(t, "flask-worker", p.Service)
		require.Equal(t, system, p.Attrs["messaging.system"])
		require.Equal(t, j.ID, p.Attrs["flask.job.id"])
		require.Equal(t, hookType, p.Attrs["flask.job.type"])
		require.Equal(t, traceTestQueue, p.Attrs["messaging.destination.name"])
		byAttempt[p.Attrs["flask.job.attempt"].(int64)] = p
	}
	first, second := byAttempt[1], byAttempt[2]
	require.Equal(t, "retrying", first.Attrs["flask.job.outcome"])
	require.True(t, first.Error, "a failed attempt's span has status Error")
	require.Contains(t, first.Events, "exception", "and records the error")
	require.Equal(t, "succeeded", second.Attrs["flask.job.outcome"])
	require.False(t, second.Error)

	// The called service joins the trace, under each attempt's span.
	require.Equal(t, "00-"+clientTraceID+"-"+first.SpanID+"-01", rig.hook.parent("1"))
	require.Equal(t, "00-"+clientTraceID+"-"+second.SpanID+"-01", rig.hook.parent("2"))

	requireJobLines(t, rig.workerLog, j.ID, clientTraceID, 2)
}

// requireJobLines: every worker log line with a job_id also has queue,
// type, attempt and trace_id — here the client's trace id — and the job's
// lines cover at least attempts 1 to attempts.
func requireJobLines(t *testing.T, logs *syncBuffer, jobID, traceID string, attempts int) {
	lines := logs.jobLines(t)
	require.NotEmpty(t, lines)
	seen := map[float64]bool{}
	for _, l := range lines {
		for _, k := range []string{"queue", "type", "attempt", "trace_id"} {
			require.Contains(t, l, k, "log line %v", l)
		}
		require.Equal(t, jobID, l["job_id"])
		require.Equal(t, traceID, l["trace_id"], "log line %v", l)
		seen[l["attempt"].(float64)] = true
	}
	for a := 1; a <= attempts; a++ {
		require.True(t, seen[float64(a)], "no log line of attempt %d in %v", a, lines)
	}
}

// TestTracingOff: with OTEL_SDK_DISABLED=true (which wins over an endpoint)
// no provider is installed, nothing reaches the receiver, and yet the
// client's trace context passes through: the worker's log lines carry the
// client's trace id and the called service receives it.
func TestTracingOff(t *testing.T) {
	rcv := telemetrytest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	common := natsCommonForTrace(t)
	common.TracingConfig = TracingConfig{SDKDisabled: true, OTLPEndpoint: rcv.URL}
	rig := startTraceRig(t, common)
	require.False(t, rig.api.Enabled())
	require.False(t, rig.wrk.Enabled())
	require.IsType(t, noop.TracerProvider{}, rig.api.Provider)
	require.Nil(t, tracerOf(rig.api), "the API and the worker get no provider")
	_, isSDK := otel.GetTracerProvider().(*sdktrace.TracerProvider)
	require.False(t, isSDK, "no global provider is installed")

	j := rig.submitTraced(t)
	rig.stop()
	require.Zero(t, rcv.Requests(), "nothing was exported")
	requireJobLines(t, rig.workerLog, j.ID, clientTraceID, 2)
	require.Equal(t, clientParent, rig.hook.parent("1"), "the client's context passes through unchanged")
	require.Equal(t, clientParent, rig.hook.parent("2"))
}

func TestTracingConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  TracingConfig
		want string
	}{
		{"default off", TracingConfig{}, telemetry.ExporterNone},
		{"an endpoint turns it on", TracingConfig{OTLPEndpoint: "http://collector:4318"}, telemetry.ExporterOTLP},
		{"a traces endpoint too", TracingConfig{OTLPTracesEndpoint: "http://collector:4318/v1/traces"}, telemetry.ExporterOTLP},
		{"exporter otlp", TracingConfig{TracesExporter: "otlp"}, telemetry.ExporterOTLP},
		{"exporter console", TracingConfig{TracesExporter: "console"}, telemetry.ExporterConsole},
		{"exporter none beats an endpoint", TracingConfig{TracesExporter: "none", OTLPEndpoint: "http://c:4318"}, telemetry.ExporterNone},
		{"SDK disabled wins", TracingConfig{SDKDisabled: true, TracesExporter: "otlp"}, telemetry.ExporterNone},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.cfg.Exporter())
			require.NoError(t, c.cfg.validate())
		})
	}
	grpc := TracingConfig{TracesExporter: "otlp", OTLPProtocol: "grpc"}
	require.EqualError(t, grpc.validate(), "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported: Flask exports traces over OTLP/HTTP; "+
		"set http/protobuf and the collector's HTTP endpoint (port 4318)")
	grpc = TracingConfig{OTLPEndpoint: "http://c:4317", OTLPProtocol: "http/protobuf", OTLPTracesProtocol: "grpc"}
	require.ErrorContains(t, grpc.validate(), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported")
	require.NoError(t, TracingConfig{SDKDisabled: true, OTLPProtocol: "grpc"}.validate(), "off: the protocol does not matter")
	require.ErrorContains(t, TracingConfig{TracesExporter: "jaeger"}.validate(), `OTEL_TRACES_EXPORTER="jaeger" is not supported`)
	require.ErrorContains(t, TracingConfig{TracesExporter: "otlp", OTLPProtocol: "thrift"}.validate(), "use http/protobuf or http/json")
	require.NoError(t, TracingConfig{TracesExporter: "otlp", OTLPProtocol: "http/json"}.validate())

	_, err := TracingFromEnv(func(k string) string {
		return map[string]string{"OTEL_SDK_DISABLED": "maybe"}[k]
	})
	require.ErrorContains(t, err, `OTEL_SDK_DISABLED="maybe"`)
	tc, err := TracingFromEnv(func(k string) string {
		return map[string]string{"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "false"}[k]
	})
	require.NoError(t, err)
	require.Equal(t, telemetry.ExporterConsole, tc.Exporter())
}
