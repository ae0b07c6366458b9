package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/telemetry"
)

// Limits of one stream.
const (
	// maxWatched caps the jobs one stream watches: a page shows at most maxPageSize.
	maxWatched = maxPageSize
	// streamBuffer is how many messages may wait for a slow stream before
	// the hub drops it (its page reconnects and gets everything afresh).
	streamBuffer = 64
	// getJobsChunk caps the ids of one GetJobs call.
	getJobsChunk = 500
)

// errTooManyStreams refuses a stream beyond Config.MaxStreams.
var errTooManyStreams = errors.New("too many live-update streams are open")

// errHubClosed refuses a stream once Run has returned.
var errHubClosed = errors.New("the dashboard is shutting down")

// message is one server-sent event.
type message struct {
	name string
	data []byte
}

// stream is one open live-update stream: what its page watches and the
// messages waiting for it.
type stream struct {
	overview bool
	ids      []string
	ch       chan message
	// gone is closed when the hub drops the stream or stops.
	gone chan struct{}
	// fresh is set until the stream has had one full update; guarded by hub.mu.
	fresh bool
}

// jobKey holds the fields of a job that change during its life: when it
// differs from the last poll's, the job's fragments are sent again.
type jobKey struct {
	state                         job.State
	attempt, maxAttempts, nErrors int
	runAt                         time.Time
	startedAt, finishedAt, cancel time.Time
	worker                        string
}

func keyOf(j job.Job) jobKey {
	k := jobKey{state: j.State, attempt: j.Attempt, maxAttempts: j.MaxAttempts, nErrors: len(j.Errors), runAt: j.RunAt, worker: j.WorkerID}
	if j.StartedAt != nil {
		k.startedAt = *j.StartedAt
	}
	if j.FinishedAt != nil {
		k.finishedAt = *j.FinishedAt
	}
	if j.CancelRequestedAt != nil {
		k.cancel = *j.CancelRequestedAt
	}
	return k
}

// hub is the one poller of a process. Every PollInterval, while streams are
// open, it reads the queue statistics (and the workers) once if any stream
// shows the overview, and the union of the watched jobs with GetJobs, and
// sends each stream what changed for it. The database load is one round of
// reads per interval whatever the number of open tabs.
type hub struct {
	d       *Dashboard
	sampler *sampler
	kick    chan struct{}

	mu       sync.Mutex
	streams  map[*stream]struct{}
	closed   bool
	seen     map[string]jobKey
	overview []byte

	// Used by the polling goroutine only.
	lastPoll, lastSample time.Time
	failing              bool
	// finishedAt is when the finished counts the sampler last saw were read.
	finishedAt time.Time
}

func newHub(d *Dashboard) *hub {
	return &hub{d: d, sampler: newSampler(), kick: make(chan struct{}, 1), streams: map[*stream]struct{}{}, seen: map[string]jobKey{}}
}

// subscribe opens a stream for the overview and/or the jobs ids.
func (h *hub) subscribe(overview bool, ids []string) (*stream, error) {
	s := &stream{overview: overview, ids: ids, ch: make(chan message, streamBuffer), gone: make(chan struct{}), fresh: true}
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		return nil, errHubClosed
	case len(h.streams) >= h.d.cfg.MaxStreams:
		h.mu.Unlock()
		return nil, errTooManyStreams
	}
	h.streams[s] = struct{}{}
	n := len(h.streams)
	h.mu.Unlock()
	h.d.metrics.streams.Set(float64(n))
	// Poll soon, so the new page catches up with what changed since it was rendered.
	select {
	case h.kick <- struct{}{}:
	default:
	}
	return s, nil
}

// unsubscribe forgets a stream; its handler calls it on the way out.
func (h *hub) unsubscribe(s *stream) {
	h.mu.Lock()
	h.dropLocked(s)
	n := len(h.streams)
	h.mu.Unlock()
	h.d.metrics.streams.Set(float64(n))
}

func (h *hub) dropLocked(s *stream) {
	if _, ok := h.streams[s]; ok {
		delete(h.streams, s)
		close(s.gone)
	}
}

// run polls until ctx ends, then closes every stream and refuses new ones.
func (h *hub) run(ctx context.Context) error {
	interval := h.d.cfg.PollInterval
	t := time.NewTicker(interval)
	defer t.Stop()
	defer h.closeAll()
	h.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.poll(ctx)
		case <-h.kick:
			// A burst of new streams (say, every tab reconnecting after a
			// restart) costs at most four extra polls per interval.
			if time.Since(h.lastPoll) >= interval/4 {
				h.poll(ctx)
			}
		}
	}
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.streams {
		h.dropLocked(s)
	}
	h.d.metrics.streams.Set(0)
}

// poll reads the store once and sends each stream its changes. Without
// streams it only samples the queue counts for the charts, every
// IdleSampleInterval.
func (h *hub) poll(ctx context.Context) {
	h.mu.Lock()
	streams := make([]*stream, 0, len(h.streams))
	wantOverview := false
	idset := map[string]bool{}
	for s := range h.streams {
		streams = append(streams, s)
		wantOverview = wantOverview || s.overview
		for _, id := range s.ids {
			idset[id] = true
		}
	}
	h.mu.Unlock()
	if len(streams) == 0 && !h.lastSample.IsZero() && time.Since(h.lastSample) < h.d.cfg.IdleSampleInterval {
		return
	}
	h.lastPoll = time.Now()
	h.d.metrics.polls.Inc()

	ovHTML, jobs, err := h.read(ctx, wantOverview, idset)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		h.d.metrics.pollErrors.Inc()
		if !h.failing {
			h.d.log.WarnContext(ctx, "dashboard live updates: store read failed; retrying every poll", "err", err)
		}
		h.failing = true
		h.broadcast(streams, message{name: "stale", data: []byte("the server cannot read the job store")})
		return
	}
	if h.failing {
		h.d.log.InfoContext(ctx, "dashboard live updates: store reads work again")
		h.failing = false
	}

	h.mu.Lock()
	ovChanged := wantOverview && !bytes.Equal(ovHTML, h.overview)
	if wantOverview {
		h.overview = ovHTML
	}
	changed := map[string]bool{}
	seen := make(map[string]jobKey, len(jobs))
	for _, j := range jobs {
		k := keyOf(j)
		if old, ok := h.seen[j.ID]; !ok || old != k {
			changed[j.ID] = true
		}
		seen[j.ID] = k
	}
	h.seen = seen
	render := map[string]bool{}
	for id := range changed {
		render[id] = true
	}
	for _, s := range streams {
		if _, open := h.streams[s]; open && s.fresh {
			for _, id := range s.ids {
				render[id] = true
			}
		}
	}
	h.mu.Unlock()

	msgs := make(map[string]message, len(render))
	for _, j := range jobs {
		if !render[j.ID] {
			continue
		}
		m, err := h.jobMessage(j)
		if err != nil {
			h.d.log.ErrorContext(telemetry.Extract(ctx, j.Trace), "dashboard live updates: render job",
				"job_id", j.ID, "queue", j.Queue, "type", j.Type, "attempt", j.Attempt, "err", err)
			continue
		}
		msgs[j.ID] = m
	}
	ovMsg := message{name: "overview", data: ovHTML}

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range streams {
		if _, open := h.streams[s]; !open {
			continue
		}
		var out []message
		if s.overview && (ovChanged || s.fresh) {
			out = append(out, ovMsg)
		}
		for _, id := range s.ids {
			if m, ok := msgs[id]; ok && (s.fresh || changed[id]) {
				out = append(out, m)
			}
		}
		if s.fresh {
			out = append(out, message{name: "live", data: []byte("ok")})
		}
		s.fresh = false
		h.sendLocked(s, out)
	}
}

// read does one poll's store reads and renders the overview fragment.
func (h *hub) read(ctx context.Context, wantOverview bool, idset map[string]bool) ([]byte, []job.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, h.d.cfg.ReadTimeout)
	defer cancel()
	snap, err := h.d.stats.StatsSnapshot(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read queue statistics: %w", err)
	}
	// The finished counts change once per FLASK_STATS_TERMINAL_TTL: the
	// throughput sampler takes each new reading once.
	if snap.Finished && !snap.FinishedAt.Equal(h.finishedAt) {
		h.sampler.observe(snap.FinishedAt, snap.Queues)
		h.finishedAt = snap.FinishedAt
	}
	h.lastSample = time.Now()
	var ovHTML []byte
	if wantOverview {
		if ovHTML, err = h.d.renderFragment("overview-live", h.d.buildOverview(snap.Queues, snap.Workers)); err != nil {
			return nil, nil, err
		}
	}
	ids := make([]string, 0, len(idset))
	for id := range idset {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var jobs []job.Job
	for chunk := range slices.Chunk(ids, getJobsChunk) {
		js, err := h.d.store.GetJobs(ctx, chunk)
		if err != nil {
			return nil, nil, fmt.Errorf("read %d watched jobs: %w", len(chunk), err)
		}
		jobs = append(jobs, js...)
	}
	return ovHTML, jobs, nil
}

// jobUpdate is the data of a "job" event: the job's new table row and
// detail section, rendered by the same templates as the pages.
type jobUpdate struct {
	ID     string    `json:"id"`
	State  job.State `json:"state"`
	Row    string    `json:"row"`
	Detail string    `json:"detail"`
}

func (h *hub) jobMessage(j job.Job) (message, error) {
	row, err := h.d.renderFragment("jobrow", j)
	if err != nil {
		return message{}, err
	}
	detail, err := h.d.renderFragment("jobdetail", buildJobView(j))
	if err != nil {
		return message{}, err
	}
	data, err := json.Marshal(jobUpdate{ID: j.ID, State: j.State, Row: string(row), Detail: string(detail)})
	if err != nil {
		return message{}, fmt.Errorf("encode job update: %w", err)
	}
	return message{name: "job", data: data}, nil
}

func (h *hub) broadcast(streams []*stream, m message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range streams {
		if _, open := h.streams[s]; open {
			h.sendLocked(s, []message{m})
		}
	}
}

// sendLocked queues messages for s without blocking; a stream too slow to
// take them is dropped, and its page reconnects.
func (h *hub) sendLocked(s *stream, msgs []message) {
	for _, m := range msgs {
		select {
		case s.ch <- m:
		default:
			h.d.metrics.dropped.Inc()
			h.dropLocked(s)
			return
		}
	}
}

// metrics are the dashboard's Prometheus series.
type metrics struct {
	streams    prometheus.Gauge
	polls      prometheus.Counter
	pollErrors prometheus.Counter
	dropped    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "flask_web_streams",
			Help: "Live-update streams open on the dashboard."}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_web_polls_total",
			Help: "Store reads of the dashboard's live-update hub."}),
		pollErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_web_poll_errors_total",
			Help: "Failed store reads of the dashboard's live-update hub."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_web_streams_dropped_total",
			Help: "Live-update streams dropped because their client read too slowly."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.streams, m.polls, m.pollErrors, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
