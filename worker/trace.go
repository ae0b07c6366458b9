package worker

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/telemetry"
)

// startAttempt starts the CONSUMER span "process <queue>" of a claimed
// job's attempt, a child of the trace context the job was submitted under,
// and returns the context that carries it. With tracing off the span is a
// no-op and the context carries the job's trace context, if any, for the
// log lines.
func (p *Pool) startAttempt(t *task) context.Context {
	j := t.j
	tc := j.Trace
	if len(tc) == 0 {
		tc = t.d.Message().Trace // a job stored before its trace context was
	}
	ctx, _ := p.tracer.Start(telemetry.Extract(p.jobsCtx, tc), "process "+j.Queue,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			telemetry.AttrMessagingSystem.String(p.cfg.MessagingSystem),
			telemetry.AttrMessagingOperationType.String("process"), telemetry.AttrMessagingOperationName.String("process"),
			telemetry.AttrMessagingDestination.String(j.Queue), telemetry.AttrMessagingMessageID.String(t.d.Message().ID),
			telemetry.AttrJobID.String(j.ID), telemetry.AttrJobType.String(j.Type), telemetry.AttrJobAttempt.Int(j.Attempt),
		))
	return ctx
}

// endAttempt records an attempt's outcome on its span: the state it left
// the job in and, when the handler failed, its error with status Error.
func endAttempt(span trace.Span, fp store.FinishParams, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(telemetry.AttrJobOutcome.String(string(fp.State)))
	if err != nil && fp.State != job.StateSucceeded {
		span.RecordError(err)
		span.SetStatus(codes.Error, truncate(err.Error(), 256))
	}
}

// logJob writes a line about a claimed job: its job_id, queue, type and
// attempt, and (through the log handler) the trace_id and span_id of the
// attempt's context.
func (p *Pool) logJob(t *task, level slog.Level, msg string, args ...any) {
	ctx := t.ctx
	if ctx == nil {
		ctx = p.jobsCtx
	}
	if !p.log.Enabled(ctx, level) {
		return
	}
	j := t.j
	p.log.Log(ctx, level, msg, append([]any{"job_id", j.ID, "queue", j.Queue, "type", j.Type, "attempt", j.Attempt}, args...)...)
}

// logDelivery writes a line about a delivery this worker did not run: the
// message's job_id, queue and type, the job's attempt as far as known (0
// when the job was not claimed), and the trace id the message carries.
func (p *Pool) logDelivery(ctx context.Context, level slog.Level, d events.Delivery, attempt int, msg string, args ...any) {
	if !p.log.Enabled(ctx, level) {
		return
	}
	m := d.Message()
	p.log.Log(telemetry.Extract(ctx, m.Trace), level, msg,
		append([]any{"job_id", m.JobID, "queue", m.Queue, "type", m.Type, "attempt", attempt, "delivery", d.NumDelivered()}, args...)...)
}
