package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// snapshot is one read of the platform-wide statistics: every queue's
// counts, the outbox, and the worker records.
type snapshot struct {
	// queues holds the active states' counts and oldest queued job as read,
	// merged with the finished states' counts of the last terminal read.
	queues []store.QueueStats
	// terminal is false when the finished states' counts are unknown (their
	// first read has not ended, or the reads failed for a while): they are
	// then missing from queues, not zero.
	terminal bool
	// terminalAt is when the finished counts merged into queues were read
	// (server clock).
	terminalAt   time.Time
	outbox       int
	outboxOldest *time.Time
	workers      []store.WorkerInfo
	// workerTTL is the heartbeat age past which a worker no longer counts.
	workerTTL time.Duration
	// at is the server clock's time of the read (ages are measured from
	// it); read the monotonic time the cache expires it by.
	at, read time.Time
}

// statsCache reads the statistics at most once per ttl, however many
// scrapers and autoscalers ask: concurrent callers of an expired snapshot
// wait for the one read in progress rather than starting their own.
//
// The counts of finished jobs (succeeded, failed, cancelled) grow without
// bound and cost a scan of an index entry per job, so they are read apart,
// at most once per terminalTTL, beside the active read (on another
// connection). The snapshot waits for that read only within the read's
// timeout: a scan slower than that goes on in the background, and the
// snapshots keep the previous counts (or none yet) until it ends, so that it
// never fails or holds up the counts autoscalers need.
type statsCache struct {
	store       Store
	log         *slog.Logger
	now         func() time.Time
	ttl         time.Duration
	timeout     time.Duration
	terminalTTL time.Duration
	workerTTL   time.Duration

	mu      sync.Mutex
	last    *snapshot
	pending chan struct{} // closed when the read in progress ends; nil when none
	err     error         // of the read that closed pending

	// The finished states' counts, guarded by mu.
	terminal        []store.QueueStats
	terminalAt      time.Time     // server-clock time of the read that gave terminal
	terminalOK      time.Time     // monotonic time of the read that gave terminal; zero before
	terminalTried   time.Time     // monotonic start of the last read, whatever its outcome
	terminalPending chan struct{} // closed when the terminal read in progress ends
}

func newStatsCache(st Store, log *slog.Logger, now func() time.Time, ttl, terminalTTL, timeout, workerTTL time.Duration) *statsCache {
	return &statsCache{store: st, log: log, now: now, ttl: ttl, terminalTTL: terminalTTL, timeout: timeout, workerTTL: workerTTL}
}

// get returns a snapshot no older than ttl, reading the store if needed.
// A failed read is not cached: the next call tries again.
func (c *statsCache) get(ctx context.Context) (*snapshot, error) {
	for {
		c.mu.Lock()
		if c.last != nil && time.Since(c.last.read) < c.ttl {
			s := c.last
			c.mu.Unlock()
			return s, nil
		}
		if wait := c.pending; wait != nil {
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			c.mu.Lock()
			err, s := c.err, c.last
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
			if s != nil {
				return s, nil
			}
			continue
		}
		done := make(chan struct{})
		c.pending = done
		c.mu.Unlock()

		s, err := c.read()
		c.mu.Lock()
		c.pending, c.err = nil, err
		if err == nil {
			c.last = s
		}
		close(done)
		c.mu.Unlock()
		return s, err
	}
}

// read queries the store within the timeout. It does not use the caller's
// context: a client that goes away must not fail the read others wait for.
func (c *statsCache) read() (*snapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	at, read := c.now(), time.Now()
	terminalDone := c.refreshTerminal()
	qs, err := c.store.ActiveQueueStats(ctx, store.AllTenants)
	if err != nil {
		return nil, fmt.Errorf("read queue statistics: %w", err)
	}
	n, oldest, err := c.store.OutboxStats(ctx)
	if err != nil {
		return nil, fmt.Errorf("read outbox statistics: %w", err)
	}
	ws, err := c.store.ListWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("read worker records: %w", err)
	}
	if terminalDone != nil {
		select {
		case <-terminalDone:
		case <-ctx.Done():
		}
	}
	snap := &snapshot{queues: qs, outbox: n, outboxOldest: oldest, workers: ws, workerTTL: c.workerTTL, at: at, read: read}
	c.mu.Lock()
	// Finished counts one refresh late are still reported; older ones (the
	// reads keep failing) are dropped rather than shown flat.
	if !c.terminalOK.IsZero() && time.Since(c.terminalOK) < 2*c.terminalTTL+c.timeout {
		snap.queues, snap.terminal, snap.terminalAt = store.MergeQueueStats(qs, c.terminal), true, c.terminalAt
	}
	c.mu.Unlock()
	return snap, nil
}

// refreshTerminal starts a background read of the finished states' counts
// when the last one is older than terminalTTL and none is under way, and
// returns the channel closed when the read under way ends (nil when none).
// A read is bounded by terminalTTL (at least the read timeout); a failed one
// is logged and tried again terminalTTL after it started.
func (c *statsCache) refreshTerminal() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.terminalPending != nil {
		return c.terminalPending
	}
	if !c.terminalTried.IsZero() && time.Since(c.terminalTried) < c.terminalTTL {
		return nil
	}
	done := make(chan struct{})
	c.terminalPending, c.terminalTried = done, time.Now()
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), max(c.terminalTTL, c.timeout))
		defer cancel()
		started, startedAt := time.Now(), c.now()
		qs, err := c.store.TerminalQueueStats(ctx, store.AllTenants)
		if err != nil {
			c.log.Warn("read the counts of finished jobs", "err", err)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.terminalPending = nil
		if err == nil {
			c.terminal, c.terminalOK, c.terminalAt = qs, started, startedAt
		}
	}()
	return done
}

// queueWorkers counts, per queue, the live workers draining it and the jobs
// they may run at once. A worker is live while its last heartbeat is no
// older than the workers' TTL (Config.WorkerTTL), as the worker pool and
// the store judge it.
func (s *snapshot) queueWorkers() (workers, slots map[string]int) {
	workers, slots = map[string]int{}, map[string]int{}
	for _, w := range s.workers {
		if s.at.Sub(w.HeartbeatAt) > s.workerTTL {
			continue
		}
		for q, n := range w.Queues {
			workers[q]++
			slots[q] += n
		}
	}
	return workers, slots
}

// ScalingView is the answer of GET /v1/stats/queues/{queue}: one queue's
// numbers over every tenant, shaped for KEDA's metrics-api trigger
// (valueLocation "backlog").
type ScalingView struct {
	Queue     string `json:"queue"`
	Scheduled int    `json:"scheduled"`
	Queued    int    `json:"queued"`
	Running   int    `json:"running"`
	Retrying  int    `json:"retrying"`
	// Backlog is queued + running: the work that needs a worker now. Scaling
	// on it rather than on queued alone keeps busy pods from being scaled in.
	Backlog int `json:"backlog"`
	// OldestAgeSeconds is how long the oldest queued job has waited since it
	// became runnable; 0 when none waits.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// Workers and Slots are the live workers draining the queue and the jobs
	// they may run at once, from their heartbeats.
	Workers int `json:"workers"`
	Slots   int `json:"slots"`
	// ObservedAt is when the numbers were read (they are cached briefly).
	ObservedAt time.Time `json:"observed_at"`
}

// queueScaling serves GET /v1/stats/queues/{queue}. A queue is known when a
// job type of the catalog goes to it, it is the default queue, or the store
// holds a job of it; any other name answers 404.
func (s *Server) queueScaling(w http.ResponseWriter, r *http.Request) error {
	name := chi.URLParam(r, "queue")
	snap, err := s.stats.get(r.Context())
	if err != nil {
		return err
	}
	var qs *store.QueueStats
	for i := range snap.queues {
		if snap.queues[i].Queue == name {
			qs = &snap.queues[i]
			break
		}
	}
	if qs == nil && !s.configuredQueue(name) {
		return newProblem(http.StatusNotFound, ProblemNotFound, fmt.Sprintf("no queue is named %q", truncate(name, 64)),
			FieldError{Field: "queue", Detail: "is not a queue of a job type, the default queue, or a queue holding jobs"})
	}
	v := ScalingView{Queue: name, ObservedAt: snap.at.UTC()}
	if qs != nil {
		v.Scheduled, v.Queued = qs.Counts[job.StateScheduled], qs.Counts[job.StateQueued]
		v.Running, v.Retrying = qs.Counts[job.StateRunning], qs.Counts[job.StateRetrying]
		v.OldestAgeSeconds = ageSeconds(snap.at, qs.OldestQueuedAt)
	}
	v.Backlog = v.Queued + v.Running
	workers, slots := snap.queueWorkers()
	v.Workers, v.Slots = workers[name], slots[name]
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, v)
	return nil
}

// configuredQueue reports whether the catalog or the configuration names queue.
func (s *Server) configuredQueue(queue string) bool {
	if queue == s.cfg.DefaultQueue {
		return true
	}
	for _, t := range s.catalog.Types() {
		if spec, ok := s.catalog.Lookup(t); ok && spec.Queue == queue {
			return true
		}
	}
	return false
}

// StatsSnapshot returns the cached statistics the API's /metrics and KEDA
// endpoint read, for the dashboard: one reading per FLASK_STATS_CACHE_TTL
// (finished counts per FLASK_STATS_TERMINAL_TTL) serves them all.
func (s *Server) StatsSnapshot(ctx context.Context) (store.StatsSnapshot, error) {
	snap, err := s.stats.get(ctx)
	if err != nil {
		return store.StatsSnapshot{}, err
	}
	return store.StatsSnapshot{Queues: snap.queues, Finished: snap.terminal, FinishedAt: snap.terminalAt,
		Workers: snap.workers, At: snap.at}, nil
}
