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

func newMetrics(reg prometheus.Registerer, st Store, now func() time.Time, timeout time.Duration, log *slog.Logger) (*metrics, error) {
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
	qc := newQueueCollector(st, now, timeout, log)
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

// queueCollector reads the queue statistics from the store at each scrape.
type queueCollector struct {
	store   Store
	now     func() time.Time
	timeout time.Duration
	log     *slog.Logger

	jobs      *prometheus.Desc
	age       *prometheus.Desc
	up        *prometheus.Desc
	outbox    *prometheus.Desc
	outboxAge *prometheus.Desc
}

func newQueueCollector(st Store, now func() time.Time, timeout time.Duration, log *slog.Logger) *queueCollector {
	return &queueCollector{
		store: st, now: now, timeout: timeout, log: log,
		jobs: prometheus.NewDesc("flask_queue_jobs",
			"Jobs in each queue by state, read from the store at scrape time.",
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
	}
}

// Describe sends the descriptors of the queue metrics.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.jobs
	ch <- c.age
	ch <- c.up
	ch <- c.outbox
	ch <- c.outboxAge
}

// Collect reads the queue and outbox statistics, within the collector's
// timeout. When a read fails it reports flask_queue_stats_up 0 and no queue
// metrics, rather than failing the whole scrape.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	stats, err := c.store.QueueStats(ctx)
	if err != nil {
		c.log.WarnContext(ctx, "read queue statistics for metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	n, oldest, err := c.store.OutboxStats(ctx)
	if err != nil {
		c.log.WarnContext(ctx, "read outbox statistics for metrics", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	now := c.now()
	ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.outboxAge, prometheus.GaugeValue, ageSeconds(now, oldest))
	for _, q := range stats {
		for _, st := range job.States() {
			ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(q.Counts[st]), q.Queue, string(st))
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, ageSeconds(now, q.OldestQueuedAt), q.Queue)
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
