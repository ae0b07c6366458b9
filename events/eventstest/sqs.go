package eventstest

import (
	"os"
	"testing"
)

// HowToRunSQS tells how to get an SQS-compatible server for the tests.
const HowToRunSQS = "TEST_SQS_ENDPOINT is not set: run the tests with " +
	"`scripts/with-sqs.sh go test ./...` (it starts a throwaway SQS emulator on 127.0.0.1), " +
	"or `make test`; pass -short to skip them"

// SQSEndpoint returns the SQS-compatible server the tests use
// (TEST_SQS_ENDPOINT, set by scripts/with-sqs.sh). Without it the test
// fails — it is skipped only with -short — so that a green run never hides
// that the SQS half did not run.
func SQSEndpoint(tb testing.TB) string {
	tb.Helper()
	ep := os.Getenv("TEST_SQS_ENDPOINT")
	if ep == "" {
		if testing.Short() {
			tb.Skip("-short: " + HowToRunSQS)
		}
		tb.Fatal(HowToRunSQS)
	}
	return ep
}
