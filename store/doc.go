// Package store keeps Flask's durable state — jobs, the outbox of messages
// still to publish, and live workers — in PostgreSQL (production) or SQLite
// (the embedded single-process default), through one sqlx code base with a
// dialect for each.
//
// Concurrent inserts, claims, completions and outbox deletions are merged into
// shared transactions (group commit): a caller waits only for the transaction
// that carries its work, so throughput rises with load without weakening the
// guarantees — a call that returned nil has been committed.
//
// Driver errors are translated into job.ErrNotFound, job.ErrDuplicate and
// *job.StateError at this boundary; everything else is wrapped with what was
// being done.
package store
