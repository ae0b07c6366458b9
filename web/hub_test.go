package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// drain takes every message waiting for s, by event name.
func drain(s *stream) map[string][]message {
	out := map[string][]message{}
	for {
		select {
		case m := <-s.ch:
			out[m.name] = append(out[m.name], m)
		default:
			return out
		}
	}
}

func jobUpdates(t *testing.T, ms []message) map[string]jobUpdate {
	t.Helper()
	out := map[string]jobUpdate{}
	for _, m := range ms {
		var u jobUpdate
		require.NoError(t, json.Unmarshal(m.data, &u))
		out[u.ID] = u
	}
	return out
}

func TestHubOneReadPerPoll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	a := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
	b := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
	c := e.insert(store.InsertParams{Queue: "mail", Type: "email.send"})

	var overviews, jobTabs []*stream
	for range 3 {
		s, err := e.d.hub.subscribe(true, nil)
		require.NoError(t, err)
		overviews = append(overviews, s)
	}
	for _, ids := range [][]string{{a.ID, b.ID}, {b.ID, c.ID}, {a.ID}} {
		s, err := e.d.hub.subscribe(false, ids)
		require.NoError(t, err)
		jobTabs = append(jobTabs, s)
	}
	e.d.hub.poll(e.ctx)
	require.EqualValues(t, 1, e.st.stats.Load(), "one statistics read for three overview tabs")
	require.EqualValues(t, 1, e.st.getJobs.Load(), "one read of the union of the watched jobs")

	// A new stream gets everything it shows, then "live".
	for _, s := range overviews {
		got := drain(s)
		require.Len(t, got["overview"], 1)
		require.Contains(t, string(got["overview"][0].data), `data-queue="mail"`)
		require.Len(t, got["live"], 1)
		require.Empty(t, got["job"])
	}
	got := drain(jobTabs[1])
	ups := jobUpdates(t, got["job"])
	require.Len(t, ups, 2)
	require.Equal(t, job.StateQueued, ups[c.ID].State)
	require.Contains(t, ups[c.ID].Row, `data-job-row="`+c.ID+`"`)
	require.Contains(t, ups[c.ID].Detail, `data-job-detail="`+c.ID+`"`)
	drain(jobTabs[0])
	drain(jobTabs[2])

	// Nothing changed: nothing is sent.
	e.d.hub.poll(e.ctx)
	require.EqualValues(t, 2, e.st.stats.Load())
	for _, s := range append(overviews, jobTabs...) {
		require.Empty(t, drain(s))
	}

	// One job changes: the tabs watching it hear of it, the overviews see the counts.
	_, err := e.raw.CancelJob(e.ctx, b.ID)
	require.NoError(t, err)
	e.d.hub.poll(e.ctx)
	for _, s := range jobTabs[:2] {
		ups := jobUpdates(t, drain(s)["job"])
		require.Len(t, ups, 1, "only the job that changed")
		require.Equal(t, job.StateCancelled, ups[b.ID].State)
		require.Contains(t, ups[b.ID].Row, "state-cancelled")
	}
	require.Empty(t, drain(jobTabs[2]), "this tab does not watch b")
	for _, s := range overviews {
		ov := drain(s)["overview"]
		require.Len(t, ov, 1)
		require.Contains(t, string(ov[0].data), `data-count="cancelled">1<`)
	}
	require.EqualValues(t, 3, e.st.getJobs.Load())
}

func TestHubIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{IdleSampleInterval: time.Hour})
	e.d.hub.poll(e.ctx)
	e.d.hub.poll(e.ctx)
	require.EqualValues(t, 1, e.st.stats.Load(), "without streams, a sample per IdleSampleInterval")
	require.EqualValues(t, 0, e.st.getJobs.Load())
}

func TestHubDropsSlowStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	slow, err := e.d.hub.subscribe(true, nil)
	require.NoError(t, err)
	fast, err := e.d.hub.subscribe(true, nil)
	require.NoError(t, err)
	for range streamBuffer {
		slow.ch <- message{name: "filler"}
	}
	e.d.hub.poll(e.ctx)
	select {
	case <-slow.gone:
	default:
		t.Fatal("a stream whose buffer is full is dropped")
	}
	select {
	case <-fast.gone:
		t.Fatal("the other stream stays")
	default:
	}
	require.NotEmpty(t, drain(fast)["overview"])
	e.d.hub.unsubscribe(slow) // what the handler does on its way out: harmless twice
}

func TestHubLimitsAndShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxStreams: 2, PollInterval: time.Hour})
	s1, err := e.d.hub.subscribe(true, nil)
	require.NoError(t, err)
	_, err = e.d.hub.subscribe(true, nil)
	require.NoError(t, err)
	_, err = e.d.hub.subscribe(true, nil)
	require.ErrorIs(t, err, errTooManyStreams)

	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.d.Run(ctx) }()
	select {
	case m := <-s1.ch:
		require.Equal(t, "overview", m.name, "Run polls at once")
	case <-time.After(10 * time.Second):
		t.Fatal("no first update")
	}
	cancel()
	require.NoError(t, <-done)
	<-s1.gone // closed by Run on its way out; a hang fails the test's deadline
	_, err = e.d.hub.subscribe(true, nil)
	require.ErrorIs(t, err, errHubClosed)
}

// sse reads a stream's events into a channel.
func sse(t *testing.T, url string) (<-chan message, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	out := make(chan message, 64)
	go func() {
		defer close(out)
		r := bufio.NewReader(res.Body)
		var m message
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if m.name != "" {
					out <- m
				}
				m = message{}
			case strings.HasPrefix(line, "event: "):
				m.name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				if m.data != nil {
					m.data = append(m.data, '\n')
				}
				m.data = append(m.data, line[len("data: "):]...)
			}
		}
	}()
	return out, res
}

// next waits for the next event named name, skipping others.
func next(t *testing.T, ch <-chan message, name string) message {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			require.True(t, ok, "stream ended before a %s event", name)
			if m.name == name {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

func TestEventsStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PollInterval: 20 * time.Millisecond})
	j := e.insert(store.InsertParams{Queue: "default", Type: "demo.echo"})
	srv := httptest.NewServer(e.d.Wrap(teapot()))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, q := range []string{"", "?overview=0", "?job=nope", "?job=" + j.ID + "x"} {
		res, err := http.Get(srv.URL + "/ui/events" + q)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "query %q", q)
	}
	var many []string
	for i := range maxWatched + 1 {
		many = append(many, "job="+fmt.Sprintf("0190d7b4-7e6a-7c2e-8b7e-%012d", i))
	}
	res, err := http.Get(srv.URL + "/ui/events?" + strings.Join(many, "&"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "at most maxWatched jobs per stream")

	events, res := sse(t, srv.URL+"/ui/events?overview=1&job="+j.ID)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	require.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'none'")
	ov := next(t, events, "overview") // a fresh stream gets the overview, its jobs, then "live"
	require.Contains(t, string(ov.data), "\n", "multi-line HTML arrives whole: one data line per line")
	require.Contains(t, string(ov.data), `data-queue="default"`)
	first := next(t, events, "job")
	var u jobUpdate
	require.NoError(t, json.Unmarshal(first.data, &u))
	require.Equal(t, job.StateQueued, u.State)
	next(t, events, "live")

	_, err = e.raw.CancelJob(e.ctx, j.ID)
	require.NoError(t, err)
	for {
		m := next(t, events, "job")
		require.NoError(t, json.Unmarshal(m.data, &u))
		if u.State == job.StateCancelled {
			break
		}
	}
	require.Contains(t, u.Detail, "state-cancelled")
	require.NotContains(t, u.Detail, `data-action="cancel"`)

	cancel()
	for range events {
		// Run closes the stream when it stops: the channel ends.
	}
}

func TestSampler(t *testing.T) {
	t.Parallel()
	s := newSampler()
	t0 := time.Date(2026, 11, 26, 10, 0, 5, 0, time.UTC)
	stats := func(succeeded, failed int) []store.QueueStats {
		return []store.QueueStats{{Queue: "default", Counts: map[job.State]int{job.StateSucceeded: succeeded, job.StateFailed: failed, job.StateQueued: 7}}}
	}
	s.observe(t0, stats(100, 10)) // baseline: what existed before is not throughput
	series, since := s.series(t0)
	require.Empty(t, series)
	require.Equal(t, t0, since)

	s.observe(t0.Add(10*time.Second), stats(104, 11))
	s.observe(t0.Add(20*time.Second), stats(106, 11))
	s.observe(t0.Add(40*time.Second), stats(106, 9)) // two failed jobs retried by hand: no negative throughput
	s.observe(t0.Add(50*time.Second), append(stats(107, 10), store.QueueStats{Queue: "new", Counts: map[job.State]int{job.StateSucceeded: 2}}))

	series, _ = s.series(t0.Add(50 * time.Second))
	d := series["default"]
	require.Len(t, d, sampleBuckets)
	last, prev := d[sampleBuckets-1], d[sampleBuckets-2]
	require.Equal(t, t0.Add(30*time.Second).Truncate(sampleBucket), last.start)
	require.Equal(t, bucket{start: prev.start, finished: 7, failed: 1}, prev, "10:00:00–10:00:30: +6 succeeded, +1 failed")
	require.Equal(t, bucket{start: last.start, finished: 2, failed: 1}, last, "10:00:30–10:01:00: +1 succeeded, +1 failed (after a drop of 2)")
	require.Equal(t, 2, series["new"][sampleBuckets-1].finished, "a queue that appears later started from zero")

	tp, fr := charts(d)
	require.Len(t, tp.Bars, 2)
	require.Len(t, fr.Bars, 2)
	require.Contains(t, tp.Summary, "9 jobs finished")
	require.Contains(t, fr.Summary, "2 of 9 finished jobs failed")

	// Fifteen minutes on, the old buckets are gone.
	later := t0.Add(sampleWindow + time.Minute)
	s.observe(later, stats(107, 10))
	series, _ = s.series(later)
	for _, b := range series["default"] {
		require.Zero(t, b.finished, "the old buckets left the window")
	}
	require.NotContains(t, series, "new", "a queue without a reading in the window has no chart")
}

// The hub feeds the throughput sampler each reading of the finished counts
// once: the shared statistics refresh them once per
// FLASK_STATS_TERMINAL_TTL, and polls in between see the same reading.
func TestHubSamplesEachFinishedReadingOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{IdleSampleInterval: time.Nanosecond})
	fixed := &fixedStats{}
	e.d.stats = fixed
	reading := func(at time.Time, succeeded int) {
		fixed.snap = store.StatsSnapshot{Finished: true, FinishedAt: at, At: at,
			Queues: []store.QueueStats{{Queue: "default", Counts: map[job.State]int{job.StateSucceeded: succeeded}}}}
	}
	reading(start, 100)
	e.d.hub.poll(e.ctx) // baseline
	reading(start.Add(10*time.Second), 104)
	e.d.hub.poll(e.ctx)
	e.d.hub.poll(e.ctx) // the same reading again: not counted twice
	e.d.hub.poll(e.ctx)
	// Finished counts unknown (missing from the queues, not zero): nothing
	// sampled, or the next reading would count all of history as new.
	reading(start.Add(15*time.Second), 0)
	fixed.snap.Finished = false
	e.d.hub.poll(e.ctx)
	reading(start.Add(20*time.Second), 105)
	e.d.hub.poll(e.ctx)
	series, _ := e.d.hub.sampler.series(start.Add(20 * time.Second))
	total := 0
	for _, b := range series["default"] {
		total += b.finished
	}
	require.Equal(t, 5, total)
}

// A reading a minute after the previous one spreads its growth over the
// 30-second bars it covers rather than leaving one of them empty.
func TestSamplerSpreadsOverBuckets(t *testing.T) {
	t.Parallel()
	s := newSampler()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(succeeded int) []store.QueueStats {
		return []store.QueueStats{{Queue: "q", Counts: map[job.State]int{job.StateSucceeded: succeeded}}}
	}
	s.observe(t0.Add(5*time.Second), at(0))
	s.observe(t0.Add(65*time.Second), at(9)) // covers the bars at 0:30 and 1:00
	series, _ := s.series(t0.Add(70 * time.Second))
	var got []int
	for _, b := range series["q"] {
		got = append(got, b.finished)
	}
	require.Equal(t, []int{0, 4, 5}, got[len(got)-3:], "9 jobs over the two bars after the previous reading's, the remainder on the last")
}

type fixedStats struct{ snap store.StatsSnapshot }

func (f *fixedStats) StatsSnapshot(context.Context) (store.StatsSnapshot, error) { return f.snap, nil }
