package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/flaskhq/flask/events"
)

// ConsumerName returns the durable consumer name of a queue.
func ConsumerName(queue string) string {
	return "flask-" + queue
}

// consumerEntry is a consumer being created or ready. done is closed once
// c or err is set.
type consumerEntry struct {
	done chan struct{}
	c    jetstream.Consumer
	err  error
}

// consumerConfig is the durable pull consumer of a queue.
func (b *Broker) consumerConfig(queue string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       ConsumerName(queue),
		Description:   "Flask queue " + queue,
		FilterSubject: b.subject(queue),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		// Never give up on a message: the store decides when a job has
		// failed for good and the worker then acks or terms it.
		MaxDeliver:    -1,
		MaxAckPending: b.cfg.MaxAckPending,
		// BackOff stays unset on purpose: a BackOff list replaces AckWait
		// as the redelivery delay and would cut Extend's lease short.
	}
}

// consumer returns the queue's consumer entry, creating or updating the
// consumer on first use. Concurrent first callers share one creation; a
// failed creation is retried by the next call.
func (b *Broker) consumer(ctx context.Context, queue string) (*consumerEntry, error) {
	b.mu.Lock()
	e, ok := b.consumers[queue]
	if !ok {
		e = &consumerEntry{done: make(chan struct{})}
		b.consumers[queue] = e
	}
	b.mu.Unlock()

	if !ok {
		e.c, e.err = b.js.CreateOrUpdateConsumer(ctx, b.stream, b.consumerConfig(queue))
		if e.err != nil {
			e.err = fmt.Errorf("create or update consumer %s on stream %s: %w", ConsumerName(queue), b.stream, e.err)
			b.forgetConsumer(queue, e)
		}
		close(e.done)
	}
	select {
	case <-e.done:
		if e.err != nil {
			return nil, e.err
		}
		return e, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// forgetConsumer drops e from the cache so that the next call creates the
// consumer again (after an error, or if it was deleted on the server).
func (b *Broker) forgetConsumer(queue string, e *consumerEntry) {
	b.mu.Lock()
	if b.consumers[queue] == e {
		delete(b.consumers, queue)
	}
	b.mu.Unlock()
}

// Fetch returns up to max deliveries from queue. Messages already waiting
// are returned at once; if there are none, Fetch waits up to wait for the
// first one and then returns it together with whatever else is waiting by
// then. It returns an empty slice, not an error, if nothing came within
// wait; wait <= 0 means do not wait. It returns ctx's error if ctx ends
// first, handing back anything that arrived meanwhile.
//
// While the queue is busy a Fetch costs one round trip. An idle queue costs
// one round trip, the long poll, and one more to collect the rest of a
// batch once the first message arrives.
func (b *Broker) Fetch(ctx context.Context, queue string, max int, wait time.Duration) ([]events.Delivery, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("fetch from queue %s: %w", queue, events.ErrClosed)
	}
	if err := validQueue(queue); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if max < 1 {
		return nil, fmt.Errorf("fetch from queue %s: max %d must be positive", queue, max)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch from queue %s: %w", queue, err)
	}
	e, err := b.consumer(ctx, queue)
	if err != nil {
		return nil, b.fetchErr(queue, err)
	}

	out, err := b.fetchNoWait(e.c, queue, max)
	if err != nil {
		b.forgetConsumer(queue, e)
		return nil, b.fetchErr(queue, err)
	}
	if len(out) > 0 || wait <= 0 {
		return out, nil
	}

	out, err = b.fetchFirst(ctx, e.c, queue, wait)
	if err != nil {
		if ctx.Err() == nil && !b.closed.Load() {
			b.forgetConsumer(queue, e)
		}
		return nil, b.fetchErr(queue, err)
	}
	if len(out) == 0 {
		return []events.Delivery{}, nil
	}
	if max == 1 {
		return out, nil
	}

	more, err := b.fetchNoWait(e.c, queue, max-1)
	if err != nil {
		// The first delivery is leased to us; returning it beats
		// leaving it to expire.
		b.log.Debug("fetch rest of batch", "queue", queue, "err", err)
	}
	return append(out, more...), nil
}

// fetchErr wraps an error of Fetch, reporting events.ErrClosed once the
// broker is closed.
func (b *Broker) fetchErr(queue string, err error) error {
	if b.closed.Load() && !errors.Is(err, events.ErrClosed) {
		return fmt.Errorf("fetch from queue %s: %w", queue, events.ErrClosed)
	}
	return fmt.Errorf("fetch from queue %s: %w", queue, mapErr(err))
}

// fetchNoWait returns what is waiting on the consumer, up to max.
func (b *Broker) fetchNoWait(c jetstream.Consumer, queue string, max int) ([]events.Delivery, error) {
	batch, err := c.FetchNoWait(max)
	if err != nil {
		return nil, err
	}
	out := make([]events.Delivery, 0, min(max, 64))
	for msg := range batch.Messages() {
		out = append(out, b.newDelivery(queue, msg))
	}
	if err := batch.Error(); err != nil && len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// fetchFirst long-polls for one message for up to wait.
func (b *Broker) fetchFirst(ctx context.Context, c jetstream.Consumer, queue string, wait time.Duration) ([]events.Delivery, error) {
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stop := context.AfterFunc(b.closeCtx, cancel)
	defer stop()

	batch, err := c.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		if fctx.Err() != nil && ctx.Err() == nil && !b.closed.Load() {
			// wait was too short to even send the poll.
			return nil, nil
		}
		return nil, err
	}
	var out []events.Delivery
	for msg := range batch.Messages() {
		out = append(out, b.newDelivery(queue, msg))
	}
	if ctx.Err() != nil || b.closed.Load() {
		// The caller or the broker has gone: hand back what arrived
		// meanwhile (a draining connection still sends the naks).
		for _, d := range out {
			_ = d.Nak(context.Background(), 0)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, events.ErrClosed
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// delivery is one receipt of a message. Its acks are fire-and-forget.
type delivery struct {
	msg jetstream.Msg
	m   events.Message
	n   int
}

// newDelivery decodes msg fetched from queue.
func (b *Broker) newDelivery(queue string, msg jetstream.Msg) *delivery {
	d := &delivery{msg: msg, n: 1}
	var w wireMessage
	if err := json.Unmarshal(msg.Data(), &w); err == nil {
		d.m = events.Message{ID: w.ID, JobID: w.JobID, Queue: queue, Type: w.Type, Trace: w.Trace}
	} else {
		// Not one of ours (or damaged): read what the headers carry.
		h := msg.Headers()
		d.m = events.Message{ID: h.Get(jetstream.MsgIDHeader), JobID: h.Get(HeaderJobID), Queue: queue, Type: h.Get(HeaderJobType)}
		b.log.Warn("message body is not a Flask message, using headers", "queue", queue, "job_id", d.m.JobID, "err", err)
	}
	if md, err := msg.Metadata(); err == nil {
		d.n = int(md.NumDelivered)
	} else {
		b.log.Warn("read delivery metadata", "queue", queue, "job_id", d.m.JobID, "err", err)
	}
	return d
}

// Message returns the message delivered.
func (d *delivery) Message() events.Message { return d.m }

// NumDelivered counts deliveries of this message, 1 on the first.
func (d *delivery) NumDelivered() int { return d.n }

// Ack removes the message. It does not wait for the server: a lost ack
// causes a redelivery after AckWait.
func (d *delivery) Ack(context.Context) error {
	if err := d.msg.Ack(); err != nil {
		return fmt.Errorf("ack job %s: %w", d.m.JobID, mapErr(err))
	}
	return nil
}

// Nak hands the message back for redelivery after delay (0 or less: at
// once).
func (d *delivery) Nak(_ context.Context, delay time.Duration) error {
	var err error
	if delay <= 0 {
		err = d.msg.Nak()
	} else {
		err = d.msg.NakWithDelay(delay)
	}
	if err != nil {
		return fmt.Errorf("nak job %s: %w", d.m.JobID, mapErr(err))
	}
	return nil
}

// Extend restarts the delivery's AckWait.
func (d *delivery) Extend(context.Context) error {
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("extend job %s: %w", d.m.JobID, mapErr(err))
	}
	return nil
}
