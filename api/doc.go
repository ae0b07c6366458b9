// Package api is Flask's HTTP API, version 1.
//
// It takes jobs over HTTP, records them in a store together with their
// outbox entries in one transaction, and hands those entries to a dispatcher
// that publishes them to the broker before the response is written. A
// failed publish loses nothing: the entries stay in the outbox until the
// relay's sweep publishes them.
//
// The routes, request and response shapes are described by the OpenAPI 3.1
// document openapi.yaml in this directory, which the server also serves at
// GET /v1/openapi.yaml. Errors are RFC 9457 problem documents
// (application/problem+json) with an "errors" member naming the fields at
// fault.
//
// Every /v1 route requires an API key (Authorization: Bearer) holding the
// route's scope (package api/auth); a tenant key sees only its tenant's jobs,
// an admin key every tenant's and the key routes. Per-key rate limits, a
// per-tenant cap on waiting jobs and per-address limits on failed
// authentications answer 429. The Prometheus metrics are not among the
// routes: MetricsHandler serves them on an address of their own. See
// docs/security.md.
//
// The package owns the seams it consumes: Store, Dispatcher and Checker. It
// reads no environment and keeps no global state; the binary fills Config and
// Deps and calls New.
package api
