// Package e2e holds end-to-end tests that build flask-api, flask-worker and
// flaskctl, run them as real processes against a PostgreSQL database
// (TEST_DATABASE_URL; scripts/with-postgres.sh starts a throwaway cluster)
// and a broker — an embedded NATS JetStream server, or, for the cases that
// depend on the broker, also the SQS emulator of scripts/with-sqs.sh
// (TEST_SQS_ENDPOINT) — and drive them over HTTP.
package e2e
