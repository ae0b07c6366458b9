package web

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// The charts cover sampleWindow in buckets of sampleBucket.
const (
	sampleWindow  = 15 * time.Minute
	sampleBucket  = 30 * time.Second
	sampleBuckets = int(sampleWindow / sampleBucket)
)

// bucket counts the jobs that finished in one sampleBucket of one queue.
type bucket struct {
	start            time.Time
	finished, failed int
}

// sampler turns successive readings of the queue counts into throughput:
// the jobs that reached succeeded or failed between two readings are the
// growth of those counts. It needs no query beyond the statistics the
// overview shows anyway, and no index on finished_at (which would slow
// every finish). It is an estimate: a failed job retried by hand leaves the
// failed count, and a reading where a count shrank counts zero for it.
// Each API process samples the same database, so replicas agree; a new
// process starts with an empty history.
type sampler struct {
	mu sync.Mutex
	// last is the previous reading of each queue's terminal counts.
	last map[string][2]int
	// first and prev are when the first and the latest readings were taken.
	first, prev time.Time
	// buckets holds each queue's recent buckets, oldest first.
	buckets map[string][]bucket
}

func newSampler() *sampler {
	return &sampler{last: map[string][2]int{}, buckets: map[string][]bucket{}}
}

// observe records one reading taken at now. The jobs finished since the
// previous reading are spread evenly over the buckets from the one after
// the previous reading's to now's: readings further apart than a bucket
// (the finished counts are refreshed once a minute) do not leave every
// other bar empty.
func (s *sampler) observe(now time.Time, stats []store.QueueStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := now.Truncate(sampleBucket)
	from := start
	if !s.prev.IsZero() && s.prev.Before(now) {
		from = s.prev.Truncate(sampleBucket).Add(sampleBucket)
		if oldest := start.Add(-sampleWindow + sampleBucket); from.Before(oldest) {
			from = oldest // a gap longer than the window: spread over the window
		}
		if from.After(start) {
			from = start // the same bucket as the previous reading
		}
	}
	n := int(start.Sub(from)/sampleBucket) + 1
	s.prev = now
	baseline := s.first.IsZero()
	if baseline {
		s.first = now
	}
	for _, st := range stats {
		cur := [2]int{st.Counts[job.StateSucceeded], st.Counts[job.StateFailed]}
		prev, seen := s.last[st.Queue]
		s.last[st.Queue] = cur
		if baseline {
			continue
		}
		if !seen {
			// A queue that appears after the first reading started empty.
			prev = [2]int{}
		}
		succeeded, failed := max(cur[0]-prev[0], 0), max(cur[1]-prev[1], 0)
		bs := s.buckets[st.Queue]
		for i := range n {
			at := from.Add(time.Duration(i) * sampleBucket)
			if k := len(bs); k == 0 || bs[k-1].start.Before(at) {
				bs = append(bs, bucket{start: at})
			}
			b := &bs[len(bs)-1]
			f := share(failed, n, i)
			b.finished += share(succeeded, n, i) + f
			b.failed += f
		}
		s.buckets[st.Queue] = bs
	}
	cutoff := start.Add(-sampleWindow)
	for q, bs := range s.buckets {
		i := 0
		for i < len(bs) && !bs[i].start.After(cutoff) {
			i++
		}
		if i == len(bs) {
			delete(s.buckets, q)
			continue
		}
		s.buckets[q] = bs[i:]
	}
}

// series returns, for every queue with a bucket in the window, the
// sampleBuckets buckets that end with now's, empty ones included, and when
// sampling began (zero before the first reading).
func (s *sampler) series(now time.Time) (map[string][]bucket, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := now.Truncate(sampleBucket)
	first := last.Add(-time.Duration(sampleBuckets-1) * sampleBucket)
	out := make(map[string][]bucket, len(s.buckets))
	for q, bs := range s.buckets {
		full := make([]bucket, sampleBuckets)
		for i := range full {
			full[i].start = first.Add(time.Duration(i) * sampleBucket)
		}
		for _, b := range bs {
			if i := int(b.start.Sub(first) / sampleBucket); i >= 0 && i < sampleBuckets {
				full[i] = b
			}
		}
		out[q] = full
	}
	return out, s.first
}

// chart is a small SVG bar chart of one series; the template draws it.
type chart struct {
	// Bars are in the SVG's coordinates (viewBox 0 0 chartWidth chartHeight).
	Bars []bar
	// Summary describes the chart in words, for screen readers and tooltips.
	Summary string
}

// bar is one bar of a chart.
type bar struct {
	X, Y, W, H string
	Title      string
}

const (
	chartWidth  = 150
	chartHeight = 32
)

// charts draws a queue's throughput (jobs finished per minute) and failure
// rate (share of the finished jobs that failed) per bucket.
func charts(bs []bucket) (throughput, failures chart) {
	perMinute := float64(time.Minute / sampleBucket)
	peak := 0
	done, failed := 0, 0
	for _, b := range bs {
		peak = max(peak, b.finished)
		done += b.finished
		failed += b.failed
	}
	w := float64(chartWidth) / float64(sampleBuckets)
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
	for i, b := range bs {
		x := num(float64(i)*w + 0.5)
		at := b.start.UTC().Format("15:04:05")
		if b.finished > 0 {
			h := max(float64(b.finished)/float64(peak)*(chartHeight-2), 1)
			throughput.Bars = append(throughput.Bars, bar{X: x, Y: num(chartHeight - h), W: num(w - 1), H: num(h),
				Title: fmt.Sprintf("%s: %.0f jobs/min", at, float64(b.finished)*perMinute)})
			rate := float64(b.failed) / float64(b.finished)
			if b.failed > 0 {
				fh := max(rate*(chartHeight-2), 1)
				failures.Bars = append(failures.Bars, bar{X: x, Y: num(chartHeight - fh), W: num(w - 1), H: num(fh),
					Title: fmt.Sprintf("%s: %.0f%% failed", at, rate*100)})
			}
		}
	}
	const window = "15 minutes"
	throughput.Summary = fmt.Sprintf("%d jobs finished in the last %s, at most %.0f per minute", done, window, float64(peak)*perMinute)
	if done == 0 {
		failures.Summary = fmt.Sprintf("no job finished in the last %s", window)
	} else {
		failures.Summary = fmt.Sprintf("%d of %d finished jobs failed in the last %s", failed, done, window)
	}
	return throughput, failures
}

// share is bucket i's part of total split over n buckets: equal parts, the
// remainder on the last ones.
func share(total, n, i int) int {
	part := total / n
	if i >= n-total%n {
		part++
	}
	return part
}
