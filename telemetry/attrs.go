package telemetry

import "go.opentelemetry.io/otel/attribute"

// Span attributes Flask sets: OpenTelemetry's messaging and HTTP semantic
// conventions, and flask.* for what they do not cover.
const (
	// AttrMessagingSystem is nats or aws_sqs (see MessagingSystem).
	AttrMessagingSystem = attribute.Key("messaging.system")
	// AttrMessagingOperationType is send (publish) or process.
	AttrMessagingOperationType = attribute.Key("messaging.operation.type")
	// AttrMessagingOperationName is publish or process.
	AttrMessagingOperationName = attribute.Key("messaging.operation.name")
	// AttrMessagingDestination is the Flask queue.
	AttrMessagingDestination = attribute.Key("messaging.destination.name")
	// AttrMessagingMessageID is the broker message's id (the outbox entry's).
	AttrMessagingMessageID = attribute.Key("messaging.message.id")
	// AttrJobID is the Flask job id.
	AttrJobID = attribute.Key("flask.job.id")
	// AttrJobType is the job's type.
	AttrJobType = attribute.Key("flask.job.type")
	// AttrJobAttempt is the attempt's number, 1 for the first.
	AttrJobAttempt = attribute.Key("flask.job.attempt")
	// AttrJobOutcome is the state the attempt ended the job in: succeeded,
	// retrying, failed, cancelled, or queued/scheduled for a hand-back.
	AttrJobOutcome = attribute.Key("flask.job.outcome")
	// AttrJobExisting marks a submit that found the job already there under
	// its idempotency key: nothing was published.
	AttrJobExisting = attribute.Key("flask.job.existing")
	// AttrHTTPMethod, AttrHTTPRoute and AttrHTTPStatus describe an API request.
	AttrHTTPMethod = attribute.Key("http.request.method")
	AttrHTTPRoute  = attribute.Key("http.route")
	AttrHTTPStatus = attribute.Key("http.response.status_code")
	// AttrURLPath and AttrURLScheme describe the request's URL, without its query.
	AttrURLPath   = attribute.Key("url.path")
	AttrURLScheme = attribute.Key("url.scheme")
)

// MessagingSystem returns the messaging.system value of a Flask broker
// name (nats, sqs): the semantic conventions call SQS aws_sqs.
func MessagingSystem(broker string) string {
	if broker == "sqs" {
		return "aws_sqs"
	}
	return broker
}
