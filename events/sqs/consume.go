package sqs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/flaskhq/flask/events"
)

// ErrVisibilityLimit is returned by Extend once a delivery has been leased
// for SQS's 12 hours: its lease cannot be kept any longer.
var ErrVisibilityLimit = errors.New("sqs visibility limit of 12h from the receive reached")

// lingerForBatch is how long a Fetch that got fewer messages than it asked
// for waits for its other receives, once, before returning.
const lingerForBatch = 5 * time.Millisecond

// poll is one ReceiveMessage call in flight; guarded by its queue's mu.
type poll struct {
	done bool
	err  error
}

// Fetch returns up to max deliveries from queue. Messages already received
// are returned at once; otherwise it long-polls — up to ten messages per
// ReceiveMessage, several receives at once when max is above ten, each
// with WaitTimeSeconds from the time left of wait (at most 20) — and
// returns as soon as some arrived. It returns an empty slice, not an error,
// if nothing came within wait; wait <= 0 means one receive that does not
// wait (or none, returning at once, when the receives in flight already ask
// for max). It returns ctx's error if ctx ends first.
//
// SQS cannot call back a receive in flight, so one whose Fetch has gone
// (its ctx ended or its wait was shorter than a whole second) runs to its
// end in the background: what it receives is kept for the next Fetch of
// the queue, with its delivery count unchanged, and made visible again if
// no Fetch takes it within a third of the visibility timeout or on Close.
func (b *Broker) Fetch(ctx context.Context, queue string, max int, wait time.Duration) ([]events.Delivery, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("fetch from queue %s: %w", queue, events.ErrClosed)
	}
	if err := b.cfg.checkQueue(queue); err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	if max < 1 {
		return nil, fmt.Errorf("fetch from queue %s: max %d must be positive", queue, max)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fetch from queue %s: %w", queue, err)
	}
	q := b.queue(queue)
	url, err := b.resolve(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}

	deadline := time.Now().Add(wait)
	timer := time.NewTimer(max0(wait))
	defer timer.Stop()
	var mine []*poll
	lingered := false
	for {
		q.mu.Lock()
		if len(q.buf) > 0 {
			if !lingered && len(q.buf) < max && q.polls > 0 {
				// Receives run side by side: give the others a moment
				// to land in the same batch.
				lingered = true
				q.mu.Unlock()
				if err := b.pause(ctx, lingerForBatch); err != nil {
					return nil, fmt.Errorf("fetch from queue %s: %w", queue, err)
				}
				continue
			}
			out, stale := q.take(max, b.maxBufferAge())
			b.handBackLater(stale)
			q.mu.Unlock()
			if len(out) > 0 {
				ds := make([]events.Delivery, len(out))
				for i, d := range out {
					ds[i] = d
				}
				return ds, nil
			}
			continue
		}
		allDone := true
		for _, p := range mine {
			if p.done && p.err != nil {
				q.mu.Unlock()
				return nil, fmt.Errorf("fetch from queue %s: %w", queue, p.err)
			}
			allDone = allDone && p.done
		}
		left := time.Until(deadline)
		if left <= 0 && (wait > 0 || (len(mine) > 0 && allDone)) {
			q.mu.Unlock()
			return []events.Delivery{}, nil
		}
		if b.closed.Load() {
			// Close waits for the receives started before it; checked
			// under q.mu, which Close passes through before it waits.
			q.mu.Unlock()
			return nil, fmt.Errorf("fetch from queue %s: %w", queue, events.ErrClosed)
		}
		// Start receives for what the ones in flight do not already ask for.
		waitSec := int32(min(maxWaitSeconds, math.Ceil(left.Seconds())))
		if left <= 0 {
			waitSec = 0
		}
		for q.pollWant < max && q.polls < b.cfg.ReceiveConcurrency {
			n := min(maxBatch, max-q.pollWant)
			p := &poll{}
			q.polls++
			q.pollWant += n
			mine = append(mine, p)
			b.polls.Add(1)
			go b.receive(q, url, p, int32(n), waitSec)
		}
		if wait <= 0 && len(mine) == 0 {
			// The receives in flight already ask for max (long polls of
			// Fetches gone, say) or take every slot: a Fetch that may not
			// wait does not wait for them.
			q.mu.Unlock()
			return []events.Delivery{}, nil
		}
		ch := q.changed
		q.mu.Unlock()

		select {
		case <-ch:
		case <-timer.C:
			if wait <= 0 {
				// Wait for our zero-wait receives instead.
				timer.Reset(time.Hour)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("fetch from queue %s: %w", queue, ctx.Err())
		case <-b.closeCtx.Done():
			return nil, fmt.Errorf("fetch from queue %s: %w", queue, events.ErrClosed)
		}
	}
}

func max0(d time.Duration) time.Duration { return max(d, 0) }

// pause waits d unless ctx ends or the broker closes.
func (b *Broker) pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-b.closeCtx.Done():
		return events.ErrClosed
	}
}

// maxBufferAge is how long a received message may wait for a Fetch: the
// worker then still has two thirds of the lease before its first Extend.
func (b *Broker) maxBufferAge() time.Duration {
	return b.cfg.VisibilityTimeout / 3
}

// take removes up to max fresh deliveries from the buffer and returns them,
// with the stale ones it found. q.mu is held.
func (q *queue) take(max int, maxAge time.Duration) (out, stale []*delivery) {
	now := time.Now()
	i := 0
	for ; i < len(q.buf) && len(out) < max; i++ {
		d := q.buf[i]
		if now.Sub(d.received) > maxAge {
			stale = append(stale, d)
			continue
		}
		out = append(out, d)
	}
	q.buf = append(q.buf[:0:0], q.buf[i:]...)
	if len(out) > 0 || len(stale) > 0 {
		q.signal()
	}
	return out, stale
}

// signal wakes every Fetch waiting on q. q.mu is held.
func (q *queue) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// receive runs one ReceiveMessage for q and puts what it got in the buffer.
func (b *Broker) receive(q *queue, url string, p *poll, n, waitSec int32) {
	defer b.polls.Done()
	ctx, cancel := context.WithTimeout(b.pollCtx, time.Duration(waitSec)*time.Second+30*time.Second)
	defer cancel()
	var opts []func(*sqs.Options)
	if waitSec == 0 {
		opts = append(opts, shortPoll)
	}
	out, err := b.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         n,
		WaitTimeSeconds:             waitSec,
		VisibilityTimeout:           int32(b.cfg.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		MessageAttributeNames:       []string{"All"},
	}, opts...)
	var ds []*delivery
	if err == nil {
		// The lease began when SQS picked the messages: after a long poll
		// that is when the answer came, not when the request was sent.
		leased := time.Now()
		ds = make([]*delivery, 0, len(out.Messages))
		for i := range out.Messages {
			ds = append(ds, b.newDelivery(q, url, &out.Messages[i], leased))
		}
	} else {
		if isNoQueue(err) {
			b.forget(q, url)
		}
		err = fmt.Errorf("receive from %s: %w", q.sqsName, err)
	}

	q.mu.Lock()
	p.done, p.err = true, err
	q.polls--
	q.pollWant -= int(n)
	q.buf = append(q.buf, ds...)
	q.signal()
	q.mu.Unlock()
	if len(ds) > 0 {
		// Not taken by then, they go back to the queue.
		time.AfterFunc(b.maxBufferAge()+10*time.Millisecond, func() { b.expire(q) })
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		b.log.Debug("receive failed", "queue", q.name, "err", err)
	}
}

// expire makes buffered deliveries too old for a Fetch visible again.
func (b *Broker) expire(q *queue) {
	q.mu.Lock()
	now, age := time.Now(), b.maxBufferAge()
	var stale []*delivery
	keep := q.buf[:0:0]
	for _, d := range q.buf {
		if now.Sub(d.received) > age {
			stale = append(stale, d)
		} else {
			keep = append(keep, d)
		}
	}
	q.buf = keep
	b.handBackLater(stale)
	q.mu.Unlock()
}

// handBackLater makes ds visible again in the background. The caller has
// just taken ds out of their queue's buffer and still holds its mu: Close,
// which empties the buffers under the same mu, then waits for it.
func (b *Broker) handBackLater(ds []*delivery) {
	if len(ds) == 0 {
		return
	}
	b.handBacks.Add(1)
	go func() {
		defer b.handBacks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.handBack(ctx, ds); err != nil {
			b.log.Warn("could not hand back received messages; they return after the visibility timeout", "err", err)
		}
	}()
}

// handBack makes ds visible again at once (ChangeMessageVisibilityBatch to
// 0), ten per call.
func (b *Broker) handBack(ctx context.Context, ds []*delivery) error {
	var errs []error
	for len(ds) > 0 {
		n := min(len(ds), maxBatch)
		chunk := ds[:n]
		ds = ds[n:]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, n)
		for i, d := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(d.receipt), VisibilityTimeout: 0,
			}
		}
		out, err := b.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(chunk[0].url), Entries: entries,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("hand back %d messages to %s: %w", n, chunk[0].q.sqsName, err))
			continue
		}
		for _, f := range out.Failed {
			errs = append(errs, fmt.Errorf("hand back a message to %s: %s: %s", chunk[0].q.sqsName, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	return errors.Join(errs...)
}

// delivery is one receipt of a message.
type delivery struct {
	b        *Broker
	q        *queue
	url      string
	receipt  string
	m        events.Message
	n        int
	received time.Time // when the receive that leased it answered
}

// newDelivery decodes msg received from q.
func (b *Broker) newDelivery(q *queue, url string, msg *types.Message, received time.Time) *delivery {
	d := &delivery{b: b, q: q, url: url, receipt: aws.ToString(msg.ReceiptHandle), n: 1, received: received}
	var w wireMessage
	if err := json.Unmarshal([]byte(aws.ToString(msg.Body)), &w); err == nil {
		d.m = events.Message{ID: w.ID, JobID: w.JobID, Queue: q.name, Type: w.Type, Trace: w.Trace}
	} else {
		// Not one of ours (or damaged): read what the attributes carry.
		d.m = events.Message{ID: aws.ToString(msg.MessageId), JobID: attr(msg, AttrJobID), Queue: q.name, Type: attr(msg, AttrJobType)}
		b.log.Warn("message body is not a Flask message, using attributes", "queue", q.name, "job_id", d.m.JobID, "err", err)
	}
	if s, ok := msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]; ok {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			d.n = n
		}
	}
	return d
}

func attr(msg *types.Message, k string) string {
	if v, ok := msg.MessageAttributes[k]; ok {
		return aws.ToString(v.StringValue)
	}
	return ""
}

// Message returns the message delivered.
func (d *delivery) Message() events.Message { return d.m }

// NumDelivered is SQS's ApproximateReceiveCount: 1 on the first delivery.
func (d *delivery) NumDelivered() int { return d.n }

// Ack deletes the message. It returns at once: deletes are batched
// (DeleteMessageBatch) with those of other Acks within DeleteLinger. A lost
// delete causes a redelivery after the visibility timeout, which Flask's
// workers make harmless.
func (d *delivery) Ack(context.Context) error {
	if err := d.b.deletes.add(d); err != nil {
		return fmt.Errorf("ack job %s: %w", d.m.JobID, err)
	}
	return nil
}

// Nak makes the message visible again after delay (0 or less: at once),
// rounded up to whole seconds and capped at what is left of the 12 hours
// SQS allows from the receive.
func (d *delivery) Nak(ctx context.Context, delay time.Duration) error {
	secs := int32(0)
	if delay > 0 {
		secs = int32(min(math.Ceil(delay.Seconds()), d.leftSeconds()))
	}
	if err := d.setVisibility(ctx, max(secs, 0)); err != nil {
		return fmt.Errorf("nak job %s: %w", d.m.JobID, err)
	}
	return nil
}

// Extend makes the message invisible for another visibility timeout from
// now, or for what is left of SQS's 12 hours from the receive. Once those
// are used up it returns ErrVisibilityLimit and the message is delivered
// again when the lease runs out.
func (d *delivery) Extend(ctx context.Context) error {
	left := d.leftSeconds()
	if left < 1 {
		return fmt.Errorf("extend job %s: %w", d.m.JobID, ErrVisibilityLimit)
	}
	secs := min(float64(d.b.cfg.VisibilityTimeout/time.Second), left)
	if err := d.setVisibility(ctx, int32(secs)); err != nil {
		return fmt.Errorf("extend job %s: %w", d.m.JobID, err)
	}
	return nil
}

// leftSeconds is what is left of the 12 hours SQS allows from the receive,
// in whole seconds, with a second of margin for clock and network.
func (d *delivery) leftSeconds() float64 {
	return math.Floor((MaxVisibility - time.Since(d.received)).Seconds() - 1)
}

func (d *delivery) setVisibility(ctx context.Context, secs int32) error {
	if d.b.closed.Load() {
		return events.ErrClosed
	}
	_, err := d.b.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(d.url), ReceiptHandle: aws.String(d.receipt), VisibilityTimeout: secs,
	})
	return err
}
