// Package store keeps Flask's durable state — jobs, the outbox of messages
// still to publish, and live workers — in PostgreSQL (production) or SQLite
// (the embedded single-process default), through one sqlx code base with a
// dialect for each.
//
// Concurrent inserts (InsertJobs) and completions (FinishJob) are merged
// into shared transactions (group commit): a caller waits only for the
// transaction that carries its work, so throughput rises with load without
// weakening the guarantees — a call that returned nil has been committed, and
// one bad item fails only its own call. ClaimJobs already takes many ids per
// call. Outbox entries whose messages were published are deleted in the
// background, many per statement (ForgetOutbox).
//
// Times are kept to the microsecond, in UTC, on both dialects (PostgreSQL
// timestamptz, SQLite Unix microseconds); the store's clock is Config.Now.
// Job ids are UUIDv7, so they sort by creation time; any case is accepted.
//
// The dialects behave alike except where noted: PostgreSQL rejects JSON
// payloads holding U+0000 (jsonb cannot store it) while SQLite keeps them,
// and SQLite runs one transaction at a time.
//
// Driver errors are translated into job.ErrNotFound, job.ErrDuplicate and
// *job.StateError at this boundary; everything else is wrapped with what was
// being done.
package store
