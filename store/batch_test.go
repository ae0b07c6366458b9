package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// recorder is a batcher exec that records each batch and can hold the
// flusher inside exec until released.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	hold    chan struct{} // when set, exec waits for a receive on it
	fail    func(items []int) error
}

func (r *recorder) exec(ctx context.Context, items []int) ([]string, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(items))
	hold, fail := r.hold, r.fail
	r.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		if err := fail(items); err != nil {
			return nil, err
		}
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = fmt.Sprint("r", it)
	}
	return out, nil
}

func (r *recorder) recorded() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

type outcome struct {
	res string
	err error
}

// submit calls b.do for each item in its own goroutine.
func submit(b *batcher[int, string], items ...int) map[int]*outcome {
	out := map[int]*outcome{}
	for _, it := range items {
		o := &outcome{}
		out[it] = o
		go func() { o.res, o.err = b.do(context.Background(), it) }()
	}
	return out
}

// queueBehindFirst holds the flusher in exec with item 0, then queues items
// and waits until every caller blocks: the next batch will take them all.
func queueBehindFirst(t *testing.T, b *batcher[int, string], r *recorder, items ...int) (first *outcome, rest map[int]*outcome) {
	t.Helper()
	r.hold = make(chan struct{})
	first = submit(b, 0)[0]
	synctest.Wait() // the flusher is inside exec with [0]
	rest = submit(b, items...)
	synctest.Wait() // every caller waits to hand over its item
	r.mu.Lock()
	close(r.hold)
	r.hold = nil
	r.mu.Unlock()
	return first, rest
}

func TestBatcherMergesConcurrentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		b := newBatcher(1000, 1, nil, r.exec)
		defer b.close()
		items := make([]int, 50)
		for i := range items {
			items[i] = i + 1
		}
		first, rest := queueBehindFirst(t, b, r, items...)
		synctest.Wait()

		require.Equal(t, outcome{res: "r0"}, *first)
		for it, o := range rest {
			require.NoError(t, o.err)
			require.Equal(t, fmt.Sprint("r", it), o.res, "each caller gets its own result")
		}
		batches := r.recorded()
		require.Len(t, batches, 2, "the 50 waiting calls share one transaction")
		require.Equal(t, []int{0}, batches[0])
		require.ElementsMatch(t, items, batches[1])
	})
}

func TestBatcherRespectsMaxWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		// The item's value is its weight.
		b := newBatcher(10, 1, func(w int) int { return w }, r.exec)
		defer b.close()
		_, rest := queueBehindFirst(t, b, r, 4, 5, 6, 12, 3)
		synctest.Wait()
		for _, o := range rest {
			require.NoError(t, o.err)
		}
		var all []int
		for _, batch := range r.recorded()[1:] {
			sum := 0
			for _, w := range batch {
				sum += w
			}
			require.True(t, sum <= 10 || len(batch) == 1, "batch %v weighs %d > 10", batch, sum)
			all = append(all, batch...)
		}
		require.ElementsMatch(t, []int{4, 5, 6, 12, 3}, all, "every call ran exactly once")
	})
}

func TestBatcherIsolatesFailingItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := errors.New("item 13 is bad")
		r := &recorder{fail: func(items []int) error {
			if slices.Contains(items, 13) {
				return bad
			}
			return nil
		}}
		b := newBatcher(1000, 1, nil, r.exec)
		defer b.close()
		_, rest := queueBehindFirst(t, b, r, 11, 12, 13, 14)
		synctest.Wait()

		require.ErrorIs(t, rest[13].err, bad)
		for _, it := range []int{11, 12, 14} {
			require.NoError(t, rest[it].err, "neighbour %d of the bad item", it)
			require.Equal(t, fmt.Sprint("r", it), rest[it].res)
		}
		batches := r.recorded()
		require.ElementsMatch(t, []int{11, 12, 13, 14}, batches[1], "tried together first")
		require.Len(t, batches, 6, "then one by one")
	})
}

func TestBatcherDoesNotSplitOnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{fail: func(items []int) error {
			if len(items) > 1 || items[0] != 0 {
				return fmt.Errorf("commit: %w", context.DeadlineExceeded)
			}
			return nil
		}}
		b := newBatcher(1000, 1, nil, r.exec)
		defer b.close()
		_, rest := queueBehindFirst(t, b, r, 1, 2, 3)
		synctest.Wait()
		for _, o := range rest {
			require.ErrorIs(t, o.err, context.DeadlineExceeded)
		}
		require.Len(t, r.recorded(), 2, "a timeout is not retried item by item")
	})
}

func TestBatcherSkipsCallersThatLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{hold: make(chan struct{})}
		b := newBatcher(1000, 1, nil, r.exec)
		defer b.close()
		first := submit(b, 0)[0]
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		var left error
		go func() { _, left = b.do(ctx, 7) }()
		kept := submit(b, 8)[8]
		synctest.Wait()
		cancel()
		synctest.Wait()
		require.ErrorIs(t, left, context.Canceled)
		close(r.hold)
		synctest.Wait()
		require.NoError(t, first.err)
		require.Equal(t, "r8", kept.res)
		require.Equal(t, [][]int{{0}, {8}}, r.recorded(), "the call whose caller left is not run")
	})
}

func TestBatcherCloseReleasesWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{hold: make(chan struct{})}
		// One item per transaction, so that items 0 and 1 occupy both
		// flushers whichever way the scheduler hands them out.
		b := newBatcher(1, 2, nil, r.exec)
		running := submit(b, 0, 1) // both flushers busy in exec
		synctest.Wait()
		waiting := submit(b, 2, 3, 4)
		synctest.Wait()

		closed := make(chan struct{})
		go func() { b.close(); close(closed) }()
		synctest.Wait()
		for it, o := range waiting {
			require.ErrorIs(t, o.err, errStoreClosed, "waiter %d", it)
		}
		select {
		case <-closed:
			t.Fatal("close returned while transactions were under way")
		default:
		}
		close(r.hold)
		synctest.Wait()
		<-closed
		for it, o := range running {
			require.NoError(t, o.err, "the transaction under way completes for %d", it)
		}
		_, err := b.do(context.Background(), 9)
		require.ErrorIs(t, err, errStoreClosed, "after close")
	})
}
