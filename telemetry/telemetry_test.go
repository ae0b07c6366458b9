package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flaskhq/flask/telemetry"
	"github.com/flaskhq/flask/telemetry/telemetrytest"
)

const clientParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestSetupOTLP exports over OTLP/HTTP to the endpoint the SDK reads from
// OTEL_EXPORTER_OTLP_ENDPOINT, with the service name and version given,
// and OTEL_SERVICE_NAME winning over the default name.
func TestSetupOTLP(t *testing.T) {
	rcv := telemetrytest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	for _, c := range []struct{ env, want string }{{"", "flask-test"}, {"billing-workers", "billing-workers"}} {
		t.Setenv("OTEL_SERVICE_NAME", c.env)
		tr, err := telemetry.Setup(t.Context(), telemetry.Config{Exporter: telemetry.ExporterOTLP, ServiceName: "flask-test", ServiceVersion: "v9.9.9"}, discard())
		require.NoError(t, err)
		require.True(t, tr.Enabled())
		ctx := telemetry.Extract(t.Context(), map[string]string{"traceparent": clientParent})
		_, span := telemetry.Tracer(tr.Provider).Start(ctx, "work-"+c.want, trace.WithSpanKind(trace.SpanKindConsumer))
		span.End()
		require.NoError(t, tr.Shutdown(t.Context()), "flushes the batch")
		got := rcv.Named("work-" + c.want)
		require.Len(t, got, 1)
		require.Equal(t, c.want, got[0].Service)
		require.Equal(t, "v9.9.9", got[0].Version)
		require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", got[0].TraceID)
		require.Equal(t, "00f067aa0ba902b7", got[0].ParentID)
		require.Equal(t, tracepb.Span_SPAN_KIND_CONSUMER, got[0].Kind)
	}
}

// TestSetupOff: no exporter, a no-op provider, and nothing to stop; a
// caller's trace context still passes through its tracer.
func TestSetupOff(t *testing.T) {
	tr, err := telemetry.Setup(t.Context(), telemetry.Config{}, discard())
	require.NoError(t, err)
	require.False(t, tr.Enabled())
	require.IsType(t, noop.TracerProvider{}, tr.Provider)
	require.NoError(t, tr.Shutdown(t.Context()))
	ctx := telemetry.Extract(t.Context(), map[string]string{"traceparent": clientParent})
	ctx, span := telemetry.Tracer(tr.Provider).Start(ctx, "x")
	require.False(t, span.IsRecording())
	require.Equal(t, map[string]string{"traceparent": clientParent}, telemetry.Inject(ctx), "passes through")
	require.Nil(t, telemetry.Inject(t.Context()), "no trace, no carrier")

	_, err = telemetry.Setup(t.Context(), telemetry.Config{Exporter: "zipkin"}, discard())
	require.ErrorContains(t, err, `"zipkin" is not supported`)
}

func TestConsoleExporter(t *testing.T) {
	var out bytes.Buffer
	tr, err := telemetry.Setup(t.Context(), telemetry.Config{Exporter: telemetry.ExporterConsole, ServiceName: "flask-test", Console: &out}, discard())
	require.NoError(t, err)
	_, span := telemetry.Tracer(tr.Provider).Start(t.Context(), "console-span")
	span.End()
	require.NoError(t, tr.Shutdown(t.Context()))
	require.Contains(t, out.String(), `"Name":"console-span"`)
}

// TestLogHandler adds trace_id and span_id from the context, and nothing
// without one.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("job_id", "j1")
	log.InfoContext(telemetry.Extract(context.Background(), map[string]string{"traceparent": clientParent}), "with")
	log.InfoContext(context.Background(), "without")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	require.Len(t, lines, 2)
	var with, without map[string]any
	require.NoError(t, json.Unmarshal(lines[0], &with))
	require.NoError(t, json.Unmarshal(lines[1], &without))
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", with["trace_id"])
	require.Equal(t, "00f067aa0ba902b7", with["span_id"])
	require.Equal(t, "j1", with["job_id"])
	require.NotContains(t, without, "trace_id")
}
