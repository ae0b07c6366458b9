package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Exporters Config.Exporter accepts.
const (
	// ExporterNone turns tracing off.
	ExporterNone = ""
	// ExporterOTLP sends spans over OTLP/HTTP (protobuf or JSON) to the
	// endpoint the OTEL_EXPORTER_OTLP_* variables name (default
	// https://localhost:4318: the SDK's default is TLS).
	ExporterOTLP = "otlp"
	// ExporterConsole writes spans as JSON lines to Config.Console, for
	// trying tracing without a collector.
	ExporterConsole = "console"
)

// InstrumentationName names Flask's tracers (the instrumentation scope).
const InstrumentationName = "github.com/flaskhq/flask"

// Config says whether and where a process sends its spans.
type Config struct {
	// Exporter is ExporterOTLP, ExporterConsole or ExporterNone (off, the
	// default).
	Exporter string
	// ServiceName is service.name unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES set it, such as flask-api.
	ServiceName string
	// ServiceVersion is service.version, such as v1.2.3.
	ServiceVersion string
	// Console receives the console exporter's output. Default os.Stdout.
	Console io.Writer
}

// Tracing is a process's tracer provider and how to stop it.
type Tracing struct {
	// Provider makes the process's tracers: a no-op provider when tracing
	// is off.
	Provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// Shutdown exports the spans still buffered and stops the exporter; ctx
// bounds the wait. It does nothing when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop tracing: %w", err)
	}
	return nil
}

// Setup builds the tracer provider cfg asks for. The SDK reads the other
// OTEL_* variables: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS,
// _TIMEOUT, _COMPRESSION and _CERTIFICATE, OTEL_TRACES_SAMPLER(_ARG),
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_BSP_*. Export errors
// are logged on log as warnings. Call Shutdown when the process stops.
func Setup(ctx context.Context, cfg Config, log *slog.Logger) (*Tracing, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch cfg.Exporter {
	case ExporterNone:
		return &Tracing{Provider: noop.NewTracerProvider()}, nil
	case ExporterOTLP:
		exp, err = otlptracehttp.New(ctx)
	case ExporterConsole:
		w := cfg.Console
		if w == nil {
			w = os.Stdout
		}
		exp, err = stdouttrace.New(stdouttrace.WithWriter(w))
	default:
		return nil, fmt.Errorf("trace exporter %q is not supported: use otlp, console or none", cfg.Exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("start the %s trace exporter: %w", cfg.Exporter, err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", cfg.ServiceName), attribute.String("service.version", cfg.ServiceVersion)),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil {
		if res == nil {
			_ = exp.Shutdown(ctx)
			return nil, fmt.Errorf("trace resource: %w", err)
		}
		log.Warn("trace resource incomplete", "err", err)
	}
	// The SDK reports export failures through a process-wide handler; send
	// them to the log rather than to the standard library's logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing", "err", err)
	}))
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{Provider: sdk, sdk: sdk}, nil
}

// Tracer returns Flask's tracer of tp, or of the no-op provider when tp
// is nil.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(InstrumentationName)
}

// propagator is W3C Trace Context: traceparent and tracestate. Baggage is
// not carried.
var propagator = propagation.TraceContext{}

// Inject returns the W3C trace context of ctx's span as a carrier map
// (traceparent, and tracestate when there is one), or nil when ctx holds no
// valid span context.
func Inject(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

// Extract returns ctx with the remote span context carrier holds, or ctx
// itself when carrier holds none (or an invalid one).
func Extract(ctx context.Context, carrier map[string]string) context.Context {
	if len(carrier) == 0 {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier(carrier))
}

// ExtractHeader returns ctx with the remote span context of an HTTP
// request's traceparent and tracestate headers, or ctx itself when there
// are none.
func ExtractHeader(ctx context.Context, h http.Header) context.Context {
	if h.Get("Traceparent") == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// InjectHeader sets the traceparent (and tracestate) headers of an
// outgoing HTTP request from ctx's span, so that the receiver joins the
// trace. It sets nothing when ctx holds no valid span context.
func InjectHeader(ctx context.Context, h http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagator.Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// SpanContext returns the span context a carrier map holds (invalid when
// none).
func SpanContext(carrier map[string]string) trace.SpanContext {
	return trace.SpanContextFromContext(Extract(context.Background(), carrier))
}
