package events

import (
	"context"
	"errors"
	"time"
)

// Message is a reference to a job that should run.
type Message struct {
	// ID is unique per enqueue and used by brokers that de-duplicate publishes.
	ID    string
	JobID string
	Queue string
	Type  string
	// Trace carries W3C trace context (traceparent, tracestate) across the hop.
	Trace map[string]string
}

// Publisher puts messages on their queues.
type Publisher interface {
	// Publish returns once the broker has durably accepted every message, or
	// an error if any may not have been accepted (the caller publishes again;
	// duplicates are harmless).
	Publish(ctx context.Context, msgs ...Message) error
	Close() error
}

// Delivery is one receipt of a message by a consumer.
type Delivery interface {
	Message() Message
	// NumDelivered counts deliveries of this message, 1 on the first.
	NumDelivered() int
	// Ack removes the message for good.
	Ack(ctx context.Context) error
	// Nak hands the message back to be delivered again after delay (0: at once).
	Nak(ctx context.Context, delay time.Duration) error
	// Extend keeps the delivery alive: it postpones redelivery by another
	// AckWait while a long job runs.
	Extend(ctx context.Context) error
}

// Consumer fetches deliveries from queues.
type Consumer interface {
	// Fetch returns up to max deliveries from queue. It waits up to wait for
	// the first one and returns an empty slice if none came.
	Fetch(ctx context.Context, queue string, max int, wait time.Duration) ([]Delivery, error)
	// AckWait is how long a delivery stays leased before it is redelivered
	// unless extended.
	AckWait() time.Duration
	Close() error
}

// Pinger is implemented by brokers that can check their connection.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ErrClosed is returned by a publisher or consumer used after Close.
var ErrClosed = errors.New("broker connection closed")
