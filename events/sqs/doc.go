// Package sqs implements the events seam on AWS SQS.
//
// # Layout in SQS
//
// Each Flask queue q is one standard SQS queue named "<prefix>-q", with a
// dead-letter queue "<prefix>-q-dlq" that SQS moves a message to after
// maxReceiveCount receives without a delete (a job that keeps crashing or
// stalling its workers): exactly the names deploy/terraform/modules/queues
// gives them, where prefix is Terraform's name_prefix (flask-<environment>).
// In production Terraform makes the queues; Config.CreateQueues lets dev
// mode and tests create them, with the same redrive policy. A queue that
// does not exist is an error naming it (ErrNoQueue); Flask's outbox keeps
// the job until the queue exists. Flask's own failed state stays the source
// of truth: the dead-letter queue only makes stuck messages visible.
//
// FIFO queues are not used: Flask needs neither their ordering nor their
// de-duplication (workers skip a job they cannot claim), and FIFO queues
// cap throughput per message group.
//
// # Messages
//
// A message is a reference to a job, never the job: its body is the JSON
// object {"id","job_id","queue","type","trace"}, a few hundred bytes, far
// below SQS's size limit. The job id, type, traceparent and tracestate are
// also message attributes (Flask-Job-Id, Flask-Job-Type, traceparent,
// tracestate) for operators and generic tooling; the body is authoritative.
// Publish sends SendMessageBatch calls of ten, several at once for big
// batches; SQS standard queues do not de-duplicate, so a message published
// twice is delivered twice, which Flask's workers make harmless.
//
// # Delivery
//
// Fetch long-polls with ReceiveMessage (up to ten messages and 20 seconds
// per call, several calls at once when more than ten are asked for) and
// sets the VisibilityTimeout, Flask's AckWait, on every receive. NumDelivered
// is SQS's ApproximateReceiveCount. Ack deletes the message; deletes of
// Acks made within a few milliseconds share one DeleteMessageBatch call and
// are sent without making Ack wait. Nak(delay) and Extend are
// ChangeMessageVisibility calls: Nak to delay (rounded up to whole seconds;
// 0 hands the message back at once, as a worker does on shutdown), Extend
// to another AckWait from now. SQS caps a lease at 12 hours from its
// receive: Extend then fails with ErrVisibilityLimit and the message is
// delivered again (the next worker finds the job held by a live worker and
// hands it back until it ends), so jobs on SQS should not run longer.
//
// Retries with backoff never wait in SQS (whose delays stop at 15
// minutes): a failed attempt is written to the store as retrying with its
// run_at, its message is deleted, and the relay publishes the job again
// when it is due, however far away that is.
//
// # Permissions
//
// A publisher (flask-api) needs sqs:GetQueueUrl and sqs:SendMessage (which
// also covers SendMessageBatch); a consumer (flask-worker) sqs:GetQueueUrl,
// sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility (the
// Batch calls are covered by the same actions). CreateQueues also needs
// sqs:CreateQueue and sqs:GetQueueAttributes. docs/brokers.md has the rest.
package sqs
