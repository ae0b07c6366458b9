-- The W3C trace context (traceparent, tracestate) a job was submitted under:
-- its producer span, as a JSON object. Every message published for the job
-- carries it (the first publish, the sweep's republish, the promotion of a
-- scheduled or retrying job), so that all its attempts join one trace. NULL
-- when the job was submitted outside any trace.
ALTER TABLE jobs ADD COLUMN trace_context text;
