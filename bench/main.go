// Command bench is Flask's end-to-end benchmark (make bench). It builds
// flask-api and flask-worker, and for each scenario creates a fresh
// PostgreSQL database, starts a fresh NATS JetStream server in a process of
// its own (this program re-run with the nats subcommand), one flask-api and
// one flask-worker; it offers the scenario's load over HTTP, waits until
// every accepted job has succeeded, and reads throughput and latency from
// the jobs' timestamps in PostgreSQL, memory and CPU from /proc, and the
// servers' counters. It then profiles an in-process reproduction and
// writes docs/benchmarks.md.
//
//	scripts/with-postgres.sh go run ./bench -out docs/benchmarks.md
//
// PostgreSQL comes from -database (default $TEST_DATABASE_URL) and must run
// on this host. Everything listens on 127.0.0.1, every loop is bounded, and
// every process started is stopped by PID.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "nats" {
		if err := runNATS(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench nats:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is the driver's settings, from flags.
type config struct {
	databaseURL            string
	out                    string
	binDir                 string
	scenarios              []string
	n, batchSize, clients  int
	singleN, singleClients int
	rate                   int
	duration               time.Duration
	concurrency, dbConns   int
	timeout                time.Duration
	profile                bool
	profileN               int
	profileSingleN         int
	storeBench             bool
	storeDuration          time.Duration
	storeFlushers          []int
	profileNodes           int
	profileWindow          time.Duration
	quick                  bool
	apiEnv, workerEnv      []string
	command                string
	pidFile                string
	dbParams               url.Values
	broker                 string // nats or sqs
	sqsEndpoint            string
	sqsPID                 int
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.databaseURL, "database", os.Getenv("TEST_DATABASE_URL"), "PostgreSQL URL of a local server (default $TEST_DATABASE_URL); one database per scenario is created and dropped")
	fs.StringVar(&c.out, "out", "docs/benchmarks.md", "report to write; empty: none")
	fs.StringVar(&c.binDir, "bindir", "", "prebuilt flask-api and flask-worker (default: build them)")
	scen := fs.String("scenarios", "batch,single,latency", "scenarios to run, comma-separated")
	fs.IntVar(&c.n, "n", 50000, "jobs in the batch scenario")
	fs.IntVar(&c.batchSize, "batch", 1000, "jobs per batch request")
	fs.IntVar(&c.clients, "clients", 4, "concurrent clients in the batch scenario")
	fs.IntVar(&c.singleN, "single-n", 30000, "jobs in the single scenario")
	fs.IntVar(&c.singleClients, "single-clients", 64, "concurrent clients in the single scenario")
	fs.IntVar(&c.rate, "rate", 1000, "offered jobs per second in the latency scenario")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of the latency scenario's load")
	fs.IntVar(&c.concurrency, "concurrency", 2000, "worker concurrency (FLASK_QUEUES=default:N)")
	fs.IntVar(&c.dbConns, "db-conns", 16, "FLASK_DB_MAX_CONNS of each binary")
	fs.DurationVar(&c.timeout, "timeout", 2*time.Minute, "how long a scenario may take to finish its jobs after the load")
	fs.BoolVar(&c.profile, "profile", true, "profile the in-process reproduction of the batch scenario")
	fs.IntVar(&c.profileN, "profile-n", 30000, "jobs in the in-process profile run")
	fs.IntVar(&c.profileSingleN, "profile-single-n", 10000, "jobs in the in-process reproduction of the single scenario")
	fs.BoolVar(&c.storeBench, "store", true, "run the store group-commit micro-benchmark")
	fs.DurationVar(&c.storeDuration, "store-duration", 4*time.Second, "length of each store micro-benchmark setting")
	flushers := fs.String("store-flushers", "1,2,4,8", "store.Config.Flushers settings to compare")
	fs.IntVar(&c.profileNodes, "profile-nodes", 18, "lines per pprof top listing")
	fs.DurationVar(&c.profileWindow, "profile-window", 10*time.Second, "CPU profile length when the binaries serve pprof")
	fs.BoolVar(&c.quick, "quick", false, "mark the report as a smoke run")
	fs.StringVar(&c.command, "command", "make bench", "the command named in the report")
	dbParams := fs.String("db-params", "", "extra query parameters for Flask's database URL, such as binary_parameters=yes")
	fs.StringVar(&c.broker, "broker", "nats", "broker of the deployments: nats (a NATS server per scenario) or sqs (fresh queues per scenario on -sqs-endpoint)")
	fs.StringVar(&c.sqsEndpoint, "sqs-endpoint", os.Getenv("TEST_SQS_ENDPOINT"), "SQS-compatible server on this host for -broker sqs (default $TEST_SQS_ENDPOINT; scripts/with-sqs.sh sets it)")
	fs.IntVar(&c.sqsPID, "sqs-pid", atoiOr(os.Getenv("TEST_SQS_PID")), "PID of the SQS emulator, to report its memory and CPU (default $TEST_SQS_PID)")
	fs.StringVar(&c.pidFile, "pidfile", "", "write the driver's PID here (scripts/bench.sh stops it by PID)")
	fs.Func("api-env", "extra KEY=VALUE for flask-api (repeatable)", func(s string) error {
		c.apiEnv = append(c.apiEnv, s)
		return nil
	})
	fs.Func("worker-env", "extra KEY=VALUE for flask-worker (repeatable)", func(s string) error {
		c.workerEnv = append(c.workerEnv, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	for s := range strings.SplitSeq(*scen, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "batch", "single", "latency":
			c.scenarios = append(c.scenarios, s)
		default:
			return c, fmt.Errorf("-scenarios: unknown scenario %q (batch, single, latency)", s)
		}
	}
	var err error
	if c.dbParams, err = url.ParseQuery(*dbParams); err != nil {
		return c, fmt.Errorf("-db-params: %w", err)
	}
	for f := range strings.SplitSeq(*flushers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-store-flushers: %q is not a positive number", f)
		}
		c.storeFlushers = append(c.storeFlushers, n)
	}
	switch {
	case c.broker != "nats" && c.broker != "sqs":
		return c, fmt.Errorf("-broker %q: use nats or sqs", c.broker)
	case c.broker == "sqs" && c.sqsEndpoint == "":
		return c, errors.New("-broker sqs needs -sqs-endpoint or TEST_SQS_ENDPOINT (run through scripts/with-sqs.sh)")
	case c.broker == "sqs" && (c.profile || c.storeBench):
		return c, errors.New("-broker sqs measures the scenarios only: add -profile=false -store=false")
	case c.databaseURL == "":
		return c, errors.New("no database: set -database or TEST_DATABASE_URL (scripts/with-postgres.sh does)")
	case c.n < 1 || c.batchSize < 1 || c.clients < 1 || c.singleN < 1 || c.singleClients < 1 || c.profileN < 1 || c.profileSingleN < 1:
		return c, errors.New("-n, -batch, -clients, -single-n, -single-clients, -profile-n and -profile-single-n must be positive")
	case c.rate < 1 || c.duration < time.Second:
		return c, errors.New("-rate must be positive and -duration at least 1s")
	case c.concurrency < 1 || c.dbConns < 1:
		return c, errors.New("-concurrency and -db-conns must be positive")
	}
	return c, nil
}

// bench is one run of the driver.
type bench struct {
	cfg       config
	tmp       string
	self      string
	root      string
	apiBin    string
	workerBin string
	admin     *sql.DB
	base      *url.URL
	pg        pgInfo
	mach      machine
	goVersion string
	fsyncRate float64
	fsyncDir  string
}

func run() error {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.pidFile != "" {
		if err := os.WriteFile(cfg.pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return err
		}
		defer os.Remove(cfg.pidFile)
	}

	b := &bench{cfg: cfg, mach: readMachine(runtime.NumCPU()), goVersion: runtime.Version()}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "flask-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	if b.base, err = url.Parse(cfg.databaseURL); err != nil {
		return fmt.Errorf("-database: %w", err)
	}
	if h := b.base.Hostname(); h != "127.0.0.1" && h != "localhost" {
		return fmt.Errorf("-database must point at a PostgreSQL on 127.0.0.1, not %q", h)
	}
	if err := b.build(ctx); err != nil {
		return err
	}
	if b.admin, err = openDB(ctx, cfg.databaseURL); err != nil {
		return fmt.Errorf("connect to %s: %w", b.base.Redacted(), err)
	}
	defer b.admin.Close()
	if b.pg, err = readPGInfo(ctx, b.admin); err != nil {
		return err
	}
	b.fsyncDir = dataDirFS(ctx, b.admin)
	if b.fsyncDir == "" || !writable(b.fsyncDir) {
		b.fsyncDir = b.tmp
	}
	if b.fsyncRate, err = fsyncProbe(b.fsyncDir, time.Second); err != nil {
		return fmt.Errorf("fsync probe: %w", err)
	}

	var results []*result
	failed := false
	for _, s := range cfg.scenarios {
		var r *result
		switch s {
		case "batch":
			r = b.scenarioBatch(ctx)
		case "single":
			r = b.scenarioSingle(ctx)
		case "latency":
			r = b.scenarioLatency(ctx)
		}
		if r.Err != "" {
			failed = true
			fmt.Fprintf(os.Stderr, "bench: scenario %s: %s\n", s, r.Err)
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	var sb []storeRow
	if cfg.storeBench {
		sb = b.storeBench(ctx, cfg.singleClients, cfg.storeDuration, cfg.storeFlushers)
		for _, r := range sb {
			if r.Err != "" {
				failed = true
				fmt.Fprintf(os.Stderr, "bench: store micro-benchmark: %s\n", r.Err)
			}
		}
	}
	var prof []*inproc
	if cfg.profile {
		prof = b.profileInProcess(ctx)
		for _, p := range prof {
			if p.Err != "" {
				failed = true
				fmt.Fprintf(os.Stderr, "bench: in-process reproduction: %s\n", p.Err)
			}
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if cfg.out != "" {
		if err := b.writeReport(cfg.out, results, sb, prof); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", cfg.out)
	}
	if failed {
		return errors.New("some scenarios did not complete; see the report")
	}
	return nil
}

// build compiles flask-api and flask-worker into the temp dir (unless
// -bindir names prebuilt ones), keeping symbols for profilers.
func (b *bench) build(ctx context.Context) error {
	if b.cfg.binDir != "" {
		b.apiBin, b.workerBin = filepath.Join(b.cfg.binDir, "flask-api"), filepath.Join(b.cfg.binDir, "flask-worker")
		return nil
	}
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	b.root = filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(b.tmp, "bin")
	fmt.Fprintln(os.Stderr, "bench: building flask-api and flask-worker")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin+"/",
		"-ldflags", "-X github.com/flaskhq/flask/app.Version=bench",
		"./cmd/flask-api", "./cmd/flask-worker")
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build the binaries: %w", err)
	}
	b.apiBin, b.workerBin = filepath.Join(bin, "flask-api"), filepath.Join(bin, "flask-worker")
	return nil
}

// atoiOr reads a number, 0 when s is not one.
func atoiOr(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func writable(dir string) bool {
	f, err := os.CreateTemp(dir, "probe-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}
