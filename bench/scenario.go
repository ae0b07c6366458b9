package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// result is what one scenario measured.
type result struct {
	Name, Title string
	Load        string // the offered load, in words
	Err         string // why the scenario did not complete, if it did not
	Jobs        int    // jobs accepted by the API
	Succeeded   int
	Client      loadStats
	Wall        time.Duration // first request sent → all succeeded seen by a poll
	Times       jobTimes
	Mem         map[string]memFig
	PGProcs     int
	CPU         cpuSnap
	CPUWindow   time.Duration
	PG          pgCounters
	Polls       int // the driver's own transactions in the database
	API, Worker series
	Profiles    map[string]string // process → pprof file, when the binaries serve pprof
	Activity    []activityRow     // what Flask's database sessions were doing
	ActSamples  int
	LoadAvg     string  // the machine's 1-minute load average before the scenario
	FsyncRate   float64 // 8 KiB write+fdatasync rounds per second just before
}

// Throughput is jobs per second from the first created_at to the last finished_at.
func (r *result) Throughput() float64 {
	if r.Times.Span <= 0 {
		return 0
	}
	return float64(r.Times.N) / r.Times.Span.Seconds()
}

// loadFunc offers a scenario's load to a deployment and returns what the
// client saw.
type loadFunc func(ctx context.Context, d *deployment) loadStats

// runScenario deploys a fresh Flask, offers the load, waits until every
// accepted job has succeeded, and measures.
func (b *bench) runScenario(ctx context.Context, name, title, load string, fn loadFunc, profile bool) *result {
	r := &result{Name: name, Title: title, Load: load}
	fmt.Fprintf(os.Stderr, "bench: scenario %s: %s\n", name, load)
	r.LoadAvg = loadAvg()
	if rate, err := fsyncProbe(b.fsyncDir, 500*time.Millisecond); err == nil {
		r.FsyncRate = rate
	}
	walBefore, err := readPGCounters(ctx, b.admin, "")
	if err != nil {
		r.Err = err.Error()
		return r
	}
	d, err := b.deploy(ctx, name)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer d.teardown(b)

	mon := startMonitor(d.pids(), b.pg.Postmaster, time.Second)
	var profDone func() map[string]string
	if profile {
		profDone = b.captureBinaryProfiles(ctx, d)
	}
	act := startActivity(ctx, b.admin, d.dbName, 20*time.Millisecond)
	cpu0 := takeCPU(d.pids(), b.pg.Postmaster)
	t0 := time.Now()
	r.Client = fn(ctx, d)
	r.Jobs = r.Client.Accepted
	if r.Client.Errors > 0 {
		r.Err = fmt.Sprintf("%d of %d requests failed; first: %s", r.Client.Errors, r.Client.Requests, r.Client.FirstError)
	}
	prog, seen, polls, err := waitSucceeded(ctx, d.db, r.Jobs, b.cfg.timeout)
	r.Polls = polls
	r.Succeeded = prog.Succeeded
	r.Wall = seen.Sub(t0)
	r.CPU = takeCPU(d.pids(), b.pg.Postmaster).sub(cpu0)
	r.CPUWindow = time.Since(t0)
	r.Mem, r.PGProcs = mon.finish()
	r.Activity, r.ActSamples = act.finish()
	if err != nil {
		r.Err = joinErr(r.Err, err.Error())
	}
	if profDone != nil {
		r.Profiles = profDone()
	}
	if r.Times, err = readJobTimes(ctx, d.db); err != nil {
		r.Err = joinErr(r.Err, err.Error())
	}
	if r.API, err = scrape(ctx, d.apiMetricsURL); err != nil {
		r.Err = joinErr(r.Err, err.Error())
	}
	if r.Worker, err = scrape(ctx, d.workerURL+"/metrics"); err != nil {
		r.Err = joinErr(r.Err, err.Error())
	}
	hot := hotUpdates(ctx, d.db)

	// Counters are flushed to the statistics when the backends exit.
	d.db.Close()
	d.db = nil
	if err := d.stopFlask(); err != nil {
		r.Err = joinErr(r.Err, err.Error())
	}
	waitNoBackends(ctx, b, d.dbName)
	after, err := readPGCounters(ctx, b.admin, d.dbName)
	if err != nil {
		r.Err = joinErr(r.Err, err.Error())
	}
	wal := after.sub(walBefore)
	r.PG = after
	r.PG.WALRecords, r.PG.WALBytes, r.PG.WALWrites, r.PG.WALSyncs, r.PG.WALBuffersFull = wal.WALRecords, wal.WALBytes, wal.WALWrites, wal.WALSyncs, wal.WALBuffersFull
	r.PG.HotUpd = hot
	fmt.Fprintf(os.Stderr, "bench: scenario %s: %d jobs, %.0f jobs/s, start p50 %s p99 %s\n",
		name, r.Times.N, r.Throughput(), r.Times.Start.P50, r.Times.Start.P99)
	return r
}

// waitNoBackends waits (bounded) until no session is connected to the
// database, so that their statistics are flushed.
func waitNoBackends(ctx context.Context, b *bench, name string) {
	for range 50 {
		var n int
		if err := b.admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n); err != nil || n == 0 {
			return
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// scenarioBatch: N no-op jobs in batches from a few concurrent clients.
func (b *bench) scenarioBatch(ctx context.Context) *result {
	c := b.cfg
	body := batchBody(c.batchSize)
	client := newClient(c.clients)
	load := fmt.Sprintf("%d no-op jobs, POST /v1/jobs/batch of %d, %d concurrent clients", c.n, c.batchSize, c.clients)
	return b.runScenario(ctx, "batch", "(a) Batch submissions", load, func(ctx context.Context, d *deployment) loadStats {
		return closedLoop(ctx, client, d.apiURL+"/v1/jobs/batch", body, c.batchSize, c.n, c.clients)
	}, true)
}

// scenarioSingle: N no-op jobs, one per request, from many concurrent clients.
func (b *bench) scenarioSingle(ctx context.Context) *result {
	c := b.cfg
	client := newClient(c.singleClients)
	load := fmt.Sprintf("%d no-op jobs, POST /v1/jobs one at a time, %d concurrent keep-alive clients", c.singleN, c.singleClients)
	return b.runScenario(ctx, "single", "(b) Single submissions", load, func(ctx context.Context, d *deployment) loadStats {
		return closedLoop(ctx, client, d.apiURL+"/v1/jobs", []byte(noopJob), 1, c.singleN, c.singleClients)
	}, false)
}

// scenarioLatency: a fixed offered load, open loop.
func (b *bench) scenarioLatency(ctx context.Context) *result {
	c := b.cfg
	client := newClient(256)
	load := fmt.Sprintf("open loop: %d jobs/s offered for %s (%d no-op jobs, POST /v1/jobs), scheduled by 4 goroutines, each request sent at its planned time from its own goroutine",
		c.rate, c.duration, int(float64(c.rate)*c.duration.Seconds()))
	return b.runScenario(ctx, "latency", "(c) Latency at a fixed load", load, func(ctx context.Context, d *deployment) loadStats {
		return openLoop(ctx, client, d.apiURL+"/v1/jobs", c.rate, c.duration, 4)
	}, false)
}

// profilePath names a profile file of the scenario's temp dir.
func profilePath(d *deployment, proc string) string {
	return filepath.Join(d.dir, proc+".pprof")
}
