package worker

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flaskhq/flask/job"
)

// metrics are the worker's Prometheus series. Labels stay bounded: queue,
// type and state, never job ids.
type metrics struct {
	started   *prometheus.CounterVec
	finished  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	wait      *prometheus.HistogramVec
	inFlight  *prometheus.GaugeVec
	skipped   *prometheus.CounterVec
	redeliver *prometheus.CounterVec
	errors    *prometheus.CounterVec
	brokerErr *prometheus.CounterVec
	slots     *prometheus.GaugeVec

	series sync.Map // queue + "\x00" + type → *jobSeries
}

// jobSeries are one queue and type's series, looked up once rather than per job.
type jobSeries struct {
	started  prometheus.Counter
	wait     prometheus.Observer
	duration prometheus.Observer
	inFlight prometheus.Gauge
	finished map[job.State]prometheus.Counter
}

// endStates are the states an attempt can leave a job in.
var endStates = []job.State{job.StateSucceeded, job.StateFailed, job.StateRetrying, job.StateCancelled, job.StateQueued, job.StateScheduled}

func (m *metrics) forJob(queue, typ string) *jobSeries {
	key := queue + "\x00" + typ
	if s, ok := m.series.Load(key); ok {
		return s.(*jobSeries)
	}
	s := &jobSeries{
		started:  m.started.WithLabelValues(queue, typ),
		wait:     m.wait.WithLabelValues(queue, typ),
		duration: m.duration.WithLabelValues(queue, typ),
		inFlight: m.inFlight.WithLabelValues(queue),
		finished: make(map[job.State]prometheus.Counter, len(endStates)),
	}
	for _, st := range endStates {
		s.finished[st] = m.finished.WithLabelValues(queue, typ, string(st))
	}
	actual, _ := m.series.LoadOrStore(key, s)
	return actual.(*jobSeries)
}

// brokerError counts a failed broker call of a queue: op is fetch, ack,
// nak or extend.
func (m *metrics) brokerError(queue, op string) {
	m.brokerErr.WithLabelValues(queue, op).Inc()
}

// newMetrics registers the worker's metrics; queues maps each queue drained
// to its concurrency, the worker's capacity.
func newMetrics(reg prometheus.Registerer, queues map[string]int) (*metrics, error) {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}
	m := &metrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_jobs_started_total", Help: "Attempts started by this worker.",
		}, []string{"queue", "type"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_jobs_finished_total", Help: "Attempts finished by this worker, by the state they left the job in.",
		}, []string{"queue", "type", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flask_job_run_duration_seconds", Help: "Time a handler ran, per attempt.", Buckets: buckets,
		}, []string{"queue", "type"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flask_job_queue_wait_seconds", Help: "Time from a job becoming runnable to its attempt starting.", Buckets: buckets,
		}, []string{"queue", "type"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flask_worker_jobs_in_flight", Help: "Attempts running now in this worker.",
		}, []string{"queue"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_deliveries_skipped_total", Help: "Deliveries acknowledged without running, by reason (duplicate, missing, busy...).",
		}, []string{"queue", "reason"}),
		redeliver: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_redeliveries_total", Help: "Deliveries that were not the message's first.",
		}, []string{"queue"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_worker_errors_total", Help: "Errors talking to the store, by operation (claim, finish, heartbeat); broker errors are flask_broker_consume_errors_total.",
		}, []string{"op"}),
		brokerErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flask_broker_consume_errors_total", Help: "Failed broker calls of the consuming side, by queue and operation (fetch, ack, nak, extend).",
		}, []string{"queue", "op"}),
		slots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "flask_worker_concurrency", Help: "Attempts this worker may run at once per queue (its capacity; compare with flask_worker_jobs_in_flight).",
		}, []string{"queue"}),
	}
	for _, c := range []prometheus.Collector{m.started, m.finished, m.duration, m.wait, m.inFlight, m.skipped, m.redeliver, m.errors, m.brokerErr, m.slots} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for q, n := range queues {
		m.slots.WithLabelValues(q).Set(float64(n))
		m.inFlight.WithLabelValues(q) // present at 0 before the first job
	}
	return m, nil
}
