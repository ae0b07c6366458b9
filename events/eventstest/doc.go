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
package eventstest
