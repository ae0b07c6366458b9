// Package worker runs jobs: a Pool fetches deliveries from the broker for its
// queues, claims each job in the store, runs the registered Handler with a
// deadline, records the outcome and then acknowledges the delivery.
//
// Delivery is at least once. A duplicate delivery is harmless because only a
// runnable job can be claimed; a worker killed mid-job stops sending
// heartbeats, so the broker redelivers its message after the ack deadline and
// another worker claims the job again. While a job runs, its delivery is kept
// alive, so long jobs are not redelivered.
//
// Handlers are plain functions registered by job type in a Registry. A
// handler marks an error as final with SkipRetry, asks for a specific delay
// with RetryAfter, and sees cancellation through its context.
package worker
