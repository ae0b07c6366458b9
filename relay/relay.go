// Package relay moves committed work onto the broker: it publishes outbox
// entries right after their transaction commits (Dispatch), and in the
// background (Run) republishes entries whose publish failed or whose
// publisher died, and queues scheduled and retrying jobs whose time has come.
//
// Because every "publish this" is first committed to the outbox in the same
// transaction as the job change, a crash between commit and publish loses
// nothing: the sweep publishes it later. Publishing twice is harmless —
// brokers de-duplicate by entry id where they can, and workers skip a job
// they cannot claim.
package relay

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/store"
)

// Store is what the relay needs from the job store.
type Store interface {
	ForgetOutbox(ids []string)
	PendingOutbox(ctx context.Context, olderThan time.Time, limit int) ([]store.OutboxEntry, error)
	PromoteDue(ctx context.Context, limit int) ([]store.OutboxEntry, error)
	PruneWorkers(ctx context.Context, olderThan time.Time) (int, error)
	RescueJobs(ctx context.Context, p store.RescueParams) (store.RescueResult, error)
}

// Config tunes a Relay.
type Config struct {
	// Interval is how often due scheduled and retrying jobs are queued.
	// Default 250ms.
	Interval time.Duration
	// SweepInterval is how often the outbox is swept for entries left
	// behind. Default 2s.
	SweepInterval time.Duration
	// OutboxGrace is how old an outbox entry must be before the sweep
	// republishes it, so that it does not race the request that wrote it.
	// Default 5s.
	OutboxGrace time.Duration
	// BatchSize caps the jobs promoted or republished per round. Default 1000.
	BatchSize int
	// WorkerRetention is how long a silent worker's record is kept. Default 1h.
	WorkerRetention time.Duration
	// RescueAfter is how long a running job's worker must have been silent
	// before the relay ends the lost attempt and retries the job (see
	// store.RescueJobs); it must be below WorkerRetention. Default 5m.
	RescueAfter time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Interval <= 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 2 * time.Second
	}
	if c.OutboxGrace <= 0 {
		c.OutboxGrace = 5 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.WorkerRetention <= 0 {
		c.WorkerRetention = time.Hour
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = 5 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Relay publishes outbox entries.
type Relay struct {
	cfg   Config
	store Store
	pub   events.Publisher
	log   *slog.Logger

	published prometheus.Counter
	failed    prometheus.Counter
	promoted  prometheus.Counter
	swept     prometheus.Counter
	rescued   *prometheus.CounterVec
	pubErrors *prometheus.CounterVec
}

// New builds a relay; metrics are registered on reg.
func New(cfg Config, st Store, pub events.Publisher, log *slog.Logger, reg prometheus.Registerer) (*Relay, error) {
	cfg.setDefaults()
	if cfg.RescueAfter >= cfg.WorkerRetention {
		return nil, fmt.Errorf("relay: RescueAfter (%s) must be below WorkerRetention (%s): a pruned worker's jobs are not found", cfg.RescueAfter, cfg.WorkerRetention)
	}
	r := &Relay{cfg: cfg, store: st, pub: pub, log: log,
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_outbox_published_total", Help: "Outbox entries published to the broker."}),
		failed:    prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_outbox_publish_errors_total", Help: "Outbox entries whose publish failed (they are retried by the sweep)."}),
		promoted:  prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_jobs_promoted_total", Help: "Scheduled and retrying jobs queued when their time came."}),
		swept:     prometheus.NewCounter(prometheus.CounterOpts{Name: "flask_outbox_swept_total", Help: "Outbox entries republished by the sweep after their first publish did not complete."}),
		rescued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flask_jobs_rescued_total",
			Help: "Running jobs of long-silent workers whose lost attempt the relay ended, by outcome (retried, ended)."}, []string{"outcome"}),
		pubErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flask_broker_publish_errors_total",
			Help: "Failed publish calls to the broker, by queue (once per queue of the failed batch)."}, []string{"queue"}),
	}
	for _, c := range []prometheus.Collector{r.published, r.failed, r.promoted, r.swept, r.rescued, r.pubErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("relay metrics: %w", err)
		}
	}
	return r, nil
}

// Dispatch publishes committed outbox entries now and deletes them once the
// broker has accepted them. It never fails its caller: entries it could not
// publish stay in the outbox for the sweep.
func (r *Relay) Dispatch(ctx context.Context, entries []store.OutboxEntry) {
	if len(entries) == 0 {
		return
	}
	if err := r.publish(ctx, entries); err != nil {
		r.log.Warn("publish failed; the outbox sweep will retry", "entries", len(entries), "err", err)
	}
}

func (r *Relay) publish(ctx context.Context, entries []store.OutboxEntry) error {
	msgs := make([]events.Message, len(entries))
	ids := make([]string, len(entries))
	for i, e := range entries {
		// The job's trace context: every message of a job continues the
		// trace it was submitted in.
		msgs[i] = events.Message{ID: e.ID, JobID: e.JobID, Queue: e.Queue, Type: e.Type, Trace: e.Trace}
		ids[i] = e.ID
	}
	if err := r.pub.Publish(ctx, msgs...); err != nil {
		r.failed.Add(float64(len(entries)))
		r.countPublishError(entries)
		return err
	}
	r.published.Add(float64(len(entries)))
	// Deleted in the background: if that is lost, the sweep publishes the
	// entries again, which is harmless.
	r.store.ForgetOutbox(ids)
	return nil
}

// countPublishError counts one failed publish for each queue of entries.
func (r *Relay) countPublishError(entries []store.OutboxEntry) {
	seen := map[string]bool{}
	for _, e := range entries {
		if !seen[e.Queue] {
			seen[e.Queue] = true
			r.pubErrors.WithLabelValues(e.Queue).Inc()
		}
	}
}

// Run promotes due jobs and sweeps the outbox until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.Interval)
	defer tick.Stop()
	lastSweep, lastPrune := time.Time{}, time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := r.promote(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("promote due jobs", "err", err)
		}
		now := r.cfg.Now()
		if now.Sub(lastSweep) >= r.cfg.SweepInterval {
			lastSweep = now
			if err := r.sweep(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("sweep outbox", "err", err)
			}
		}
		if now.Sub(lastPrune) >= time.Minute {
			lastPrune = now
			r.rescue(ctx)
			if n, err := r.store.PruneWorkers(ctx, now.Add(-r.cfg.WorkerRetention)); err != nil && ctx.Err() == nil {
				r.log.Error("prune workers", "err", err)
			} else if n > 0 {
				r.log.Info("pruned silent workers", "count", n)
			}
		}
	}
}

// rescue ends the lost attempts of jobs whose worker has long been silent.
func (r *Relay) rescue(ctx context.Context) {
	res, err := r.store.RescueJobs(ctx, store.RescueParams{SilentFor: r.cfg.RescueAfter, Limit: r.cfg.BatchSize})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("rescue jobs of silent workers", "err", err)
		}
		return
	}
	r.rescued.WithLabelValues("retried").Add(float64(res.Retried))
	r.rescued.WithLabelValues("ended").Add(float64(res.Ended))
	if res.Retried+res.Ended > 0 {
		r.log.Warn("rescued running jobs of silent workers: their broker messages were gone",
			"retried", res.Retried, "ended", res.Ended, "silent_for", r.cfg.RescueAfter)
	}
}

// promote queues due jobs, a batch at a time, until none is due.
func (r *Relay) promote(ctx context.Context) error {
	for {
		entries, err := r.store.PromoteDue(ctx, r.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		r.promoted.Add(float64(len(entries)))
		if err := r.publish(ctx, entries); err != nil {
			return err
		}
		if len(entries) < r.cfg.BatchSize {
			return nil
		}
	}
}

// sweep republishes outbox entries older than the grace period.
func (r *Relay) sweep(ctx context.Context) error {
	entries, err := r.store.PendingOutbox(ctx, r.cfg.Now().Add(-r.cfg.OutboxGrace), r.cfg.BatchSize)
	if err != nil || len(entries) == 0 {
		return err
	}
	r.log.Info("republishing outbox entries", "entries", len(entries))
	r.swept.Add(float64(len(entries)))
	return r.publish(ctx, entries)
}
