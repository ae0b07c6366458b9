package nats

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flaskhq/flask/events"
)

// Header names set on every published message.
const (
	HeaderJobID   = "Flask-Job-Id"
	HeaderJobType = "Flask-Job-Type"
)

// closeTimeout bounds how long Close waits for the connection to drain.
const closeTimeout = 10 * time.Second

// Broker publishes and consumes Flask messages on NATS JetStream. It is
// safe for concurrent use. It implements events.Publisher, events.Consumer
// and events.Pinger.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	nc     *natsgo.Conn
	js     jetstream.JetStream
	stream string

	// stallOpt is the publish option that bounds waiting for room under
	// MaxPendingPublishes when the caller's ctx has no deadline.
	stallOpt jetstream.PublishOpt

	mu        sync.Mutex
	consumers map[string]*consumerEntry
	// announced holds the queues whose consumer this publisher has made
	// sure exists (see Publish).
	announced sync.Map

	closed      atomic.Bool
	closeCtx    context.Context // done when Close starts
	closeCancel context.CancelFunc
	closeDone   chan struct{} // closed when Close has finished
	closeErr    error
}

var (
	_ events.Publisher = (*Broker)(nil)
	_ events.Consumer  = (*Broker)(nil)
	_ events.Pinger    = (*Broker)(nil)
)

// New connects to NATS and creates or updates the stream described by cfg.
// Consumers are created per queue on first Fetch, or on first Publish if no
// worker created them yet. A nil log discards logs.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("nats config: %w", err)
	}
	log = log.With("component", "nats")

	opts, err := cfg.connOptions(log)
	if err != nil {
		return nil, err
	}
	nc, err := natsgo.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", maskURL(cfg.URL), err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPendingPublishes),
		jetstream.WithPublishAsyncTimeout(cfg.PublishTimeout),
	)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open jetstream: %w", err)
	}

	b := &Broker{
		cfg:       cfg,
		log:       log,
		nc:        nc,
		js:        js,
		stream:    cfg.Stream,
		stallOpt:  jetstream.WithStallWait(cfg.PublishTimeout),
		consumers: make(map[string]*consumerEntry),
		closeDone: make(chan struct{}),
	}
	b.closeCtx, b.closeCancel = context.WithCancel(context.Background())
	if err := b.ensureStream(ctx); err != nil {
		b.closeCancel()
		nc.Close()
		return nil, err
	}
	log.Info("nats broker ready", "config", cfg, "server", nc.ConnectedUrlRedacted())
	return b, nil
}

// streamConfig is the stream layout. Flask's store is the source of truth
// for jobs, so the stream has no age or delivery limits of its own: a
// message stays until its job is done and the worker acks it.
func (b *Broker) streamConfig() jetstream.StreamConfig {
	maxBytes := int64(-1)
	if b.cfg.MaxBytes > 0 {
		maxBytes = b.cfg.MaxBytes
	}
	maxMsgSize := int32(-1)
	if b.cfg.MaxMsgSize > 0 {
		maxMsgSize = b.cfg.MaxMsgSize
	}
	return jetstream.StreamConfig{
		Name:        b.cfg.Stream,
		Description: "Flask job references, one subject per queue",
		Subjects:    []string{b.cfg.SubjectPrefix + ".>"},
		// Work-queue retention deletes a message once acked: the stream
		// holds only jobs waiting or running.
		Retention: jetstream.WorkQueuePolicy,
		Storage:   jetstream.FileStorage,
		Replicas:  b.cfg.Replicas,
		// Duplicates lets a publisher retry a batch after an error
		// without creating second deliveries.
		Duplicates: b.cfg.DuplicateWindow,
		MaxMsgs:    -1,
		MaxBytes:   maxBytes,
		MaxMsgSize: maxMsgSize,
		MaxAge:     0,
		// Discard old: when MaxBytes is reached the oldest references go
		// (their jobs are still in the store and get republished) rather
		// than rejecting new jobs at the API.
		Discard: jetstream.DiscardOld,
	}
}

func (b *Broker) ensureStream(ctx context.Context) error {
	if _, err := b.js.CreateOrUpdateStream(ctx, b.streamConfig()); err != nil {
		return fmt.Errorf("create or update stream %s: %w", b.cfg.Stream, err)
	}
	return nil
}

// subject is the subject of queue.
func (b *Broker) subject(queue string) string {
	return b.cfg.SubjectPrefix + "." + queue
}

// AckWait returns the configured lease of a delivery.
func (b *Broker) AckWait() time.Duration {
	return b.cfg.AckWait
}

// wireMessage is the JSON body of a published message.
type wireMessage struct {
	ID    string            `json:"id"`
	JobID string            `json:"job_id"`
	Queue string            `json:"queue"`
	Type  string            `json:"type"`
	Trace map[string]string `json:"trace,omitempty"`
}

// encode builds the NATS message for m.
func (b *Broker) encode(m *events.Message) (*natsgo.Msg, error) {
	if err := validQueue(m.Queue); err != nil {
		return nil, err
	}
	data, err := json.Marshal(wireMessage{ID: m.ID, JobID: m.JobID, Queue: m.Queue, Type: m.Type, Trace: m.Trace})
	if err != nil {
		return nil, err
	}
	h := make(natsgo.Header, 3+len(m.Trace))
	if m.ID != "" {
		h[jetstream.MsgIDHeader] = []string{m.ID}
	}
	h[HeaderJobID] = []string{m.JobID}
	h[HeaderJobType] = []string{m.Type}
	for k, v := range m.Trace {
		// The body carries every trace entry; headers are a copy for
		// tooling, so names the wire cannot carry or that would clash
		// with ours are left out of them.
		if traceHeaderOK(k) {
			h[k] = []string{v}
		}
	}
	return &natsgo.Msg{Subject: b.subject(m.Queue), Header: h, Data: data}, nil
}

// traceHeaderOK reports whether a trace key can be copied to a header.
func traceHeaderOK(k string) bool {
	if k == "" || hasPrefixFold(k, "Nats-") || hasPrefixFold(k, "Flask-") ||
		strings.EqualFold(k, "Status") || strings.EqualFold(k, "Description") {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < '!' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validQueue checks that a queue name fits a subject token and a consumer
// name: 1 to 200 characters of [A-Za-z0-9_-].
func validQueue(q string) error {
	if q == "" || len(q) > 200 {
		return fmt.Errorf("invalid queue name %q: must be 1 to 200 characters", q)
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("invalid queue name %q: only A-Z, a-z, 0-9, '_' and '-' are allowed", q)
		}
	}
	return nil
}

// Publish puts msgs on their queues and returns once the server has stored
// every one of them. The messages are sent without waiting in between and
// their acks awaited together, so a batch costs about one round trip. On
// error some messages may have been stored: publish them all again, the
// stream drops those whose Message.ID it has seen within DuplicateWindow
// (a message with an empty ID is never de-duplicated). Invalid queue names
// fail the whole call before anything is sent.
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
	nms := make([]*natsgo.Msg, len(msgs))
	for i := range msgs {
		nm, err := b.encode(&msgs[i])
		if err != nil {
			return fmt.Errorf("publish job %s: %w", msgs[i].JobID, err)
		}
		nms[i] = nm
	}

	if err := b.announce(ctx, msgs); err != nil {
		return fmt.Errorf("publish %d messages: %w", len(msgs), err)
	}

	stallOpt := b.stallOpt
	if d, ok := ctx.Deadline(); ok && time.Until(d) < b.cfg.PublishTimeout {
		if left := time.Until(d); left > 0 {
			stallOpt = jetstream.WithStallWait(left)
		}
	}

	futures := make([]jetstream.PubAckFuture, 0, len(nms))
	var sendErr error
	for _, nm := range nms {
		f, err := b.js.PublishMsgAsync(nm, stallOpt)
		if err != nil {
			// The connection is closed or stalled: the rest would fail
			// the same way, so stop sending and report them all.
			sendErr = err
			break
		}
		futures = append(futures, f)
	}

	// Every future resolves: with the server's ack, an error, or
	// ErrAsyncPublishTimeout after PublishTimeout.
	failed := len(nms) - len(futures)
	firstErr := sendErr
wait:
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			failed++
			if firstErr == nil {
				firstErr = fmt.Errorf("job %s: %w", msgs[i].JobID, err)
			}
		case <-ctx.Done():
			failed += len(futures) - i
			firstErr = cmp.Or(firstErr, ctx.Err())
			break wait
		case <-b.closeCtx.Done():
			failed += len(futures) - i
			firstErr = cmp.Or(firstErr, events.ErrClosed)
			break wait
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("publish: %d of %d messages not confirmed: %w", failed, len(nms), mapErr(firstErr))
}

// announce makes sure each queue of msgs has its durable consumer, once per
// queue and process. A consumer that exists is left as its workers set it;
// a missing one is created. Without it a queue whose workers are scaled to
// zero would show no backlog (KEDA's nats-jetstream scaler reads the
// consumer's pending count) and never be scaled up.
func (b *Broker) announce(ctx context.Context, msgs []events.Message) error {
	for i := range msgs {
		q := msgs[i].Queue
		if _, ok := b.announced.Load(q); ok {
			continue
		}
		name := ConsumerName(q)
		_, err := b.js.Consumer(ctx, b.stream, name)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			_, err = b.js.CreateConsumer(ctx, b.stream, b.consumerConfig(q))
			if errors.Is(err, jetstream.ErrConsumerExists) {
				err = nil // a worker created it meanwhile
			}
		}
		if err != nil {
			return fmt.Errorf("make sure consumer %s exists: %w", name, err)
		}
		b.announced.Store(q, true)
	}
	return nil
}

// mapErr turns nats.go's closed-connection errors into events.ErrClosed.
func mapErr(err error) error {
	if errors.Is(err, natsgo.ErrConnectionClosed) || errors.Is(err, natsgo.ErrConnectionDraining) {
		return fmt.Errorf("%w: %w", events.ErrClosed, err)
	}
	return err
}

// Ping checks that the connection is up and that JetStream answers.
func (b *Broker) Ping(ctx context.Context) error {
	if b.closed.Load() {
		return fmt.Errorf("ping nats: %w", events.ErrClosed)
	}
	if s := b.nc.Status(); s != natsgo.CONNECTED {
		return fmt.Errorf("ping nats: connection is %s", s)
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("ping nats: account info: %w", err)
	}
	return nil
}

// Close drains the connection: it stops pending fetches, flushes acks and
// publishes still buffered, and closes. Publish, Fetch and Ping return
// events.ErrClosed afterwards. Closing again returns the first Close's
// result, so a Broker used both as publisher and as consumer can be closed
// through both.
func (b *Broker) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		<-b.closeDone
		return b.closeErr
	}
	b.closeCancel()
	defer close(b.closeDone)

	drained := make(chan struct{})
	b.nc.SetClosedHandler(func(*natsgo.Conn) { close(drained) })
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
		switch {
		case errors.Is(err, natsgo.ErrConnectionClosed):
		case errors.Is(err, natsgo.ErrConnectionReconnecting):
			// Nothing can be flushed; unsent acks only cause redeliveries.
			b.log.Warn("nats connection closed while reconnecting, unsent acks are dropped")
		default:
			b.closeErr = fmt.Errorf("drain nats connection: %w", err)
		}
		return b.closeErr
	}
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		b.nc.Close()
		b.closeErr = errors.New("drain nats connection: timed out")
	}
	return b.closeErr
}
