package sqs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/events/eventstest"
	flasksqs "github.com/flaskhq/flask/events/sqs"
)

const region = "us-east-1"

// creds are what the emulator accepts: any.
var creds = credentials.NewStaticCredentialsProvider("test", "test", "")

// prefix returns a fresh queue prefix, so that tests sharing the emulator
// use their own queues.
func prefix(t testing.TB) string {
	var b [5]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "t" + hex.EncodeToString(b[:])
}

// testConfig is a config on the emulator with its own queues, created on
// use, and a short visibility timeout.
func testConfig(t testing.TB) flasksqs.Config {
	return flasksqs.Config{
		Region:            region,
		Endpoint:          eventstest.SQSEndpoint(t),
		Credentials:       creds,
		QueuePrefix:       prefix(t),
		CreateQueues:      true,
		VisibilityTimeout: 2 * time.Second,
	}
}

func newBroker(t testing.TB, cfg flasksqs.Config) *flasksqs.Broker {
	t.Helper()
	b, err := flasksqs.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// client is a plain SQS client on the emulator, to look behind the broker.
func client(t testing.TB) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       region,
		BaseEndpoint: aws.String(eventstest.SQSEndpoint(t)),
		Credentials:  creds,
	})
}

func TestConformance(t *testing.T) {
	var configs sync.Map // *flasksqs.Broker -> flasksqs.Config
	eventstest.Run(t,
		func(t *testing.T) eventstest.Broker {
			cfg := testConfig(t)
			b := newBroker(t, cfg)
			configs.Store(b, cfg)
			return b
		},
		eventstest.WithPeer(func(t *testing.T, b eventstest.Broker) eventstest.Broker {
			cfg, ok := configs.Load(b)
			require.True(t, ok)
			return newBroker(t, cfg.(flasksqs.Config))
		}),
		eventstest.WithoutDedup("SQS standard queues do not de-duplicate; FIFO queues would, at the cost of throughput and ordering Flask does not need"),
	)
}

// queueURL returns the URL of an SQS queue by name.
func queueURL(t *testing.T, c *sqs.Client, name string) string {
	t.Helper()
	out, err := c.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	require.NoError(t, err, "queue %s", name)
	return aws.ToString(out.QueueUrl)
}

// TestQueuesAsTerraformMakesThem checks the names and attributes of the
// queues the broker creates against deploy/terraform/modules/queues.
func TestQueuesAsTerraformMakesThem(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"emails"}
	cfg.MaxReceiveCount = 7
	cfg.VisibilityTimeout = 45 * time.Second
	newBroker(t, cfg)
	c := client(t)

	dlq := queueURL(t, c, cfg.QueuePrefix+"-emails-dlq")
	main := queueURL(t, c, cfg.QueuePrefix+"-emails")
	require.Equal(t, cfg.QueuePrefix+"-emails", flasksqs.QueueName(cfg.QueuePrefix, "emails"))
	require.Equal(t, cfg.QueuePrefix+"-emails-dlq", flasksqs.DeadLetterQueueName(cfg.QueuePrefix, "emails"))

	da, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	require.NoError(t, err)
	ma, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(main), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	require.NoError(t, err)
	require.Equal(t, "45", ma.Attributes["VisibilityTimeout"])
	require.Equal(t, "20", ma.Attributes["ReceiveMessageWaitTimeSeconds"])
	require.Equal(t, "345600", ma.Attributes["MessageRetentionPeriod"])
	require.Equal(t, "1209600", da.Attributes["MessageRetentionPeriod"])
	require.JSONEq(t, `{"deadLetterTargetArn":"`+da.Attributes["QueueArn"]+`","maxReceiveCount":7}`, ma.Attributes["RedrivePolicy"])
	require.NotContains(t, ma.Attributes, "FifoQueue", "standard queues only")
}

// TestMissingQueue: without CreateQueues a queue Terraform did not make is
// a loud error naming it — at New for configured queues, at Publish and
// Fetch for others — and nothing is created behind the operator's back.
func TestMissingQueue(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.CreateQueues = false
	cfg.Queues = []string{"default"}
	_, err := flasksqs.New(t.Context(), cfg, nil)
	require.ErrorIs(t, err, flasksqs.ErrNoQueue)
	require.ErrorContains(t, err, cfg.QueuePrefix+"-default")
	require.ErrorContains(t, err, "FLASK_SQS_CREATE_QUEUES")

	cfg.Queues = nil
	b := newBroker(t, cfg)
	err = b.Publish(t.Context(), events.Message{ID: "m", JobID: "j1", Queue: "reports", Type: "t"})
	require.ErrorIs(t, err, flasksqs.ErrNoQueue)
	require.ErrorContains(t, err, cfg.QueuePrefix+"-reports")
	_, err = b.Fetch(t.Context(), "reports", 1, 0)
	require.ErrorIs(t, err, flasksqs.ErrNoQueue)
	_, err = client(t).GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(cfg.QueuePrefix + "-reports")})
	var nq *types.QueueDoesNotExist
	require.ErrorAs(t, err, &nq, "the broker must not create queues unless told to")

	// Once Terraform made it, the same broker publishes to it.
	creator := cfg
	creator.CreateQueues = true
	creator.Queues = []string{"reports"}
	newBroker(t, creator)
	require.NoError(t, b.Publish(t.Context(), events.Message{ID: "m", JobID: "j1", Queue: "reports", Type: "t"}))
}

// TestPartialBatchFailure: one queue of a batch is missing, the other's
// messages are still sent, and the error counts the failed ones.
func TestPartialBatchFailure(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"good"}
	newBroker(t, cfg)
	cfg.CreateQueues = false
	b := newBroker(t, cfg)
	var msgs []events.Message
	for i := range 12 {
		q := "good"
		if i%4 == 0 {
			q = "missing"
		}
		msgs = append(msgs, events.Message{ID: prefix(t), JobID: prefix(t), Queue: q, Type: "t"})
	}
	err := b.Publish(t.Context(), msgs...)
	require.ErrorContains(t, err, "3 of 12 messages not accepted")
	require.ErrorIs(t, err, flasksqs.ErrNoQueue)
	ds, err := b.Fetch(t.Context(), "good", 20, 5*time.Second)
	require.NoError(t, err)
	n := len(ds)
	for n < 9 {
		more, err := b.Fetch(t.Context(), "good", 20, 5*time.Second)
		require.NoError(t, err)
		require.NotEmpty(t, more)
		n += len(more)
	}
	require.Equal(t, 9, n)
}

// TestAttributes checks what generic SQS tooling sees: the job id, type and
// trace context as message attributes, the reference as the body.
func TestAttributes(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	b := newBroker(t, cfg)
	m := events.Message{ID: "m1", JobID: "job-1", Queue: "q", Type: "email.send", Trace: map[string]string{
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=b", "baggage": "k=v",
	}}
	require.NoError(t, b.Publish(t.Context(), m))
	c := client(t)
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL(t, c, cfg.QueuePrefix+"-q")), WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
	})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	got := map[string]string{}
	for k, v := range out.Messages[0].MessageAttributes {
		got[k] = aws.ToString(v.StringValue)
	}
	require.Equal(t, map[string]string{
		"Flask-Job-Id": "job-1", "Flask-Job-Type": "email.send",
		"traceparent": m.Trace["traceparent"], "tracestate": "a=b",
	}, got)
	require.JSONEq(t, `{"id":"m1","job_id":"job-1","queue":"q","type":"email.send","trace":{"traceparent":"`+m.Trace["traceparent"]+`","tracestate":"a=b","baggage":"k=v"}}`,
		aws.ToString(out.Messages[0].Body))
}

// TestDeadLetterAfterMaxReceives: a message received MaxReceiveCount times
// without an ack (a job that keeps crashing its workers) ends up in the
// dead-letter queue, where an operator sees it.
func TestDeadLetterAfterMaxReceives(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	cfg.MaxReceiveCount = 2
	b := newBroker(t, cfg)
	m := events.Message{ID: "m1", JobID: "j1", Queue: "q", Type: "t"}
	require.NoError(t, b.Publish(t.Context(), m))
	for i := 1; i <= 2; i++ {
		ds, err := b.Fetch(t.Context(), "q", 1, 5*time.Second)
		require.NoError(t, err)
		require.Len(t, ds, 1)
		require.Equal(t, i, ds[0].NumDelivered())
		require.NoError(t, ds[0].Nak(t.Context(), 0)) // the crash, without waiting for it
	}
	ds, err := b.Fetch(t.Context(), "q", 1, time.Second)
	require.NoError(t, err)
	require.Empty(t, ds, "a third receive goes to the dead-letter queue instead")

	c := client(t)
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL(t, c, cfg.QueuePrefix+"-q-dlq")), WaitTimeSeconds: 5,
	})
	require.NoError(t, err)
	require.Len(t, out.Messages, 1)
	require.Contains(t, aws.ToString(out.Messages[0].Body), `"job_id":"j1"`)
}

// TestNakDelayRoundsUp: SQS visibility is in whole seconds; a sub-second
// delay must not become 0 (a busy loop) but 1s.
func TestNakDelayRoundsUp(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	b := newBroker(t, cfg)
	require.NoError(t, b.Publish(t.Context(), events.Message{ID: "m", JobID: "j", Queue: "q", Type: "t"}))
	ds, err := b.Fetch(t.Context(), "q", 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	naked := time.Now()
	require.NoError(t, ds[0].Nak(t.Context(), 100*time.Millisecond))
	ds, err = b.Fetch(t.Context(), "q", 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.GreaterOrEqual(t, time.Since(naked), 900*time.Millisecond)
	require.NoError(t, ds[0].Ack(t.Context()))
}

// TestCloseHandsBackBuffered: a receive whose Fetch has gone keeps what it
// got for the next Fetch; Close makes such messages visible again at once,
// so another worker gets them without waiting for the visibility timeout.
func TestCloseHandsBackBuffered(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	cfg.VisibilityTimeout = 30 * time.Second
	a := newBroker(t, cfg)
	// A fetch that gives up after 50ms leaves a receive of 1s behind.
	ds, err := a.Fetch(t.Context(), "q", 10, 50*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, ds)
	m := events.Message{ID: "m", JobID: "j", Queue: "q", Type: "t"}
	require.NoError(t, a.Publish(t.Context(), m))
	require.NoError(t, a.Close())

	b := newBroker(t, cfg)
	start := time.Now()
	ds, err = b.Fetch(t.Context(), "q", 10, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the message received for nobody was not handed back")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, m, ds[0].Message())
	require.NoError(t, ds[0].Ack(t.Context()))
}

func TestPing(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	b := newBroker(t, cfg)
	require.NoError(t, b.Ping(t.Context()))

	// A server that does not answer.
	bad := cfg
	bad.Endpoint = "http://127.0.0.1:1"
	bad.Queues = nil
	nb := newBroker(t, bad)
	require.NoError(t, nb.Ping(t.Context()), "no queue known: nothing to check")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	require.Error(t, nb.Publish(ctx, events.Message{ID: "m", JobID: "j", Queue: "q", Type: "t"}))
	require.Error(t, nb.Ping(ctx), "a queue is known now and SQS does not answer")

	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Ping(t.Context()), events.ErrClosed)
	require.NoError(t, b.Close(), "a second Close returns the first one's result")
}

func TestPublishRejectsBadInput(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	b := newBroker(t, cfg)
	ctx := t.Context()
	for _, q := range []string{"", "a.b", "a b", "a/b", strings.Repeat("x", 80)} {
		err := b.Publish(ctx, events.Message{ID: "m", JobID: "j", Queue: q, Type: "t"})
		require.ErrorContains(t, err, "invalid queue name", "queue %q", q)
		_, err = b.Fetch(ctx, q, 1, 0)
		require.ErrorContains(t, err, "invalid queue name", "queue %q", q)
	}
	good := events.Message{ID: "m", JobID: "j", Queue: "q", Type: "t"}
	err := b.Publish(ctx, good, events.Message{ID: "x", JobID: "bad", Queue: "no.dots"})
	require.ErrorContains(t, err, "publish job bad")
	ds, err := b.Fetch(ctx, "q", 10, 200*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, ds, "a bad message in a batch publishes nothing")
	_, err = b.Fetch(ctx, "q", 0, time.Second)
	require.ErrorContains(t, err, "max 0 must be positive")
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  flasksqs.Config
		want string
	}{
		{flasksqs.Config{}, "Region is required"},
		{flasksqs.Config{Region: region, QueuePrefix: "a.b"}, "QueuePrefix"},
		{flasksqs.Config{Region: region, QueuePrefix: strings.Repeat("p", 41)}, "QueuePrefix"},
		{flasksqs.Config{Region: region, VisibilityTimeout: 1500 * time.Millisecond}, "VisibilityTimeout"},
		{flasksqs.Config{Region: region, VisibilityTimeout: 13 * time.Hour}, "VisibilityTimeout"},
		{flasksqs.Config{Region: region, MaxReceiveCount: 1001}, "MaxReceiveCount"},
		{flasksqs.Config{Region: region, Endpoint: "127.0.0.1:4566"}, "Endpoint"},
		{flasksqs.Config{Region: region, Queues: []string{"Bad Queue"}}, "invalid queue name"},
	} {
		_, err := flasksqs.New(t.Context(), tc.cfg, nil)
		require.ErrorContains(t, err, tc.want)
	}
}

// TestFetchAfterClose: Close ends a long poll with ErrClosed.
func TestCloseDuringFetch(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	b := newBroker(t, cfg)
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := b.Fetch(context.Background(), "q", 10, 30*time.Second)
		errc <- err
	}()
	<-started
	require.NoError(t, b.Close())
	select {
	case err := <-errc:
		require.True(t, errors.Is(err, events.ErrClosed), "got %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("fetch still running after Close")
	}
}

// TestFetchNoWait: wait 0 is a receive that does not wait, although the
// queue's own ReceiveMessageWaitTimeSeconds (20s, as Terraform and
// CreateQueues set it) would make a receive without WaitTimeSeconds a long
// poll.
func TestFetchNoWait(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	b := newBroker(t, cfg)
	start := time.Now()
	ds, err := b.Fetch(t.Context(), "q", 10, 0)
	require.NoError(t, err)
	require.Empty(t, ds)
	require.Less(t, time.Since(start), 2*time.Second, "Fetch with wait 0 long-polled")

	m := events.Message{ID: "m", JobID: "j", Queue: "q", Type: "t"}
	require.NoError(t, b.Publish(t.Context(), m))
	ds, err = b.Fetch(t.Context(), "q", 10, 0)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, m, ds[0].Message())
	require.NoError(t, ds[0].Ack(t.Context()))
}

// TestFetchNoWaitBehindBackgroundPoll: a Fetch with wait 0 does not wait,
// even when the long poll of an earlier, cancelled Fetch is still running
// and already asks for as many messages.
func TestFetchNoWaitBehindBackgroundPoll(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	b := newBroker(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := b.Fetch(ctx, "q", 10, 20*time.Second) // leaves a 20s receive behind
	require.ErrorIs(t, err, context.DeadlineExceeded)

	start := time.Now()
	ds, err := b.Fetch(t.Context(), "q", 10, 0)
	require.NoError(t, err)
	require.Empty(t, ds)
	require.Less(t, time.Since(start), 2*time.Second, "Fetch with wait 0 waited for another Fetch's long poll")
}

// TestCloseWhileFetching: Close while Fetches keep starting receives. A
// receive started after Close began waiting for them made sync.WaitGroup
// panic ("reused before previous Wait has returned") or run unwaited.
func TestCloseWhileFetching(t *testing.T) {
	t.Parallel()
	for range 20 {
		cfg := testConfig(t)
		cfg.Queues = []string{"q"}
		b := newBroker(t, cfg)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := b.Fetch(t.Context(), "q", 10, 0); err != nil {
						assert.ErrorIs(t, err, events.ErrClosed)
						return
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond) // let the Fetches run: any moment will do
		require.NoError(t, b.Close())
		wg.Wait()
	}
}

// TestCloseAwaitsBackgroundHandBack: a received message no Fetch took in
// time is handed back in the background; Close returns only once that is
// done, so that a worker exiting right after Close leaves it visible, not
// leased for nobody until the visibility timeout.
func TestCloseAwaitsBackgroundHandBack(t *testing.T) {
	t.Parallel()
	target, err := url.Parse(eventstest.SQSEndpoint(t))
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	handingBack := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".ChangeMessageVisibilityBatch") {
			select {
			case handingBack <- struct{}{}:
			default:
			}
			time.Sleep(500 * time.Millisecond) // a slow SQS
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	cfg.VisibilityTimeout = 3 * time.Second // buffered messages go back after 1s
	direct := newBroker(t, cfg)
	cfg.Endpoint = srv.URL
	b := newBroker(t, cfg)
	// A fetch that gives up at once leaves a receive of 1s behind; the
	// message lands in it and no Fetch comes for it.
	ds, err := b.Fetch(t.Context(), "q", 10, 10*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, ds)
	m := events.Message{ID: "m", JobID: "j", Queue: "q", Type: "t"}
	require.NoError(t, direct.Publish(t.Context(), m))
	select {
	case <-handingBack:
	case <-time.After(10 * time.Second):
		t.Fatal("the unclaimed message was never handed back")
	}
	require.NoError(t, b.Close())

	// Visible again the moment Close returned: a receive that does not wait
	// gets it.
	ds, err = direct.Fetch(t.Context(), "q", 10, 0)
	require.NoError(t, err)
	require.Len(t, ds, 1, "Close returned before the background hand-back was done")
	require.Equal(t, m, ds[0].Message())
	require.NoError(t, ds[0].Ack(t.Context()))
}

// TestAcksWaitWhenDeletesLag: with SQS slow to delete, Acks stop returning
// once the bounded backlog of delete batches is full, instead of piling up
// in memory; when SQS catches up every Ack completes and every message is
// gone.
func TestAcksWaitWhenDeletesLag(t *testing.T) {
	t.Parallel()
	target, err := url.Parse(eventstest.SQSEndpoint(t))
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	release := make(chan struct{})
	var deletes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".DeleteMessageBatch") {
			deletes.Add(1)
			<-release // SQS stalls
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // runs before srv.Close, also when the test fails

	cfg := testConfig(t)
	cfg.Queues = []string{"q"}
	cfg.VisibilityTimeout = time.Minute
	direct := newBroker(t, cfg)
	cfg.Endpoint = srv.URL
	cfg.PublishConcurrency = 1 // one delete call; four batches (40 messages) may wait
	b := newBroker(t, cfg)

	const n = 100
	msgs := make([]events.Message, n)
	for i := range msgs {
		msgs[i] = events.Message{ID: fmt.Sprint("m", i), JobID: fmt.Sprint("j", i), Queue: "q", Type: "t"}
	}
	require.NoError(t, direct.Publish(t.Context(), msgs...))
	var ds []events.Delivery
	for len(ds) < n {
		got, err := b.Fetch(t.Context(), "q", n-len(ds), 5*time.Second)
		require.NoError(t, err)
		require.NotEmpty(t, got, "only %d of %d messages received", len(ds), n)
		ds = append(ds, got...)
	}

	var acked atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, d := range ds {
			if err := d.Ack(context.Background()); err != nil {
				t.Errorf("ack: %v", err)
				return
			}
			acked.Add(1)
		}
	}()
	require.Eventually(t, func() bool { return deletes.Load() == 1 }, 5*time.Second, 10*time.Millisecond, "the first delete call reaches SQS")
	select {
	case <-done:
		t.Fatal("every Ack returned while SQS deleted nothing: the deletes piled up in memory")
	case <-time.After(500 * time.Millisecond):
	}
	require.LessOrEqual(t, acked.Load(), int32(5*10), "at most four batches sent or waiting, and a fifth filling up")
	require.Equal(t, int32(1), deletes.Load(), "one delete call at a time")

	unblock()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Acks still blocked after SQS caught up")
	}
	require.Equal(t, int32(n), acked.Load())
	require.NoError(t, b.Close(), "Close waits for the deletes")
	sc := client(t)
	qurl, err := sc.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(cfg.QueuePrefix + "-q")})
	require.NoError(t, err)
	attrs, err := sc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: qurl.QueueUrl,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	require.NoError(t, err)
	require.Equal(t, "0", attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	require.Equal(t, "0", attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)], "every acked message was deleted")
}
