package store

import (
	"context"
	"errors"
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
type batcher[T, R any] struct {
	ch     chan *batchCall[T, R]
	quit   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	max    int
	weight func([]T) int
	exec   func(ctx context.Context, items []T) ([]R, error)
}

type batchCall[T, R any] struct {
	item T
	res  R
	err  error
	done chan struct{}
}

func newBatcher[T, R any](max, flushers int, weight func([]T) int, exec func(context.Context, []T) ([]R, error)) *batcher[T, R] {
	if weight == nil {
		weight = func(items []T) int { return len(items) }
	}
	b := &batcher[T, R]{ch: make(chan *batchCall[T, R]), quit: make(chan struct{}), max: max, weight: weight, exec: exec}
	for range flushers {
		b.wg.Add(1)
		go b.loop()
	}
	return b
}

// do submits one item and waits for the transaction that carries it. If ctx
// ends first, do returns ctx.Err(), but the item may still be committed.
func (b *batcher[T, R]) do(ctx context.Context, item T) (R, error) {
	var zero R
	c := &batchCall[T, R]{item: item, done: make(chan struct{})}
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
	for {
		var first *batchCall[T, R]
		select {
		case first = <-b.ch:
		case <-b.quit:
			return
		}
		calls := []*batchCall[T, R]{first}
		items := []T{first.item}
	drain:
		for b.weight(items) < b.max {
			select {
			case c := <-b.ch:
				calls = append(calls, c)
				items = append(items, c.item)
			default:
				break drain
			}
		}
		b.run(calls, items)
	}
}

func (b *batcher[T, R]) run(calls []*batchCall[T, R], items []T) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	res, err := b.exec(ctx, items)
	if err != nil && len(calls) > 1 {
		// One bad item must not fail its neighbours: run each on its own.
		for _, c := range calls {
			b.run([]*batchCall[T, R]{c}, []T{c.item})
		}
		return
	}
	for i, c := range calls {
		if err != nil {
			c.err = err
		} else {
			c.res = res[i]
		}
		close(c.done)
	}
}

func (b *batcher[T, R]) close() {
	b.once.Do(func() { close(b.quit) })
	b.wg.Wait()
}
