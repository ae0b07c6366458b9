package api

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/telemetry"
)

// traceRequests continues the caller's W3C trace context (traceparent,
// tracestate) and, with tracing on, wraps each request in a SERVER span
// named after its method and route pattern (bounded, unlike the path).
// With tracing off it only passes the caller's context on, so that jobs
// submitted under it keep it.
func (s *Server) traceRequests(next http.Handler) http.Handler {
	if !s.tracing {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ctx := telemetry.ExtractHeader(r.Context(), r.Header); ctx != r.Context() {
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if quietRoutes[r.URL.Path] {
			// Probes every few seconds: spans of them would be noise.
			next.ServeHTTP(w, r)
			return
		}
		method := methodLabel(r.Method)
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		ctx, span := s.tracer.Start(telemetry.ExtractHeader(r.Context(), r.Header), method,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(telemetry.AttrHTTPMethod.String(method), telemetry.AttrURLPath.String(r.URL.Path),
				telemetry.AttrURLScheme.String(scheme)))
		defer span.End()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		// Routing has run: the pattern is known now.
		route := routePattern(r)
		span.SetName(method + " " + route)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		span.SetAttributes(telemetry.AttrHTTPRoute.String(route), telemetry.AttrHTTPStatus.Int(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	})
}

// publishSpan is the PRODUCER span of one job being submitted.
type publishSpan struct {
	ctx  context.Context
	span trace.Span
}

// startPublish starts a PRODUCER span "publish <queue>" per job about to be
// inserted, as a child of the request's span, and keeps each span's
// context in the job's params: the store keeps it with the job and every
// message of the job carries it, so that the worker's attempts join the
// trace. With tracing off the spans are no-ops and a job keeps the
// caller's trace context, if any.
func (s *Server) startPublish(ctx context.Context, params []store.InsertParams) []publishSpan {
	out := make([]publishSpan, len(params))
	for i := range params {
		p := &params[i]
		pctx, span := s.tracer.Start(ctx, "publish "+p.Queue, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(telemetry.AttrMessagingSystem.String(s.messagingSystem),
				telemetry.AttrMessagingOperationType.String("send"), telemetry.AttrMessagingOperationName.String("publish"),
				telemetry.AttrMessagingDestination.String(p.Queue), telemetry.AttrJobType.String(p.Type)))
		p.Trace = telemetry.Inject(pctx)
		out[i] = publishSpan{ctx: pctx, span: span}
	}
	return out
}

// endPublish ends the spans of startPublish once the jobs are committed and
// dispatched: each records its job's id and message id, or the error of
// the insert.
func endPublish(spans []publishSpan, results []store.InsertResult, entries []store.OutboxEntry, err error) {
	if len(spans) == 0 || !spans[0].span.IsRecording() {
		return
	}
	msgIDs := make(map[string]string, len(entries))
	for _, e := range entries {
		msgIDs[e.JobID] = e.ID
	}
	for i, ps := range spans {
		switch {
		case err != nil:
			ps.span.RecordError(err)
			ps.span.SetStatus(codes.Error, "insert failed")
		case i < len(results):
			j := results[i].Job
			ps.span.SetAttributes(telemetry.AttrJobID.String(j.ID))
			if results[i].Existing {
				ps.span.SetAttributes(telemetry.AttrJobExisting.Bool(true))
			} else if id := msgIDs[j.ID]; id != "" {
				ps.span.SetAttributes(telemetry.AttrMessagingMessageID.String(id))
			}
		}
		ps.span.End()
	}
}

// jobContext returns ctx carrying the job's trace context, so that a log
// line about the job carries the job's trace id, and links the request's
// span to the job's trace. ctx is returned as it is when the job has none.
func jobContext(ctx context.Context, j *job.Job) context.Context {
	sc := telemetry.SpanContext(j.Trace)
	if !sc.IsValid() {
		return ctx
	}
	trace.SpanFromContext(ctx).AddLink(trace.Link{SpanContext: sc})
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

// auditJob writes the audit line of an operation on a job, with the job's
// fields and trace id.
func (s *Server) auditJob(r *http.Request, msg string, j *job.Job, args ...any) {
	s.audit(r.WithContext(jobContext(r.Context(), j)), msg,
		append([]any{"job_id", j.ID, "queue", j.Queue, "type", j.Type, "attempt", j.Attempt}, args...)...)
}
