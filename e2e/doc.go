// Package e2e holds end-to-end tests that build flask-api, flask-worker and
// flaskctl, run them as real processes against a PostgreSQL database
// (TEST_DATABASE_URL; scripts/with-postgres.sh starts a throwaway cluster)
// and an embedded NATS JetStream server, and drive them over HTTP.
package e2e
