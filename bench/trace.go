package main

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/flaskhq/flask/app"
	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/worker"
)

// opStats collects the calls of one operation: how many, how many items
// each carried, and how long each took.
type opStats struct {
	Name  string
	mu    sync.Mutex
	calls int
	items int
	empty int
	lat   []time.Duration
}

func (o *opStats) add(items int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if items == 0 {
		o.empty++
		return
	}
	o.calls++
	o.items += items
	o.lat = append(o.lat, d)
}

// opSummary is an opStats frozen for the report.
type opSummary struct {
	Name            string
	Calls, Empty    int
	Items           int
	PerCall         float64
	P50, P99, Total time.Duration
}

func (o *opStats) summary() opSummary {
	o.mu.Lock()
	defer o.mu.Unlock()
	lat := slices.Clone(o.lat)
	slices.Sort(lat)
	s := opSummary{Name: o.Name, Calls: o.calls, Empty: o.empty, Items: o.items, P50: percentile(lat, 0.5), P99: percentile(lat, 0.99)}
	for _, d := range lat {
		s.Total += d
	}
	if o.calls > 0 {
		s.PerCall = float64(o.items) / float64(o.calls)
	}
	return s
}

// tracedStore times the worker's store calls.
type tracedStore struct {
	worker.Store
	claim, finish *opStats
}

func (s *tracedStore) ClaimJobs(ctx context.Context, p store.ClaimParams) ([]store.ClaimResult, error) {
	start := time.Now()
	res, err := s.Store.ClaimJobs(ctx, p)
	s.claim.add(len(p.JobIDs), time.Since(start))
	return res, err
}

func (s *tracedStore) FinishJob(ctx context.Context, p store.FinishParams) (bool, error) {
	start := time.Now()
	ok, err := s.Store.FinishJob(ctx, p)
	s.finish.add(1, time.Since(start))
	return ok, err
}

// tracedConsumer times the worker's fetches and counts what they bring;
// fetches that bring nothing are counted apart (they wait out FetchWait).
type tracedConsumer struct {
	events.Consumer
	fetch, ack *opStats
}

func (c *tracedConsumer) Fetch(ctx context.Context, queue string, n int, wait time.Duration) ([]events.Delivery, error) {
	start := time.Now()
	ds, err := c.Consumer.Fetch(ctx, queue, n, wait)
	c.fetch.add(len(ds), time.Since(start))
	for i, d := range ds {
		ds[i] = &tracedDelivery{Delivery: d, ack: c.ack}
	}
	return ds, err
}

// tracedDelivery times acks.
type tracedDelivery struct {
	events.Delivery
	ack *opStats
}

func (d *tracedDelivery) Ack(ctx context.Context) error {
	start := time.Now()
	err := d.Delivery.Ack(ctx)
	d.ack.add(1, time.Since(start))
	return err
}

// tracedBroker times the API's publishes.
type tracedBroker struct {
	app.Broker
	publish *opStats
}

func (b *tracedBroker) Publish(ctx context.Context, msgs ...events.Message) error {
	start := time.Now()
	err := b.Broker.Publish(ctx, msgs...)
	b.publish.add(len(msgs), time.Since(start))
	return err
}
