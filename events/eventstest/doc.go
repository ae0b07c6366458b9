// Package eventstest is the conformance suite for implementations of the
// events seam. Every broker runs the same tests:
//
//	func TestConformance(t *testing.T) {
//		eventstest.Run(t, func(t *testing.T) eventstest.Broker {
//			return newIsolatedBroker(t) // fresh queues, short AckWait
//		})
//	}
//
// The factory returns a broker whose queues QueueA and QueueB are empty and
// seen by no other broker, with an AckWait of one or two seconds so that the
// redelivery cases finish quickly; it registers the broker's Close with
// t.Cleanup (Close may then be called twice). Capabilities that not every
// broker has are declared with options such as WithoutDedup.
//
// The suite covers publish, receive, ack, nak with and without delay,
// Extend keeping a long job from redelivery, redelivery after AckWait and
// after a consumer dies holding a delivery, the batch paths (one Publish of
// hundreds of messages over several queues, a Fetch of more than ten), the
// hand-back on shutdown, cancellation and Close. No test assumes an order
// of delivery, and one checks that a delayed message holds back nobody.
//
// Brokers that need a server of their own get it from the test command:
// SQSEndpoint reads the SQS-compatible server started by
// scripts/with-sqs.sh, and fails the test (skips it under -short) when
// there is none.
package eventstest
