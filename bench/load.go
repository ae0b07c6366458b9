package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flaskhq/flask/api/auth"
)

// newClient is a keep-alive HTTP client for conns concurrent requests.
func newClient(conns int) *http.Client {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * conns,
		MaxIdleConnsPerHost:   2 * conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		DisableCompression:    true,
	}
	return &http.Client{Transport: keyed{tr}, Timeout: 90 * time.Second}
}

// benchKey is the admin API key of every deployment the driver starts
// (flask-api makes it from FLASK_BOOTSTRAP_API_KEY); the load sends it.
var benchKey = func() string {
	k, err := auth.NewKey()
	if err != nil {
		panic(err)
	}
	return k.Token()
}()

// keyed sends the bench key with every request.
type keyed struct{ rt http.RoundTripper }

func (k keyed) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+benchKey)
	return k.rt.RoundTrip(r)
}

// loadStats is what a load generator saw.
type loadStats struct {
	First, Last time.Time // first request sent, last response read
	Requests    int
	Accepted    int // jobs in 2xx answers
	Errors      int
	FirstError  string
	Latencies   []time.Duration // per request, sorted
}

// recorder collects the outcome of requests from many goroutines.
type recorder struct {
	mu sync.Mutex
	loadStats
}

func (r *recorder) record(start, end time.Time, lat time.Duration, jobs int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.First.IsZero() || start.Before(r.First) {
		r.First = start
	}
	if end.After(r.Last) {
		r.Last = end
	}
	r.Requests++
	if err != nil {
		r.Errors++
		if r.FirstError == "" {
			r.FirstError = err.Error()
		}
		return
	}
	r.Accepted += jobs
	r.Latencies = append(r.Latencies, lat)
}

func (r *recorder) stats() loadStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.loadStats
	s.Latencies = slices.Clone(s.Latencies)
	slices.Sort(s.Latencies)
	return s
}

// post sends one JSON body and reads the answer, which must be 201.
func post(ctx context.Context, c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// noopJob is one demo.echo job whose payload is null: it does nothing.
const noopJob = `{"type":"demo.echo","payload":null}`

// batchBody is a batch request of n no-op jobs.
func batchBody(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"jobs":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(noopJob)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// closedLoop submits total jobs, per jobs at a time, from clients
// goroutines that each wait for an answer before sending again. It stops
// at the first error of each client, or when ctx ends.
func closedLoop(ctx context.Context, c *http.Client, url string, body []byte, per, total, clients int) loadStats {
	var next atomic.Int64
	requests := (total + per - 1) / per
	var rec recorder
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				if next.Add(1) > int64(requests) {
					return
				}
				start := time.Now()
				err := post(ctx, c, url, body)
				end := time.Now()
				rec.record(start, end, end.Sub(start), per, err)
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return rec.stats()
}

// openLoop offers rate single-job submissions per second for d, whatever
// the answers: schedulers goroutines share the schedule, and each request
// is sent from its own goroutine at its planned time. A request's latency
// counts from its planned time, so a stall in the driver is not hidden
// (no coordinated omission).
func openLoop(ctx context.Context, c *http.Client, url string, rate int, d time.Duration, schedulers int) loadStats {
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	var rec recorder
	var sends sync.WaitGroup
	var sched sync.WaitGroup
	start := time.Now().Add(20 * time.Millisecond)
	body := []byte(noopJob)
	for s := range schedulers {
		sched.Go(func() {
			for i := s; i < total; i += schedulers {
				at := start.Add(time.Duration(i) * interval)
				if wait := time.Until(at); wait > 0 {
					if sleepCtx(ctx, wait) != nil {
						return
					}
				}
				sends.Go(func() {
					sent := time.Now()
					err := post(ctx, c, url, body)
					end := time.Now()
					rec.record(sent, end, end.Sub(at), 1, err)
				})
			}
		})
	}
	sched.Wait()
	sends.Wait()
	return rec.stats()
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
