// Package nats implements the events seam on NATS JetStream.
//
// # Layout on the server
//
// All Flask queues share one stream (Config.Stream, default FLASK_JOBS) that
// captures the subjects <prefix>.> (Config.SubjectPrefix, default
// flask.jobs). A message for queue q is published on <prefix>.q, and each
// queue is read through one durable pull consumer named flask-<q> that
// filters on that subject. The stream has work-queue retention: a message is
// removed once its consumer acknowledges it, so the stream only ever holds
// jobs that are waiting or running.
//
// Queue names must be 1 to 200 characters of [A-Za-z0-9_-]: they become a
// subject token and part of a consumer name.
//
// # Messages
//
// A message is a reference to a job, never the job. Its body is a small JSON
// object {"id","job_id","queue","type","trace"} and is what the consumer
// reads; the same fields are also set as headers (Nats-Msg-Id for
// de-duplication, Flask-Job-Id, Flask-Job-Type, and each trace entry under
// its own name, e.g. traceparent) so that operators and generic NATS tooling
// can see them without decoding the body. The body is authoritative because
// header values are trimmed and header names are restricted on the wire,
// while the body carries every Message exactly.
//
// Publish returns once the server has acknowledged every message: with
// Replicas 1 that means written to the server's file store (which the
// server fsyncs on its own sync interval), with 3 that it is stored on a
// quorum of servers.
//
// # Delivery
//
// Delivery is at least once. A delivery is leased for Config.AckWait; a
// worker that needs longer calls Extend well before that (every AckWait/3 is
// a good rhythm). Ack, Nak and Extend are fire-and-forget: they are written
// to the connection without waiting for the server to confirm. A lost ack
// only causes a redelivery after AckWait, which Flask's workers already make
// harmless, and waiting for a confirmation would cost a round trip per job.
//
// The consumer is never given a BackOff list: on JetStream a BackOff list
// silently replaces AckWait as the redelivery delay, which would break the
// lease that Extend relies on. Retry delays are chosen per delivery with
// Nak(ctx, delay) instead.
//
// # Embedded server
//
// RunEmbedded starts a nats-server with JetStream inside the process, for
// flaskctl dev and for tests.
package nats
