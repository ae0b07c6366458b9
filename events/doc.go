// Package events is the seam between Flask and its message brokers.
//
// A message carries only a reference to a job (its id, queue and type); the
// job itself lives in the store. Publishers put messages on a queue; consumers
// fetch deliveries, and each delivery is acknowledged once its job reached a
// state from which it must not run again. Delivery is at least once: a message
// may arrive twice, and workers make a second delivery harmless.
//
// Implementations live beneath: events/nats (NATS JetStream) and
// events/sqs (AWS SQS). The conformance suite in events/eventstest runs the
// same tests against each.
package events
