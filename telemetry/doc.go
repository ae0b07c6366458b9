// Package telemetry sets up OpenTelemetry tracing for Flask's processes and
// carries W3C trace context (traceparent, tracestate) across the queue hop.
//
// Setup builds a tracer provider from a Config — the binaries derive it
// from the standard OTEL_* variables, and the OpenTelemetry SDK reads the
// rest of them itself (endpoint, headers, timeout, sampler, resource,
// batching). With tracing off, Setup returns a no-op provider and starts
// nothing: no exporter, no goroutine. The W3C trace context of a caller
// still passes through: a job submitted under a client's traceparent keeps
// it, and its worker logs carry the client's trace id.
//
// Inject and Extract turn a context's span into a carrier map and back, as
// stored with a job and sent in events.Message.Trace. LogHandler adds
// trace_id and span_id to every log record whose context holds a span.
//
// This package does not read the environment: package app does, and
// passes a Config.
package telemetry
