package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errStoreClosed is returned to callers still waiting when the store closes.
var errStoreClosed = errors.New("store is closed")

// flushTimeout bounds one group-commit transaction.
const flushTimeout = 30 * time.Second

// batcher merges concurrent calls into shared transactions (group commit).
// It adds no delay when idle: a flusher takes the first waiting call, then
// whatever else is already waiting, up to max weight, and runs them together.
// While one transaction runs, new calls queue up for the next.
//
// If a shared transaction fails, each of its calls is run again on its own,
// so that one bad item fails only its own caller — unless the failure is
// not about the items (a timeout, a lost connection): then every caller gets
// it at once rather than after one more timeout each.
type batcher[T, R any] struct {
	ch     chan *batchCall[T, R]
	quit   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	max    int
	weight func(T) int
	exec   func(ctx context.Context, items []T) ([]R, error)
}

type batchCall[T, R any] struct {
	ctx  context.Context
	item T
	res  R
	err  error
	done chan struct{}
}

// newBatcher starts flushers goroutines that run exec on up to max weight
// of items at a time; weight nil counts each item as 1. exec must return one
// result per item, in order, or an error for them all.
func newBatcher[T, R any](max, flushers int, weight func(T) int, exec func(context.Context, []T) ([]R, error)) *batcher[T, R] {
	if weight == nil {
		weight = func(T) int { return 1 }
	}
	b := &batcher[T, R]{ch: make(chan *batchCall[T, R]), quit: make(chan struct{}), max: max, weight: weight, exec: exec}
	for range flushers {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// do submits one item and waits for the transaction that carries it. If ctx
// ends first, do returns ctx.Err(), but the item may still be committed. Once
// the batcher is closed, do returns errStoreClosed.
func (b *batcher[T, R]) do(ctx context.Context, item T) (R, error) {
	var zero R
	select {
	case <-b.quit:
		return zero, errStoreClosed
	default:
	}
	c := &batchCall[T, R]{ctx: ctx, item: item, done: make(chan struct{})}
	select {
	case b.ch <- c:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-b.quit:
		return zero, errStoreClosed
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (b *batcher[T, R]) loop() {
	defer b.wg.Done()
	var next *batchCall[T, R] // taken, but too heavy for the previous batch
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case <-b.quit:
				return
			default:
			}
			select {
			case first = <-b.ch:
			case <-b.quit:
				return
			}
		}
		calls := []*batchCall[T, R]{first}
		w := b.weight(first.item)
	drain:
		for w < b.max {
			select {
			case c := <-b.ch:
				cw := b.weight(c.item)
				if w+cw > b.max {
					next = c
					break drain
				}
				calls = append(calls, c)
				w += cw
			default:
				break drain
			}
		}
		b.run(calls)
	}
}

// run executes calls in one transaction and hands each its result.
func (b *batcher[T, R]) run(calls []*batchCall[T, R]) {
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			// The caller has returned ctx.Err() already: skip its work.
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	items := make([]T, len(live))
	for i, c := range live {
		items[i] = c.item
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	res, err := b.exec(ctx, items)
	cancel()
	if err == nil && len(res) != len(items) {
		err = fmt.Errorf("group commit: %d results for %d calls", len(res), len(items))
	}
	if err != nil && len(live) > 1 && itemError(err) {
		for _, c := range live {
			b.run([]*batchCall[T, R]{c})
		}
		return
	}
	for i, c := range live {
		if err != nil {
			c.err = err
		} else {
			c.res = res[i]
		}
		close(c.done)
	}
}

// itemError reports whether err may be caused by the items of a batch, so
// that running them one by one can tell the good ones from the bad.
func itemError(err error) bool {
	return !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, driver.ErrBadConn) && !errors.Is(err, errStoreClosed)
}

// close stops the flushers after the transactions under way; calls not yet
// taken get errStoreClosed.
func (b *batcher[T, R]) close() {
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
}
