package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flaskhq/flask/app"
	"github.com/flaskhq/flask/store"
)

// captureBinaryProfiles starts CPU profiles of flask-api and flask-worker
// through net/http/pprof on their FLASK_DEBUG_ADDR, when the binaries
// serve it, and returns a function that waits for them and returns the
// files by process name. Binaries without it give no profiles.
func (b *bench) captureBinaryProfiles(ctx context.Context, d *deployment) func() map[string]string {
	addrs := map[string]string{"api": d.apiDebug, "worker": d.workerDebug}
	for name, addr := range addrs {
		if !debugPprof(ctx, addr) {
			delete(addrs, name)
		}
	}
	if len(addrs) == 0 {
		return func() map[string]string { return nil }
	}
	secs := int(b.cfg.profileWindow.Seconds())
	var mu sync.Mutex
	out := map[string]string{}
	var wg sync.WaitGroup
	for name, addr := range addrs {
		wg.Go(func() {
			path := profilePath(d, name)
			if err := fetch(ctx, "http://"+addr+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), path, time.Duration(secs+30)*time.Second); err != nil {
				fmt.Fprintf(os.Stderr, "bench: profile %s: %v\n", name, err)
				return
			}
			mu.Lock()
			out[name] = path
			mu.Unlock()
		})
	}
	return func() map[string]string {
		wg.Wait()
		return out
	}
}

// fetch saves the body of a GET to path.
func fetch(ctx context.Context, url, path string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// inproc is the result of one in-process reproduction.
type inproc struct {
	Err      string
	Load     string
	Jobs     int
	Span     time.Duration
	HTTP     []time.Duration // request latencies, sorted
	Ops      []opSummary     // the pipeline's stages, timed
	Profile  string          // CPU profile file, if profiled
	Tags     string          // CPU by process label
	Sections []profileSection
}

// profileSection is one pprof report of one labelled part of the process.
type profileSection struct {
	Title, Command, Text string
}

// inprocLoad is a load the reproduction offers.
type inprocLoad struct {
	desc          string
	path          string
	body          []byte
	per, n, conns int
	profile       bool
}

// profileInProcess runs the reproductions of scenarios (a) and (b) with a
// CPU profile each, and reports them.
func (b *bench) profileInProcess(ctx context.Context) []*inproc {
	c := b.cfg
	loads := []inprocLoad{
		{desc: fmt.Sprintf("(a) %d no-op jobs, POST /v1/jobs/batch of %d, %d concurrent clients", c.profileN, c.batchSize, c.clients),
			path: "/v1/jobs/batch", body: batchBody(c.batchSize), per: c.batchSize, n: c.profileN, conns: c.clients, profile: true},
		{desc: fmt.Sprintf("(b) %d no-op jobs, POST /v1/jobs, %d concurrent clients", c.profileSingleN, c.singleClients),
			path: "/v1/jobs", body: []byte(noopJob), per: 1, n: c.profileSingleN, conns: c.singleClients, profile: true},
	}
	var out []*inproc
	for i, l := range loads {
		r := &inproc{Load: l.desc}
		out = append(out, r)
		fmt.Fprintf(os.Stderr, "bench: in-process reproduction: %s\n", l.desc)
		if err := b.runInProcess(ctx, r, l, i); err != nil {
			r.Err = err.Error()
			continue
		}
		if r.Profile != "" {
			b.summariseProfile(ctx, r)
		}
	}
	return out
}

// summariseProfile renders the CPU profile by component and for the API
// and the worker.
func (b *bench) summariseProfile(ctx context.Context, r *inproc) {
	tags, err := goTool(ctx, "pprof", "-tags", r.Profile)
	if err != nil {
		r.Err = err.Error()
		return
	}
	r.Tags = tags
	// The cumulative lists hide the frames every request or job passes
	// through (HTTP server, router, middleware, the pool's loops), which
	// would fill them with 100% lines.
	hide := map[string]string{
		"api":    `^net/http\.|chi/v5|api\.\(\*Server\)\.(instrument|requestID|timeout|routes)|api\.securityHeaders`,
		"worker": `worker\.\(\*Pool\)\.(Run|fetchLoop)`,
	}
	for _, part := range []string{"api", "worker"} {
		for _, v := range []struct{ title, flag string }{
			{"cumulative", "-cum"},
			{"flat", "-flat"},
		} {
			args := []string{"pprof", "-top", v.flag, "-nodecount=" + strconv.Itoa(b.cfg.profileNodes), "-tagfocus=proc=" + part}
			if v.flag == "-cum" {
				args = append(args, "-hide="+hide[part])
			}
			args = append(args, r.Profile)
			text, err := goTool(ctx, args...)
			if err != nil {
				r.Err = err.Error()
				return
			}
			r.Sections = append(r.Sections, profileSection{
				Title:   fmt.Sprintf("%s, %s", part, v.title),
				Command: "go tool " + strings.Join(args[:len(args)-1], " ") + " cpu.pprof",
				Text:    trimPprof(text),
			})
		}
	}
}

// runInProcess runs flask-api's server (app.ServeAPI) and a worker pool
// (app.NewPool) in this process against a fresh database and a NATS server
// of its own, and offers load from this process too. The worker's store
// and broker calls and the API's publishes go through wrappers that time
// them. With l.profile it records a CPU profile. Goroutines carry a pprof
// label proc=api, worker or client (a label passes to the goroutines
// started under it), so the profile splits by component; the GC's
// background work has no label.
func (b *bench) runInProcess(ctx context.Context, r *inproc, l inprocLoad, seq int) (err error) {
	dir := filepath.Join(b.tmp, "inproc"+strconv.Itoa(seq))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := "flask_bench_inproc_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := b.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := b.admin.ExecContext(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop database %s: %v\n", name, err)
		}
	}()
	ns, natsURL, err := startNATS(b.self, filepath.Join(dir, "nats"), filepath.Join(dir, "nats.log"))
	if err != nil {
		return err
	}
	defer func() {
		if e := ns.stop(30 * time.Second); e != nil {
			fmt.Fprintf(os.Stderr, "bench: in-process nats: %v\n", e)
		}
	}()
	logf, err := os.Create(filepath.Join(dir, "flask.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))

	common := app.Common{
		DatabaseURL: dbURL(b.base, name, "", b.cfg.dbParams), DBMaxConns: b.cfg.dbConns, DBFlushers: 2, Broker: "nats",
		NATS: app.NATSConfig{URL: natsURL, Stream: "FLASK_JOBS", SubjectPrefix: "flask.jobs", AckWait: 30 * time.Second,
			Replicas: 1, MaxAckPending: 20000},
		DemoTypes: true, LogLevel: "warn", LogFormat: "text", Migrate: true,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	apiCfg, wcfg := inprocConfigs(common, ln.Addr().String(), b.cfg.concurrency)
	if err := errors.Join(apiCfg.Validate(), wcfg.Validate()); err != nil {
		ln.Close()
		return err
	}
	publish := &opStats{Name: "api: Publish to NATS (awaits the acks)"}
	fetch := &opStats{Name: "worker: Fetch from NATS"}
	claim := &opStats{Name: "worker: ClaimJobs (one transaction)"}
	finish := &opStats{Name: "worker: FinishJob (group commit)"}
	ack := &opStats{Name: "worker: Ack"}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var closers []io.Closer
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i].Close()
		}
	}()
	running := make(chan error, 2)
	started := 0
	defer func() {
		stop()
		for range started {
			select {
			case e := <-running:
				err = errors.Join(err, e)
			case <-time.After(40 * time.Second):
				err = errors.Join(err, errors.New("in-process flask did not stop within 40s"))
				return
			}
		}
	}()

	pprof.Do(ctx, pprof.Labels("proc", "api"), func(context.Context) {
		var st *store.Store
		st, err = app.OpenStore(ctx, common, log)
		if err != nil {
			ln.Close()
			return
		}
		closers = append(closers, st)
		var br app.Broker
		if br, err = app.OpenBroker(ctx, common, "flask-api", log); err != nil {
			ln.Close()
			return
		}
		closers = append(closers, br)
		cat, e := app.Catalog(common)
		if err = e; err != nil {
			ln.Close()
			return
		}
		if err = app.EnsureAdminKey(ctx, st, benchKey, "bench", log); err != nil {
			ln.Close()
			return
		}
		parts := app.APIParts{Store: st, Broker: &tracedBroker{Broker: br, publish: publish}, Catalog: cat, Metrics: prometheus.NewRegistry()}
		started++
		go func() { running <- app.ServeAPI(runCtx, apiCfg, parts, ln, log) }()
	})
	if err != nil {
		return err
	}
	pprof.Do(ctx, pprof.Labels("proc", "worker"), func(context.Context) {
		st, e := app.OpenStore(ctx, common, log)
		if err = e; err != nil {
			return
		}
		closers = append(closers, st)
		br, e := app.OpenBroker(ctx, common, "flask-worker", log)
		if err = e; err != nil {
			return
		}
		closers = append(closers, br)
		reg, e := app.NewRegistry(wcfg)
		if err = e; err != nil {
			return
		}
		pool, e := app.NewPool(wcfg, &tracedStore{Store: st, claim: claim, finish: finish},
			&tracedConsumer{Consumer: br, fetch: fetch, ack: ack}, reg, log, prometheus.NewRegistry(), nil)
		if err = e; err != nil {
			return
		}
		started++
		go func() { running <- pool.Run(runCtx) }()
	})
	if err != nil {
		return err
	}
	apiURL := "http://" + ln.Addr().String()
	if err := waitHTTP(ctx, apiURL+"/readyz", 30*time.Second); err != nil {
		return err
	}
	db, err := openDB(ctx, common.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()

	if l.profile {
		r.Profile = filepath.Join(dir, "cpu.pprof")
		pf, err := os.Create(r.Profile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	var ls loadStats
	pprof.Do(ctx, pprof.Labels("proc", "client"), func(ctx context.Context) {
		ls = closedLoop(ctx, newClient(l.conns), apiURL+l.path, l.body, l.per, l.n, l.conns)
		_, _, _, err = waitSucceeded(ctx, db, ls.Accepted, b.cfg.timeout)
	})
	if l.profile {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	if ls.Errors > 0 {
		return fmt.Errorf("%d requests failed; first: %s", ls.Errors, ls.FirstError)
	}
	t, err := readJobTimes(ctx, db)
	if err != nil {
		return err
	}
	r.Jobs, r.Span, r.HTTP = t.N, t.Span, ls.Latencies
	for _, o := range []*opStats{publish, fetch, claim, finish, ack} {
		r.Ops = append(r.Ops, o.summary())
	}
	return nil
}

// waitHTTP polls url until it answers 200 or within passes.
func waitHTTP(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", url, within)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// goTool runs "go tool ARGS" and returns its standard output.
func goTool(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// trimPprof drops pprof's header lines that name the file and its type.
func trimPprof(s string) string {
	var keep []string
	filters := false
	for line := range strings.SplitSeq(strings.TrimRight(s, "\n"), "\n") {
		if filters && strings.HasPrefix(line, "   ") {
			continue
		}
		filters = strings.HasPrefix(line, "Active filters:")
		if filters || strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Type:") || strings.HasPrefix(line, "Time:") ||
			strings.HasPrefix(line, "Build ID:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// inprocConfigs are the API's and the worker's settings of the in-process
// reproduction: the binaries' defaults, with rate limits and the metrics
// listener off, and the given address and per-queue concurrency.
func inprocConfigs(common app.Common, addr string, concurrency int) (app.APIConfig, app.WorkerConfig) {
	apiCfg := app.APIConfig{Common: common, HTTPAddr: addr, MaxBodyBytes: 1 << 20, MaxBatchBodyBytes: 32 << 20, MaxPayloadBytes: 256 << 10,
		MaxBatch: 1000, ShutdownTimeout: 10 * time.Second, RelayInterval: 250 * time.Millisecond, OutboxGrace: 5 * time.Second, RescueAfter: 5 * time.Minute,
		StatsCacheTTL: time.Second, StatsTerminalTTL: time.Minute, WorkerTTL: 30 * time.Second,
		APISecurity: app.APISecurity{MetricsAddr: "off", RateLimit: -1, RateBurst: 1, TenantMaxQueued: -1, APIKeyCacheTTL: 10 * time.Second, SessionTTL: time.Hour}}
	wcfg := app.WorkerConfig{Common: common, HTTPAddr: "127.0.0.1:0", Queues: "default:" + strconv.Itoa(concurrency), Concurrency: 10,
		WorkerID: "bench-inproc", ShutdownGrace: 10 * time.Second, FetchWait: 2 * time.Second, MaxFetch: 256, HeartbeatInterval: 2 * time.Second, WorkerTTL: 30 * time.Second}
	return apiCfg, wcfg
}
