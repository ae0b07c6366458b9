// Package builtin holds the job types that ship with Flask.
//
// The demo types (demo.sleep, demo.fail, demo.echo) let a newcomer watch
// timing, retries and results without writing a handler; RegisterDemo adds
// them to a worker's registry and DemoSpecs gives the API their specs.
//
// The http family turns any HTTP endpoint into a handler: each job type with
// a configured route is POSTed, payload as the body, to that route's URL.
// RegisterHTTP adds one handler per route and HTTPSpecs gives the API their
// specs. Requests carry the job's id, type and attempt in headers, an
// Idempotency-Key equal to the job id, and, with a signing secret, an
// HMAC-SHA256 signature that receivers check with VerifySignature (the scheme
// is documented there for receivers in other languages).
//
// Outcomes: a 2xx response succeeds, with the body as the result; 408, 429
// and 5xx responses, timeouts and connection errors are retried (honouring
// Retry-After); any other status fails the job at once. Targets are checked
// at dial time, after DNS resolution and on every redirect: loopback, private,
// link-local, CGNAT and other non-public addresses are refused unless listed
// in HTTPConfig.AllowCIDRs. For the same reason requests never go through a
// proxy: HTTP_PROXY and HTTPS_PROXY are ignored.
package builtin
