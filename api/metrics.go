package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flaskhq/flask/job"
)

// metrics are the API's Prometheus metrics. Every label is bounded: routes
// are patterns, methods a fixed set, types come from the catalog and queues
// from the jobs accepted.
type metrics struct {
	submitted *prometheus.CounterVec
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, stats *statsCache, log *slog.Logger) (*metrics, error) {
	m := &metrics{
		submitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_jobs_submitted_total",
			Help: "Jobs accepted through the API, by queue and type; a repeated idempotency key does not count.",
		}, []string{"queue", "type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flask_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
	}
	if reg == nil {
		return m, nil
	}
	qc := newQueueCollector(stats, log)
	for _, c := range []prometheus.Collector{m.submitted, m.requests, m.duration, qc} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) observeRequest(route, method string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, method, statusLabel(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(elapsed.Seconds())
}

// queueCollector reports the queue statistics of the store at each scrape,
// through the statistics cache: several scrapers, the dashboard and the
// autoscalers cause one read per cache period.
type queueCollector struct {
	stats *statsCache
	log   *slog.Logger

	jobs      *prometheus.Desc
	age       *prometheus.Desc
	up        *prometheus.Desc
	outbox    *prometheus.Desc
	outboxAge *prometheus.Desc
	workers   *prometheus.Desc
	slots     *prometheus.Desc
}

func newQueueCollector(stats *statsCache, log *slog.Logger) *queueCollector {
	return &queueCollector{
		stats: stats, log: log,
		jobs: prometheus.NewDesc("flask_queue_jobs",
			"Jobs in each queue by state, over every tenant: scheduled, queued, running and retrying read at scrape time, succeeded, failed and cancelled at most once per FLASK_STATS_TERMINAL_TTL.",
			[]string{"queue", "state"}, nil),
		age: prometheus.NewDesc("flask_queue_oldest_age_seconds",
			"Age of the oldest job waiting in each queue since it became runnable; 0 when none waits.",
			[]string{"queue"}, nil),
		up: prometheus.NewDesc("flask_queue_stats_up",
			"1 if the last read of the queue statistics succeeded, else 0.",
			nil, nil),
		outbox: prometheus.NewDesc("flask_outbox_entries",
			"Committed jobs whose message is not yet confirmed published (the relay's backlog).",
			nil, nil),
		outboxAge: prometheus.NewDesc("flask_outbox_oldest_age_seconds",
			"Age of the oldest unpublished outbox entry; 0 when none waits. Growing means publishing is failing.",
			nil, nil),
		workers: prometheus.NewDesc("flask_queue_workers",
			"Live workers (last heartbeat within FLASK_WORKER_TTL, 30s by default) draining each queue, from the store's worker records.",
			[]string{"queue"}, nil),
		slots: prometheus.NewDesc("flask_queue_worker_slots",
			"Jobs the live workers of each queue may run at once (the sum of their concurrency for it).",
			[]string{"queue"}, nil),
	}
}

// Describe sends the descriptors of the queue metrics.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.jobs, c.age, c.up, c.outbox, c.outboxAge, c.workers, c.slots} {
		ch <- d
	}
}

// Collect reports the queue, outbox and worker statistics. When the read
// fails it reports flask_queue_stats_up 0 and nothing else, rather than
// failing the whole scrape; while the finished jobs' counts are unknown
// their flask_queue_jobs series are left out.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	snap, err := c.stats.get(context.Background())
	if err != nil {
		c.log.Warn("read statistics for metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(snap.outbox))
	ch <- prometheus.MustNewConstMetric(c.outboxAge, prometheus.GaugeValue, ageSeconds(snap.at, snap.outboxOldest))
	workers, slots := snap.queueWorkers()
	seen := map[string]bool{}
	for _, q := range snap.queues {
		seen[q.Queue] = true
		for _, st := range job.States() {
			if st.Terminal() && !snap.terminal {
				continue // unknown, not zero: a drop to 0 would look like a reset to delta()
			}
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(q.Counts[st]), q.Queue, string(st))
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, ageSeconds(snap.at, q.OldestQueuedAt), q.Queue)
	}
	// Every queue with jobs or live workers: 0 workers beside waiting jobs
	// is what the "no workers" alert looks for.
	for q := range workers {
		seen[q] = true
	}
	for q := range seen {
		ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(workers[q]), q)
		ch <- prometheus.MustNewConstMetric(c.slots, prometheus.GaugeValue, float64(slots[q]), q)
	}
}

// ageSeconds is how long ago t was, never negative; 0 for nil.
func ageSeconds(now time.Time, t *time.Time) float64 {
	if t == nil {
		return 0
	}
	if d := now.Sub(*t); d > 0 {
		return d.Seconds()
	}
	return 0
}
