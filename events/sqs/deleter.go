package sqs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/flaskhq/flask/events"
)

// deleter groups the deletes of Acks made within DeleteLinger into
// DeleteMessageBatch calls of up to ten per queue. At most
// pendingBatchesPerCall × PublishConcurrency batches wait or run at once:
// past that, Acks wait for room, so that a throttled or slow SQS slows the
// worker down instead of piling deletes up in memory.
type deleter struct {
	b *Broker

	mu      sync.Mutex
	pending map[string][]*delivery // by queue URL
	timer   *time.Timer
	closed  bool
	calls   sync.WaitGroup
	slots   chan struct{} // calls in flight
	room    chan struct{} // batches sent and not yet done
}

// pendingBatchesPerCall is how many delete batches may wait per call slot.
const pendingBatchesPerCall = 4

func newDeleter(b *Broker) *deleter {
	return &deleter{b: b, pending: map[string][]*delivery{},
		slots: make(chan struct{}, b.cfg.PublishConcurrency),
		room:  make(chan struct{}, pendingBatchesPerCall*b.cfg.PublishConcurrency)}
}

// add queues the delete of d. A queue's tenth pending delete sends its
// batch at once; the others are sent when DeleteLinger has passed.
func (dl *deleter) add(d *delivery) error {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.closed {
		return events.ErrClosed
	}
	p := append(dl.pending[d.url], d)
	if len(p) >= maxBatch {
		delete(dl.pending, d.url)
		dl.send(p)
		return nil
	}
	dl.pending[d.url] = p
	if dl.timer == nil {
		dl.timer = time.AfterFunc(dl.b.cfg.DeleteLinger, dl.flush)
	}
	return nil
}

// flush sends every pending batch.
func (dl *deleter) flush() {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.timer = nil
	for url, p := range dl.pending {
		delete(dl.pending, url)
		dl.send(p)
	}
}

// send deletes ds (of one queue, at most ten) in the background, once
// there is room. dl.mu is held: while it waits for room, every Ack waits.
// Room is freed by delete calls, which never take dl.mu.
func (dl *deleter) send(ds []*delivery) {
	dl.room <- struct{}{}
	dl.calls.Add(1)
	go func() {
		defer dl.calls.Done()
		defer func() { <-dl.room }()
		dl.slots <- struct{}{}
		defer func() { <-dl.slots }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dl.delete(ctx, ds); err != nil {
			dl.b.log.Warn("could not delete acked messages; they will be redelivered and skipped", "queue", ds[0].q.name, "messages", len(ds), "err", err)
		}
	}()
}

func (dl *deleter) delete(ctx context.Context, ds []*delivery) error {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(ds))
	for i, d := range ds {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(d.receipt)}
	}
	out, err := dl.b.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(ds[0].url), Entries: entries})
	if err != nil {
		return fmt.Errorf("delete %d messages from %s: %w", len(ds), ds[0].q.sqsName, err)
	}
	var errs []error
	for _, f := range out.Failed {
		job := "?"
		if i, err := strconv.Atoi(aws.ToString(f.Id)); err == nil && i >= 0 && i < len(ds) {
			job = ds[i].m.JobID
		}
		errs = append(errs, fmt.Errorf("delete job %s from %s: %s: %s", job, ds[0].q.sqsName, aws.ToString(f.Code), aws.ToString(f.Message)))
	}
	return errors.Join(errs...)
}

// close sends what is pending, waits for every delete in flight (or ctx),
// and refuses further adds.
func (dl *deleter) close(ctx context.Context) error {
	dl.mu.Lock()
	dl.closed = true
	if dl.timer != nil {
		dl.timer.Stop()
	}
	dl.mu.Unlock()
	dl.flush()
	done := make(chan struct{})
	go func() { dl.calls.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("deletes still in flight at close: %w", ctx.Err())
	}
}
