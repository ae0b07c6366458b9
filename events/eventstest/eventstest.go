package eventstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events"
)

// The queues the suite uses. A factory's broker must serve both, empty.
const (
	QueueA = "alpha"
	QueueB = "beta"
)

// Broker is what the suite tests: a publisher and consumer in one.
type Broker interface {
	events.Publisher
	events.Consumer
}

// Option declares a capability of the broker under test.
type Option func(*options)

type options struct {
	noDedup string
	newPeer func(t *testing.T, b Broker) Broker
}

// WithoutDedup declares that the broker does not drop a second publish of
// the same Message.ID, for the reason given: the de-duplication test then
// checks that every copy is delivered instead (none may be lost either).
func WithoutDedup(reason string) Option {
	return func(o *options) { o.noDedup = reason }
}

// WithPeer gives the suite a second broker on the same queues as b (a
// separate connection, as another process would have), for the hand-back
// test. Without it that test fetches again through b. newPeer registers
// the peer's Close with t.Cleanup.
func WithPeer(newPeer func(t *testing.T, b Broker) Broker) Option {
	return func(o *options) { o.newPeer = newPeer }
}

// slack absorbs scheduling and network delays in timing assertions.
const slack = 300 * time.Millisecond

// longWait is the Fetch wait for a message that is expected: Fetch returns
// as soon as it arrives, so the wait only matters when the test fails.
const longWait = 5 * time.Second

type suite struct {
	newBroker func(t *testing.T) Broker
	opts      options
}

// Run runs the conformance suite. newBroker must return a fresh broker
// whose queues are isolated from every other broker it returned, with an
// AckWait of at most a few seconds, and register its Close with t.Cleanup.
func Run(t *testing.T, newBroker func(t *testing.T) Broker, opts ...Option) {
	t.Helper()
	s := &suite{newBroker: newBroker}
	for _, o := range opts {
		o(&s.opts)
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"AckWaitIsShort", s.testAckWaitIsShort},
		{"RoundTrip", s.testRoundTrip},
		{"AckRemoves", s.testAckRemoves},
		{"RedeliveredAfterAckWait", s.testRedeliveredAfterAckWait},
		{"CrashedConsumerRedelivered", s.testCrashedConsumer},
		{"NakZeroRedeliversPromptly", s.testNakZero},
		{"NakDelayWaits", s.testNakDelay},
		{"NakDelayDoesNotHoldOthers", s.testNakDelayNotBlocking},
		{"ExtendKeepsLease", s.testExtend},
		{"Batch", s.testBatch},
		{"FetchMoreThanTen", s.testFetchMoreThanTen},
		{"MixedQueueBatch", s.testMixedQueueBatch},
		{"ConcurrentPublish", s.testConcurrentPublish},
		{"QueuesIsolated", s.testQueuesIsolated},
		{"DuplicateIDDeliveredOnce", s.testDedup},
		{"HandBackOnShutdown", s.testHandBack},
		{"FetchEmptyWithinWait", s.testFetchEmpty},
		{"FetchHonoursCancel", s.testFetchCancel},
		{"ClosedBroker", s.testClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// newID returns a random hex id.
func newID(t *testing.T) string {
	var b [12]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// newMessage returns a message for queue with fresh ids and a trace.
func newMessage(t *testing.T, queue string) events.Message {
	traceID, spanID := newID(t)+"00000000", newID(t)[:16]
	return events.Message{
		ID:    newID(t),
		JobID: newID(t),
		Queue: queue,
		Type:  "email.send",
		Trace: map[string]string{
			"traceparent": "00-" + traceID + "-" + spanID + "-01",
			"tracestate":  "flask=t61rcWkgMzE",
		},
	}
}

// fetchN fetches from queue until n deliveries arrived, failing if more
// arrive or if they do not all come within longWait.
func fetchN(t *testing.T, b events.Consumer, queue string, n, max int) []events.Delivery {
	t.Helper()
	var out []events.Delivery
	deadline := time.Now().Add(longWait)
	for len(out) < n {
		left := time.Until(deadline)
		require.Positive(t, left, "got %d of %d deliveries from %s", len(out), n, queue)
		ds, err := b.Fetch(t.Context(), queue, max, left)
		require.NoError(t, err)
		require.LessOrEqual(t, len(ds), max, "fetch returned more than max")
		out = append(out, ds...)
	}
	require.Len(t, out, n, "more deliveries than messages")
	return out
}

// expectNothing asserts that no delivery arrives on queue within wait.
func expectNothing(t *testing.T, b events.Consumer, queue string, wait time.Duration) {
	t.Helper()
	ds, err := b.Fetch(t.Context(), queue, 10, wait)
	require.NoError(t, err)
	for _, d := range ds {
		t.Errorf("unexpected delivery of %+v (delivered %d times)", d.Message(), d.NumDelivered())
	}
	require.Empty(t, ds)
}

func (s *suite) testAckWaitIsShort(t *testing.T) {
	b := s.newBroker(t)
	aw := b.AckWait()
	require.Positive(t, aw)
	require.LessOrEqual(t, aw, 5*time.Second, "the suite needs a short AckWait to stay quick")
}

func (s *suite) testRoundTrip(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	withTrace := newMessage(t, QueueA)
	bare := events.Message{ID: newID(t), JobID: newID(t), Queue: QueueA, Type: "report.build"}
	require.NoError(t, b.Publish(ctx, withTrace))
	require.NoError(t, b.Publish(ctx, bare))

	got := map[string]events.Message{}
	for _, d := range fetchN(t, b, QueueA, 2, 10) {
		require.Equal(t, 1, d.NumDelivered())
		got[d.Message().ID] = d.Message()
		require.NoError(t, d.Ack(ctx))
	}
	require.Equal(t, withTrace, got[withTrace.ID])
	require.Equal(t, bare.JobID, got[bare.ID].JobID)
	require.Equal(t, bare.Queue, got[bare.ID].Queue)
	require.Equal(t, bare.Type, got[bare.ID].Type)
	require.Empty(t, got[bare.ID].Trace)
}

func (s *suite) testAckRemoves(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	d := fetchN(t, b, QueueA, 1, 1)[0]
	require.Equal(t, m.ID, d.Message().ID)
	require.NoError(t, d.Ack(ctx))

	// Past AckWait an unacked message would be back.
	expectNothing(t, b, QueueA, b.AckWait()+b.AckWait()/2)
}

// testRedeliveredAfterAckWait is the crashed consumer: it fetched and never
// answered.
func (s *suite) testRedeliveredAfterAckWait(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	aw := b.AckWait()
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	start := time.Now()
	first := fetchN(t, b, QueueA, 1, 1)[0]
	require.Equal(t, 1, first.NumDelivered())

	ds, err := b.Fetch(ctx, QueueA, 10, 3*aw)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the unacked message was not redelivered within 3×AckWait")
	elapsed := time.Since(start)
	require.GreaterOrEqual(t, elapsed, aw-slack, "redelivered before AckWait passed")
	require.Equal(t, m, ds[0].Message())
	require.Equal(t, 2, ds[0].NumDelivered())
	require.NoError(t, ds[0].Ack(ctx))
}

func (s *suite) testNakZero(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	aw := b.AckWait()
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	d := fetchN(t, b, QueueA, 1, 1)[0]
	require.NoError(t, d.Nak(ctx, 0))

	// Well before AckWait: only the Nak can bring it back this soon.
	ds, err := b.Fetch(ctx, QueueA, 10, aw/2)
	require.NoError(t, err)
	require.Len(t, ds, 1, "Nak(0) did not redeliver within AckWait/2")
	require.Equal(t, m.ID, ds[0].Message().ID)
	require.Equal(t, 2, ds[0].NumDelivered())
	require.NoError(t, ds[0].Ack(ctx))
}

func (s *suite) testNakDelay(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	// Longer than AckWait, so a redelivery on AckWait would show up too
	// early.
	delay := 2 * b.AckWait()
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	d := fetchN(t, b, QueueA, 1, 1)[0]
	naked := time.Now()
	require.NoError(t, d.Nak(ctx, delay))

	ds, err := b.Fetch(ctx, QueueA, 10, 2*delay)
	require.NoError(t, err)
	require.Len(t, ds, 1, "not redelivered within twice the Nak delay")
	require.GreaterOrEqual(t, time.Since(naked), delay-slack, "redelivered before the Nak delay")
	require.Equal(t, m.ID, ds[0].Message().ID)
	require.Equal(t, 2, ds[0].NumDelivered())
	require.NoError(t, ds[0].Ack(ctx))
}

func (s *suite) testExtend(t *testing.T) {
	// A machine so loaded that the extender stalls past AckWait makes one
	// try meaningless (a redelivery is then right); try again on a fresh
	// broker rather than skip, and fail if the machine never lets us judge.
	const tries = 3
	for i := range tries {
		if s.extendOnce(t) {
			return
		}
		t.Logf("try %d of %d could not judge Extend: the extender stalled past AckWait", i+1, tries)
	}
	t.Fatalf("Extend could not be judged in %d tries: this machine stalls goroutines past AckWait", tries)
}

// extendOnce runs the Extend scenario once. It returns false, having
// asserted nothing about the lease, when the extender itself stalled longer
// than AckWait.
func (s *suite) extendOnce(t *testing.T) bool {
	ctx := t.Context()
	b := s.newBroker(t)
	aw := b.AckWait()
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	fetchedAt := time.Now()
	d := fetchN(t, b, QueueA, 1, 1)[0]

	// The extender records the longest gap between extensions: on a
	// machine so loaded that it exceeds AckWait, a redelivery is right.
	var (
		mu         sync.Mutex
		lastExtend = fetchedAt
		maxGap     time.Duration
		extendErr  error
	)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(aw / 8)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				err := d.Extend(ctx)
				now := time.Now()
				mu.Lock()
				maxGap = max(maxGap, now.Sub(lastExtend))
				lastExtend, extendErr = now, err
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}
	}()

	// Held well past AckWait while extended.
	ds, err := b.Fetch(ctx, QueueA, 10, 2*aw+aw/2)
	close(stop)
	<-stopped
	require.NoError(t, err)
	mu.Lock()
	last, gap := lastExtend, maxGap
	mu.Unlock()
	require.NoError(t, extendErr)
	if len(ds) > 0 {
		if gap >= aw-slack {
			return false
		}
		require.Empty(t, ds, "redelivered while extended every %s at most", gap)
	}

	ds, err = b.Fetch(ctx, QueueA, 10, 3*aw)
	require.NoError(t, err)
	require.Len(t, ds, 1, "not redelivered after extensions stopped")
	require.GreaterOrEqual(t, time.Since(last), aw-slack, "redelivered before AckWait after the last Extend")
	require.Equal(t, m.ID, ds[0].Message().ID)
	require.Equal(t, 2, ds[0].NumDelivered())
	require.NoError(t, ds[0].Ack(ctx))
	return true
}

func (s *suite) testBatch(t *testing.T) {
	const n, max = 500, 100
	ctx := t.Context()
	b := s.newBroker(t)
	msgs := make([]events.Message, n)
	want := make(map[string]events.Message, n)
	for i := range msgs {
		msgs[i] = newMessage(t, QueueA)
		want[msgs[i].ID] = msgs[i]
	}
	require.NoError(t, b.Publish(ctx, msgs...))

	// acked[id] is when the message's first delivery was acked, and
	// fetched[id] when the Fetch that returned it started.
	acked := make(map[string]time.Time, n)
	fetched := make(map[string]time.Time, n)
	aw := b.AckWait()
	calls := 0
	deadline := time.Now().Add(4 * longWait)
	for len(acked) < n {
		require.True(t, time.Now().Before(deadline), "got %d of %d messages", len(acked), n)
		start := time.Now()
		ds, err := b.Fetch(ctx, QueueA, max, longWait)
		require.NoError(t, err)
		require.LessOrEqual(t, len(ds), max, "fetch returned more than max")
		calls++
		for _, d := range ds {
			m := d.Message()
			require.Equal(t, want[m.ID], m, "unknown or altered message")
			if at, ok := acked[m.ID]; ok {
				// Only a lease that ran out before its ack may come back.
				held := at.Sub(fetched[m.ID])
				require.GreaterOrEqual(t, held, aw-slack, "message %s delivered again although acked %s after its fetch", m.ID, held)
				t.Logf("message %s redelivered: the machine is so slow that its ack came %s after its fetch", m.ID, held)
				require.NoError(t, d.Ack(ctx))
				continue
			}
			require.NoError(t, d.Ack(ctx))
			fetched[m.ID], acked[m.ID] = start, time.Now()
		}
	}
	require.Less(t, calls, n, "fetch never returned more than one delivery")
	t.Logf("%d messages in %d fetches", n, calls)
	expectNothing(t, b, QueueA, b.AckWait()+b.AckWait()/2)
}

func (s *suite) testConcurrentPublish(t *testing.T) {
	const publishers, each = 8, 25
	ctx := t.Context()
	b := s.newBroker(t)
	msgs := make([]events.Message, publishers*each)
	for i := range msgs {
		msgs[i] = newMessage(t, QueueA)
	}
	errs := make(chan error, publishers)
	for p := range publishers {
		go func() {
			for _, m := range msgs[p*each : (p+1)*each] {
				if err := b.Publish(ctx, m); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range publishers {
		require.NoError(t, <-errs)
	}

	seen := map[string]bool{}
	for _, d := range fetchN(t, b, QueueA, len(msgs), 50) {
		require.False(t, seen[d.Message().ID], "delivered twice")
		seen[d.Message().ID] = true
		require.NoError(t, d.Ack(ctx))
	}
	for _, m := range msgs {
		require.True(t, seen[m.ID], "message %s lost", m.ID)
	}
}

func (s *suite) testQueuesIsolated(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	ma, mb := newMessage(t, QueueA), newMessage(t, QueueB)
	require.NoError(t, b.Publish(ctx, ma, mb))

	d := fetchN(t, b, QueueB, 1, 10)[0]
	require.Equal(t, mb, d.Message())
	require.NoError(t, d.Ack(ctx))
	// ma is waiting on QueueA all along and must never show up here.
	expectNothing(t, b, QueueB, b.AckWait())

	d = fetchN(t, b, QueueA, 1, 10)[0]
	require.Equal(t, ma, d.Message())
	require.NoError(t, d.Ack(ctx))
}

func (s *suite) testDedup(t *testing.T) {
	if s.opts.noDedup != "" {
		s.testNoDedup(t)
		return
	}
	ctx := t.Context()
	b := s.newBroker(t)
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	// A retried call, and the same message twice in one batch.
	require.NoError(t, b.Publish(ctx, m))
	require.NoError(t, b.Publish(ctx, m, m))

	d := fetchN(t, b, QueueA, 1, 10)[0]
	require.Equal(t, m, d.Message())
	require.NoError(t, d.Ack(ctx))
	expectNothing(t, b, QueueA, b.AckWait())
}

// testHandBack is a worker shutting down: it hands back what it fetched
// and another worker gets it at once instead of after AckWait.
func (s *suite) testHandBack(t *testing.T) {
	const n = 20
	ctx := t.Context()
	b := s.newBroker(t)
	aw := b.AckWait()
	msgs := make([]events.Message, n)
	for i := range msgs {
		msgs[i] = newMessage(t, QueueA)
	}
	require.NoError(t, b.Publish(ctx, msgs...))
	for _, d := range fetchN(t, b, QueueA, n, n) {
		require.NoError(t, d.Nak(ctx, 0))
	}
	handed := time.Now()

	other := Broker(b)
	if s.opts.newPeer != nil {
		other = s.opts.newPeer(t, b)
	} else {
		t.Log("no peer broker given: fetching the handed-back messages through the same broker")
	}
	seen := map[string]bool{}
	for len(seen) < n {
		left := aw - slack - time.Since(handed)
		require.Positive(t, left, "only %d of %d handed-back messages came back before AckWait", len(seen), n)
		ds, err := other.Fetch(ctx, QueueA, n, left)
		require.NoError(t, err)
		for _, d := range ds {
			// At least the fetch and this one. A broker whose consumer
			// polls ahead (SQS) may have received a handed-back message
			// once more in the background and handed it back again.
			require.GreaterOrEqual(t, d.NumDelivered(), 2)
			require.False(t, seen[d.Message().ID], "delivered twice")
			seen[d.Message().ID] = true
			require.NoError(t, d.Ack(ctx))
		}
	}
	for _, m := range msgs {
		require.True(t, seen[m.ID], "message %s not handed back", m.ID)
	}
}

func (s *suite) testFetchEmpty(t *testing.T) {
	b := s.newBroker(t)
	const wait = 400 * time.Millisecond
	start := time.Now()
	ds, err := b.Fetch(t.Context(), QueueA, 10, wait)
	elapsed := time.Since(start)
	require.NoError(t, err, "an empty queue is not an error")
	require.Empty(t, ds)
	require.GreaterOrEqual(t, elapsed, wait/2, "returned without waiting")
	require.Less(t, elapsed, wait+time.Second, "waited far longer than asked")
}

func (s *suite) testFetchCancel(t *testing.T) {
	b := s.newBroker(t)
	aw := b.AckWait()

	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	_, err := b.Fetch(done, QueueA, 10, time.Second)
	require.ErrorIs(t, err, context.Canceled, "a done ctx must fail at once")

	ctx, cancel := context.WithCancel(t.Context())
	timer := time.AfterFunc(200*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	ds, err := b.Fetch(ctx, QueueA, 10, 30*time.Second)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, ds)
	require.Less(t, time.Since(start), 2*time.Second, "fetch did not stop when ctx was cancelled")

	// The abandoned poll must not swallow the next message.
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(t.Context(), m))
	ds, err = b.Fetch(t.Context(), QueueA, 10, aw/2)
	require.NoError(t, err)
	require.Len(t, ds, 1, "message published after a cancelled fetch did not arrive before AckWait")
	require.Equal(t, m.ID, ds[0].Message().ID)
	require.Equal(t, 1, ds[0].NumDelivered())
	require.NoError(t, ds[0].Ack(t.Context()))
}

func (s *suite) testClosed(t *testing.T) {
	b := s.newBroker(t)
	require.NoError(t, b.Close())

	err := b.Publish(t.Context(), newMessage(t, QueueA))
	require.ErrorIs(t, err, events.ErrClosed, "publish after Close")
	_, err = b.Fetch(t.Context(), QueueA, 1, 100*time.Millisecond)
	require.ErrorIs(t, err, events.ErrClosed, "fetch after Close")
	// A second Close must not panic; its result is the broker's choice.
	_ = b.Close()
}

// testNoDedup is the de-duplication test of a broker that does not
// de-duplicate: every copy published is delivered, unchanged.
func (s *suite) testNoDedup(t *testing.T) {
	t.Logf("broker does not de-duplicate publishes (%s): every copy must arrive", s.opts.noDedup)
	ctx := t.Context()
	b := s.newBroker(t)
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	require.NoError(t, b.Publish(ctx, m, m))
	for _, d := range fetchN(t, b, QueueA, 3, 10) {
		require.Equal(t, m, d.Message())
		require.Equal(t, 1, d.NumDelivered(), "each copy is a message of its own")
		require.NoError(t, d.Ack(ctx))
	}
	expectNothing(t, b, QueueA, b.AckWait())
}

// testCrashedConsumer is a worker process that dies holding a delivery: its
// connection goes away without an ack or a nak, and another consumer gets
// the message once AckWait has passed, not before.
func (s *suite) testCrashedConsumer(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	aw := b.AckWait()
	other := Broker(b)
	if s.opts.newPeer != nil {
		other = s.opts.newPeer(t, b)
	} else {
		t.Log("no peer broker given: the crashed consumer's queue is read through the same broker")
	}
	m := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, m))
	fetched := time.Now()
	d := fetchN(t, b, QueueA, 1, 1)[0]
	require.Equal(t, m.ID, d.Message().ID)
	if other != b {
		// The crash: the connection is gone, the delivery never answered.
		_ = b.Close()
	}

	ds, err := other.Fetch(ctx, QueueA, 10, 3*aw)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the crashed consumer's message was not redelivered within 3×AckWait")
	require.GreaterOrEqual(t, time.Since(fetched), aw-slack, "redelivered before AckWait passed")
	require.Equal(t, m, ds[0].Message())
	require.Equal(t, 2, ds[0].NumDelivered())
	require.NoError(t, ds[0].Ack(ctx))
}

// testNakDelayNotBlocking: a message naked with a delay does not hold back
// messages published after it — the suite never assumes an order, and
// neither may Flask.
func (s *suite) testNakDelayNotBlocking(t *testing.T) {
	ctx := t.Context()
	b := s.newBroker(t)
	aw := b.AckWait()
	first := newMessage(t, QueueA)
	require.NoError(t, b.Publish(ctx, first))
	d := fetchN(t, b, QueueA, 1, 1)[0]
	require.NoError(t, d.Nak(ctx, 3*aw))
	naked := time.Now()

	later := make([]events.Message, 3)
	for i := range later {
		later[i] = newMessage(t, QueueA)
	}
	require.NoError(t, b.Publish(ctx, later...))
	got := map[string]bool{}
	for _, d := range fetchN(t, b, QueueA, len(later), 10) {
		require.NotEqual(t, first.ID, d.Message().ID, "the naked message came back before its delay")
		got[d.Message().ID] = true
		require.NoError(t, d.Ack(ctx))
	}
	require.Less(t, time.Since(naked), 3*aw, "later messages waited for the naked one")
	for _, m := range later {
		require.True(t, got[m.ID], "message %s missing", m.ID)
	}

	ds, err := b.Fetch(ctx, QueueA, 10, 5*aw)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, first.ID, ds[0].Message().ID)
	require.GreaterOrEqual(t, time.Since(naked), 3*aw-slack, "redelivered before the Nak delay")
	require.NoError(t, ds[0].Ack(ctx))
}

// testFetchMoreThanTen: with 40 messages waiting, a Fetch for 40 returns
// more than ten at a time (SQS receives at most ten per call, so a broker
// built on it must receive in parallel or loop).
func (s *suite) testFetchMoreThanTen(t *testing.T) {
	const n = 40
	ctx := t.Context()
	b := s.newBroker(t)
	msgs := make([]events.Message, n)
	for i := range msgs {
		msgs[i] = newMessage(t, QueueA)
	}
	require.NoError(t, b.Publish(ctx, msgs...))
	seen := map[string]bool{}
	biggest := 0
	deadline := time.Now().Add(longWait)
	for len(seen) < n {
		require.True(t, time.Now().Before(deadline), "got %d of %d messages", len(seen), n)
		ds, err := b.Fetch(ctx, QueueA, n-len(seen), longWait)
		require.NoError(t, err)
		require.LessOrEqual(t, len(ds), n-len(seen), "fetch returned more than max")
		biggest = max(biggest, len(ds))
		for _, d := range ds {
			require.False(t, seen[d.Message().ID], "delivered twice")
			seen[d.Message().ID] = true
			require.NoError(t, d.Ack(ctx))
		}
	}
	require.Greater(t, biggest, 10, "no fetch returned more than ten messages")
}

// testMixedQueueBatch publishes one batch of 30 messages over both queues
// (more than one SendMessageBatch per queue) and gets each on its own queue.
func (s *suite) testMixedQueueBatch(t *testing.T) {
	const n = 30
	ctx := t.Context()
	b := s.newBroker(t)
	msgs := make([]events.Message, n)
	want := map[string]map[string]events.Message{QueueA: {}, QueueB: {}}
	for i := range msgs {
		q := QueueA
		if i%3 == 0 {
			q = QueueB
		}
		msgs[i] = newMessage(t, q)
		want[q][msgs[i].ID] = msgs[i]
	}
	require.NoError(t, b.Publish(ctx, msgs...))
	for _, q := range []string{QueueA, QueueB} {
		for _, d := range fetchN(t, b, q, len(want[q]), n) {
			m, ok := want[q][d.Message().ID]
			require.True(t, ok, "message %s on queue %s is not one of its own", d.Message().ID, q)
			require.Equal(t, m, d.Message())
			delete(want[q], m.ID)
			require.NoError(t, d.Ack(ctx))
		}
		require.Empty(t, want[q])
	}
}
