package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/flaskhq/flask/events"
)

// Message attribute names set on every published message.
const (
	AttrJobID   = "Flask-Job-Id"
	AttrJobType = "Flask-Job-Type"
)

// traceAttrs are the trace entries also copied to message attributes (SQS
// allows ten attributes; every trace entry travels in the body).
var traceAttrs = []string{"traceparent", "tracestate"}

// ErrNoQueue is returned when a Flask queue has no SQS queue and the broker
// may not create it. The error names the missing SQS queue.
var ErrNoQueue = errors.New("sqs queue does not exist")

// closePollWait bounds how long Close waits for receives in flight before
// it abandons them.
const closePollWait = 2 * time.Second

// Broker publishes and consumes Flask messages on AWS SQS, one standard
// queue per Flask queue. It is safe for concurrent use. It implements
// events.Publisher, events.Consumer and events.Pinger.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	client *sqs.Client

	mu     sync.Mutex
	queues map[string]*queue

	sendSlots chan struct{} // PublishConcurrency
	deletes   *deleter

	closed      atomic.Bool
	closeCtx    context.Context // done when Close starts
	closeCancel context.CancelFunc
	pollCtx     context.Context // done when Close gives up on receives
	pollCancel  context.CancelFunc
	polls       sync.WaitGroup
	handBacks   sync.WaitGroup // handBackLater's
	closeOnce   sync.Once
	closeErr    error
}

var (
	_ events.Publisher = (*Broker)(nil)
	_ events.Consumer  = (*Broker)(nil)
	_ events.Pinger    = (*Broker)(nil)
)

// queue is one Flask queue's SQS queue and what is received from it.
type queue struct {
	name    string // Flask's
	sqsName string

	resolveMu sync.Mutex
	url       atomic.Pointer[string]

	// Guarded by mu: deliveries received and not yet handed to a Fetch,
	// the receives in flight and how many messages they ask for.
	mu       sync.Mutex
	buf      []*delivery
	polls    int
	pollWant int
	changed  chan struct{} // closed and replaced when any of the above changes
}

// New builds a broker for the queues in cfg: it loads the AWS
// configuration (credentials through the SDK's default chain unless
// cfg.Credentials is set) and resolves cfg.Queues, creating them when
// cfg.CreateQueues is set. A nil log discards logs.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sqs config: %w", err)
	}
	log = log.With("component", "sqs")

	// Enough idle connections for every receive, send and delete that may
	// run at once; the SDK's default keeps ten per host.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 128
	})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithHTTPClient(httpClient),
	}
	if cfg.Credentials != nil {
		opts = append(opts, awsconfig.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	client := sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})

	b := &Broker{
		cfg:       cfg,
		log:       log,
		client:    client,
		queues:    make(map[string]*queue),
		sendSlots: make(chan struct{}, cfg.PublishConcurrency),
	}
	b.closeCtx, b.closeCancel = context.WithCancel(context.Background())
	b.pollCtx, b.pollCancel = context.WithCancel(context.Background())
	b.deletes = newDeleter(b)
	for _, name := range cfg.Queues {
		if _, err := b.resolve(ctx, b.queue(name)); err != nil {
			b.closeCancel()
			b.pollCancel()
			return nil, err
		}
	}
	log.Info("sqs broker ready", "config", cfg)
	return b, nil
}

// AckWait returns the visibility timeout set on every receive.
func (b *Broker) AckWait() time.Duration {
	return b.cfg.VisibilityTimeout
}

// queue returns the state of Flask queue name, creating it on first use.
func (b *Broker) queue(name string) *queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[name]
	if q == nil {
		q = &queue{name: name, sqsName: QueueName(b.cfg.QueuePrefix, name), changed: make(chan struct{})}
		b.queues[name] = q
	}
	return q
}

// resolve returns the URL of q's SQS queue, looking it up (and creating it
// with CreateQueues) on first use.
func (b *Broker) resolve(ctx context.Context, q *queue) (string, error) {
	if u := q.url.Load(); u != nil {
		return *u, nil
	}
	q.resolveMu.Lock()
	defer q.resolveMu.Unlock()
	if u := q.url.Load(); u != nil {
		return *u, nil
	}
	out, err := b.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(q.sqsName)})
	var u string
	switch {
	case err == nil:
		u = aws.ToString(out.QueueUrl)
	case isNoQueue(err) && b.cfg.CreateQueues:
		if u, err = b.create(ctx, q); err != nil {
			return "", err
		}
	case isNoQueue(err):
		b.log.Error("sqs queue missing: jobs of this queue stay in the outbox until it exists",
			"queue", q.name, "sqs_queue", q.sqsName)
		return "", fmt.Errorf("queue %s: %w: %s (create it with Terraform, modules/queues var.queues, or set FLASK_SQS_CREATE_QUEUES=true in dev and tests)",
			q.name, ErrNoQueue, q.sqsName)
	default:
		return "", fmt.Errorf("queue %s: get url of sqs queue %s: %w", q.name, q.sqsName, err)
	}
	q.url.Store(&u)
	return u, nil
}

// forget drops q's cached URL after SQS said the queue does not exist, so
// that the next call looks it up (or creates it) again.
func (b *Broker) forget(q *queue, url string) {
	if p := q.url.Load(); p != nil && *p == url {
		q.url.CompareAndSwap(p, nil)
	}
}

// create makes q's dead-letter queue and then q with a redrive policy into
// it, with the attributes Terraform's modules/queues sets by default. A
// queue that exists with other attributes is used as it is.
func (b *Broker) create(ctx context.Context, q *queue) (string, error) {
	dlqName := q.sqsName + dlqSuffix
	dlqURL, err := b.createQueue(ctx, dlqName, map[string]string{
		string(types.QueueAttributeNameMessageRetentionPeriod): "1209600",
	})
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", q.name, err)
	}
	attrs, err := b.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(dlqURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("queue %s: read arn of %s: %w", q.name, dlqName, err)
	}
	redrive, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": attrs.Attributes[string(types.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     b.cfg.MaxReceiveCount,
	})
	if err != nil {
		return "", err
	}
	u, err := b.createQueue(ctx, q.sqsName, map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout):             strconv.Itoa(int(b.cfg.VisibilityTimeout / time.Second)),
		string(types.QueueAttributeNameMessageRetentionPeriod):        "345600",
		string(types.QueueAttributeNameReceiveMessageWaitTimeSeconds): strconv.Itoa(maxWaitSeconds),
		string(types.QueueAttributeNameRedrivePolicy):                 string(redrive),
	})
	if err != nil {
		return "", fmt.Errorf("queue %s: %w", q.name, err)
	}
	b.log.Info("sqs queue created", "queue", q.name, "sqs_queue", q.sqsName, "dead_letter_queue", dlqName,
		"max_receive_count", b.cfg.MaxReceiveCount)
	return u, nil
}

// createQueue creates a standard queue, or returns the URL of the queue of
// that name if it exists with other attributes.
func (b *Broker) createQueue(ctx context.Context, name string, attrs map[string]string) (string, error) {
	out, err := b.client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err == nil {
		return aws.ToString(out.QueueUrl), nil
	}
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		return "", fmt.Errorf("create sqs queue %s: %w", name, err)
	}
	got, gerr := b.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if gerr != nil {
		return "", fmt.Errorf("create sqs queue %s: %w", name, errors.Join(err, gerr))
	}
	b.log.Warn("sqs queue exists with other attributes; using it as it is", "sqs_queue", name)
	return aws.ToString(got.QueueUrl), nil
}

// isNoQueue reports whether err says the queue does not exist.
func isNoQueue(err error) bool {
	var nq *types.QueueDoesNotExist
	return errors.As(err, &nq)
}

// wireMessage is the JSON body of a message.
type wireMessage struct {
	ID    string            `json:"id"`
	JobID string            `json:"job_id"`
	Queue string            `json:"queue"`
	Type  string            `json:"type"`
	Trace map[string]string `json:"trace,omitempty"`
}

// encode builds the batch entry of m, with id as its batch-local id.
func encode(m *events.Message, id int) (types.SendMessageBatchRequestEntry, error) {
	body, err := json.Marshal(wireMessage{ID: m.ID, JobID: m.JobID, Queue: m.Queue, Type: m.Type, Trace: m.Trace})
	if err != nil {
		return types.SendMessageBatchRequestEntry{}, err
	}
	attrs := make(map[string]types.MessageAttributeValue, 4)
	// SQS refuses empty attribute values: leave those out.
	setAttr(attrs, AttrJobID, m.JobID)
	setAttr(attrs, AttrJobType, m.Type)
	for _, k := range traceAttrs {
		setAttr(attrs, k, m.Trace[k])
	}
	return types.SendMessageBatchRequestEntry{
		Id:                aws.String(strconv.Itoa(id)),
		MessageBody:       aws.String(string(body)),
		MessageAttributes: attrs,
	}, nil
}

// setAttr sets a string attribute when v is one SQS accepts: printable
// ASCII, not empty, at most 1 KiB. The body carries v either way.
func setAttr(attrs map[string]types.MessageAttributeValue, k, v string) {
	if v == "" || len(v) > 1024 {
		return
	}
	for i := 0; i < len(v); i++ {
		if v[i] < ' ' || v[i] > '~' {
			return
		}
	}
	attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// Publish puts msgs on their queues and returns once SQS has accepted every
// one of them. Messages are sent in SendMessageBatch calls of ten per
// queue, up to PublishConcurrency at once. On error some messages may have
// been accepted: publish them all again. SQS standard queues do not
// de-duplicate, so a message published twice is delivered twice, which
// Flask's workers make harmless. Invalid queue names fail the whole call
// before anything is sent; a queue without an SQS queue (see ErrNoQueue)
// fails its messages and not the others'.
func (b *Broker) Publish(ctx context.Context, msgs ...events.Message) error {
	if b.closed.Load() {
		return fmt.Errorf("publish: %w", events.ErrClosed)
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish %d messages: %w", len(msgs), err)
	}

	// Encode everything first so that a bad message publishes nothing.
	type batch struct {
		q       *queue
		entries []types.SendMessageBatchRequestEntry
		jobs    []string
	}
	var batches []*batch
	open := map[string]*batch{}
	for i := range msgs {
		m := &msgs[i]
		if err := b.cfg.checkQueue(m.Queue); err != nil {
			return fmt.Errorf("publish job %s: %w", m.JobID, err)
		}
		bt := open[m.Queue]
		if bt == nil || len(bt.entries) == maxBatch {
			bt = &batch{q: b.queue(m.Queue)}
			open[m.Queue] = bt
			batches = append(batches, bt)
		}
		e, err := encode(m, len(bt.entries))
		if err != nil {
			return fmt.Errorf("publish job %s: %w", m.JobID, err)
		}
		bt.entries = append(bt.entries, e)
		bt.jobs = append(bt.jobs, m.JobID)
	}

	var (
		mu       sync.Mutex
		failed   int
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(n int, err error) {
		mu.Lock()
		failed += n
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for _, bt := range batches {
		select {
		case b.sendSlots <- struct{}{}:
		case <-ctx.Done():
			fail(len(bt.entries), ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-b.sendSlots }()
			if n, err := b.send(ctx, bt.q, bt.entries, bt.jobs); err != nil {
				fail(n, err)
			}
		}()
	}
	wg.Wait()
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("publish: %d of %d messages not accepted: %w", failed, len(msgs), firstErr)
}

// send makes one SendMessageBatch call and returns how many entries failed.
func (b *Broker) send(ctx context.Context, q *queue, entries []types.SendMessageBatchRequestEntry, jobs []string) (int, error) {
	url, err := b.resolve(ctx, q)
	if err != nil {
		return len(entries), err
	}
	out, err := b.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		if isNoQueue(err) {
			b.forget(q, url)
		}
		return len(entries), fmt.Errorf("queue %s: send to %s: %w", q.name, q.sqsName, err)
	}
	if len(out.Failed) == 0 {
		return 0, nil
	}
	f := out.Failed[0]
	job := "?"
	if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(jobs) {
		job = jobs[i]
	}
	return len(out.Failed), fmt.Errorf("queue %s: job %s: %s: %s", q.name, job, aws.ToString(f.Code), aws.ToString(f.Message))
}

// Ping checks that SQS answers and the credentials are accepted, by looking
// up the first of Config.Queues (or of the queues used so far). With no
// queue known it only checks that the broker is open.
func (b *Broker) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("ping sqs: %w", events.ErrClosed)
	}
	name := ""
	if len(b.cfg.Queues) > 0 {
		name = b.cfg.Queues[0]
	} else {
		b.mu.Lock()
		for n := range b.queues {
			name = n
			break
		}
		b.mu.Unlock()
	}
	if name == "" {
		return nil
	}
	sqsName := QueueName(b.cfg.QueuePrefix, name)
	if _, err := b.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(sqsName)}); err != nil {
		return fmt.Errorf("ping sqs: get url of %s: %w", sqsName, err)
	}
	return nil
}

// Close stops the broker: pending Fetch calls return events.ErrClosed,
// receives in flight are awaited for up to 2s (then abandoned: what they
// received comes back after the visibility timeout), every received
// message not handed to a Fetch is made visible again at once, and pending
// acks are sent. Publish, Fetch and Ping return events.ErrClosed
// afterwards. Closing again returns the first Close's result.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.closeCancel()
		// A Fetch starts receives (b.polls.Add) under its queue's mu once
		// it has seen the broker open: passing through every mu after
		// closed is set orders those Adds before the Wait below, and no
		// receive starts after it. Queues made later see closed.
		b.mu.Lock()
		queues := make([]*queue, 0, len(b.queues))
		for _, q := range b.queues {
			queues = append(queues, q)
		}
		b.mu.Unlock()
		for _, q := range queues {
			q.mu.Lock()
			//lint:ignore SA2001 an empty critical section is the point: see above.
			q.mu.Unlock()
		}

		done := make(chan struct{})
		go func() { b.polls.Wait(); close(done) }()
		t := time.NewTimer(closePollWait)
		select {
		case <-done:
		case <-t.C:
			b.log.Warn("receives still in flight at close are abandoned; what they receive returns after the visibility timeout")
			b.pollCancel()
			<-done
		}
		t.Stop()
		b.pollCancel()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var errs []error
		for _, q := range queues {
			q.mu.Lock()
			buf := q.buf
			q.buf = nil
			q.mu.Unlock()
			if err := b.handBack(ctx, buf); err != nil {
				errs = append(errs, err)
			}
		}
		// Hand-backs of buffered messages started before the buffers
		// were emptied; none starts after.
		handedBack := make(chan struct{})
		go func() { b.handBacks.Wait(); close(handedBack) }()
		select {
		case <-handedBack:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("hand-backs still in flight at close: %w", ctx.Err()))
		}
		if err := b.deletes.close(ctx); err != nil {
			errs = append(errs, err)
		}
		b.closeErr = errors.Join(errs...)
	})
	return b.closeErr
}
