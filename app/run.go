package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/flaskhq/flask/api"
	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/events"
	natsbroker "github.com/flaskhq/flask/events/nats"
	sqsbroker "github.com/flaskhq/flask/events/sqs"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/relay"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/telemetry"
	"github.com/flaskhq/flask/web"
	"github.com/flaskhq/flask/worker"
	"github.com/flaskhq/flask/worker/builtin"
)

// Broker is a connected message broker.
type Broker interface {
	events.Publisher
	events.Consumer
	events.Pinger
}

// Catalog builds the set of job types the API accepts: the demo types (when
// enabled), the http route types, and FLASK_JOB_TYPES.
func Catalog(c Common) (*job.Catalog, error) {
	var specs []job.Spec
	if c.DemoTypes {
		specs = append(specs, builtin.DemoSpecs()...)
	}
	routes, err := builtin.ParseRoutes(c.HTTPRoutes)
	if err != nil {
		return nil, fmt.Errorf("FLASK_HTTP_ROUTES: %w", err)
	}
	extra, err := job.ParseSpecs(c.JobTypes)
	if err != nil {
		return nil, fmt.Errorf("FLASK_JOB_TYPES: %w", err)
	}
	// A FLASK_JOB_TYPES entry for a routed type sets that route's defaults.
	specs = append(specs, builtin.HTTPSpecs(routes, extra...)...)
	for _, s := range extra {
		if _, routed := routes[s.Type]; !routed {
			specs = append(specs, s)
		}
	}
	cat, err := job.NewCatalog(specs...)
	if err != nil {
		return nil, fmt.Errorf("job types: %w", err)
	}
	return cat, nil
}

// OpenStore opens the database, migrating it first when asked, and checks
// that its schema matches this build.
func OpenStore(ctx context.Context, c Common, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, c.DatabaseURL, store.Config{MaxOpenConns: c.DBMaxConns, Flushers: c.DBFlushers}, log)
	if err != nil {
		return nil, err
	}
	if c.Migrate {
		applied, err := st.Migrate(ctx)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		if len(applied) > 0 {
			log.Info("database migrated", "versions", applied)
		}
	}
	if err := st.CheckSchema(ctx); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// OpenBroker connects to the configured broker. On SQS the queues named are
// looked up at once (and created with FLASK_SQS_CREATE_QUEUES), so that a
// queue Terraform did not make stops start-up with an error naming it; other
// queues are looked up on first use.
func OpenBroker(ctx context.Context, c Common, name string, log *slog.Logger, queues ...string) (Broker, error) {
	if c.Broker == "sqs" {
		s := c.SQS
		b, err := sqsbroker.New(ctx, sqsbroker.Config{
			Region: c.AWSRegion, Endpoint: s.Endpoint, QueuePrefix: s.QueuePrefix, CreateQueues: s.CreateQueues,
			Queues: queues, VisibilityTimeout: s.VisibilityTimeout, MaxReceiveCount: s.MaxReceiveCount,
		}, log)
		if err != nil {
			return nil, fmt.Errorf("connect to SQS: %w", err)
		}
		return b, nil
	}
	n := c.NATS
	b, err := natsbroker.New(ctx, natsbroker.Config{
		URL: n.URL, Name: name, Stream: n.Stream, SubjectPrefix: n.SubjectPrefix, AckWait: n.AckWait,
		Replicas: n.Replicas, MaxAckPending: n.MaxAckPending, CredentialsFile: n.CredsFile, NKeySeedFile: n.NKeyFile,
		TLSCAFile: n.TLSCAFile, TLSCertFile: n.TLSCertFile, TLSKeyFile: n.TLSKeyFile,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return b, nil
}

// catalogQueues lists the queues the catalog's job types go to by default.
func catalogQueues(cat *job.Catalog) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range cat.Types() {
		if s, ok := cat.Lookup(t); ok && s.Queue != "" && !seen[s.Queue] {
			seen[s.Queue] = true
			out = append(out, s.Queue)
		}
	}
	sort.Strings(out)
	return out
}

// NewRegistry builds the worker's handler registry: the demo types when
// enabled, and one http handler per configured route.
func NewRegistry(c WorkerConfig) (*worker.Registry, error) {
	reg := worker.NewRegistry()
	if c.DemoTypes {
		if err := builtin.RegisterDemo(reg); err != nil {
			return nil, err
		}
	}
	routes, err := builtin.ParseRoutes(c.HTTPRoutes)
	if err != nil {
		return nil, fmt.Errorf("FLASK_HTTP_ROUTES: %w", err)
	}
	if len(routes) > 0 {
		secret, err := secretValue(c.HTTPSigningSecret, c.HTTPSigningSecretFile)
		if err != nil {
			return nil, fmt.Errorf("FLASK_HTTP_SIGNING_SECRET_FILE: %w", err)
		}
		cidrs, err := builtin.ParseCIDRs(c.HTTPAllowCIDRs)
		if err != nil {
			return nil, fmt.Errorf("FLASK_HTTP_ALLOW_CIDRS: %w", err)
		}
		extra, err := job.ParseSpecs(c.JobTypes)
		if err != nil {
			return nil, fmt.Errorf("FLASK_JOB_TYPES: %w", err)
		}
		hc := builtin.HTTPConfig{Routes: routes, SigningSecret: secret, AllowCIDRs: cidrs, UserAgent: "flask-worker/" + Version}
		if err := builtin.RegisterHTTP(reg, hc, extra...); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// newRegistry returns a Prometheus registry with the process and Go collectors.
func newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// StartTracing sets up the process's tracing from the OTEL_* settings,
// with service as the default service.name (flask-api, flask-worker,
// flaskctl-dev). With tracing off it starts nothing and returns a no-op
// provider. Stop it with StopTracing.
func StartTracing(ctx context.Context, c Common, service string, log *slog.Logger) (*telemetry.Tracing, error) {
	exp := c.TracingConfig.Exporter()
	tr, err := telemetry.Setup(ctx, telemetry.Config{Exporter: exp, ServiceName: service, ServiceVersion: Version}, log)
	if err != nil {
		return nil, err
	}
	if tr.Enabled() {
		// The endpoint only: OTEL_EXPORTER_OTLP_HEADERS may hold a token.
		endpoint := c.OTLPTracesEndpoint
		if endpoint == "" {
			endpoint = c.OTLPEndpoint
		}
		log.Info("tracing on", "exporter", exp, "endpoint", MaskURL(endpoint), "service", service)
	}
	return tr, nil
}

// StopTracing exports the spans still buffered, waiting at most 5s.
func StopTracing(ctx context.Context, tr *telemetry.Tracing, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(sctx); err != nil {
		log.Warn("spans may be lost", "err", err)
	}
}

// tracerOf is the provider to hand to the API and the worker: nil when
// tracing is off, so that they skip the work of spans nobody records.
func tracerOf(tr *telemetry.Tracing) trace.TracerProvider {
	if tr == nil || !tr.Enabled() {
		return nil
	}
	return tr.Provider
}

// APIParts are the pieces RunAPIWith serves; dev mode shares them with a worker.
type APIParts struct {
	Store   *store.Store
	Broker  Broker
	Catalog *job.Catalog
	Metrics *prometheus.Registry
	// MetricsListener serves GET /metrics apart from the API; nil serves
	// no metrics.
	MetricsListener net.Listener
	// Tracer records the API's spans; nil: tracing off.
	Tracer trace.TracerProvider
}

// RunAPI runs flask-api until ctx ends, then shuts down in order: stop
// taking requests, stop the relay, close the broker and the database.
func RunAPI(ctx context.Context, cfg APIConfig, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cat, err := Catalog(cfg.Common)
	if err != nil {
		return err
	}
	tr, err := StartTracing(ctx, cfg.Common, "flask-api", log)
	if err != nil {
		return err
	}
	defer StopTracing(ctx, tr, log)
	st, err := OpenStore(ctx, cfg.Common, log)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := OpenBroker(ctx, cfg.Common, "flask-api", log, catalogQueues(cat)...)
	if err != nil {
		return err
	}
	defer b.Close()
	if token, err := cfg.bootstrapKey(); err != nil {
		return err
	} else if token != "" {
		if err := EnsureAdminKey(ctx, st, token, "bootstrap", log); err != nil {
			return err
		}
	}
	var metricsLn net.Listener
	if cfg.MetricsAddr != "off" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("FLASK_METRICS_ADDR: listen on %s: %w", cfg.MetricsAddr, err)
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	stopDebug, err := serveDebug(cfg.DebugAddr, log)
	if err != nil {
		return err
	}
	defer stopDebug()
	return ServeAPI(ctx, cfg, APIParts{Store: st, Broker: b, Catalog: cat, Metrics: newRegistry(), MetricsListener: metricsLn,
		Tracer: tracerOf(tr)}, ln, log)
}

// ServeAPI serves the API and runs the relay on ln until ctx ends.
func ServeAPI(ctx context.Context, cfg APIConfig, p APIParts, ln net.Listener, log *slog.Logger) error {
	rl, err := relay.New(relay.Config{Interval: cfg.RelayInterval, OutboxGrace: cfg.OutboxGrace, RescueAfter: cfg.RescueAfter}, p.Store, p.Broker, log, p.Metrics)
	if err != nil {
		return err
	}
	verifier := auth.NewVerifier(auth.VerifierConfig{CacheTTL: cfg.APIKeyCacheTTL}, p.Store, log)
	srv, err := api.New(cfg.apiConfig(api.Config{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxBatchBodyBytes: cfg.MaxBatchBodyBytes, MaxPayloadBytes: cfg.MaxPayloadBytes,
		MaxBatch: cfg.MaxBatch, StatsCacheTTL: cfg.StatsCacheTTL, StatsTerminalTTL: cfg.StatsTerminalTTL, WorkerTTL: cfg.WorkerTTL,
	}), api.Deps{
		Store: p.Store, Catalog: p.Catalog, Dispatcher: rl, Broker: p.Broker, Logger: log,
		Registerer: p.Metrics, Gatherer: p.Metrics, Verifier: verifier,
		Tracer: p.Tracer, MessagingSystem: telemetry.MessagingSystem(cfg.Broker),
	})
	if err != nil {
		return err
	}
	if p.MetricsListener != nil {
		defer serveMetrics(p.MetricsListener, p.Metrics, log)()
	}
	verifierCtx, stopVerifier := context.WithCancel(context.WithoutCancel(ctx))
	verifierDone := make(chan struct{})
	go func() { defer close(verifierDone); verifier.Run(verifierCtx) }()
	defer func() { stopVerifier(); <-verifierDone }()
	handler := srv.Handler()
	webCtx, stopWeb := context.WithCancel(ctx)
	defer stopWeb()
	webDone := make(chan error, 1)
	if cfg.WebEnabled {
		dash, err := web.New(web.Config{PollInterval: cfg.WebPollInterval},
			web.Deps{Store: p.Store, Stats: srv, Catalog: p.Catalog, Logger: log.With("component", "web"), Registerer: p.Metrics})
		if err != nil {
			return err
		}
		secret, err := cfg.sessionSecret()
		if err != nil {
			return err
		}
		if handler, err = dash.RequireSignIn(dash.Wrap(handler), web.SessionConfig{Secret: secret, TTL: cfg.SessionTTL, Failures: srv.AuthFailures()}, verifier); err != nil {
			return err
		}
		// The hub ends with ctx, closing the dashboard's streams so that the
		// HTTP server's Shutdown does not wait for them.
		go func() { webDone <- dash.Run(webCtx) }()
	} else {
		webDone <- nil
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan error, 1)
	go func() { relayDone <- rl.Run(relayCtx) }()
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	log.Info("api listening", "addr", ln.Addr().String(), "database", p.Store.Dialect(), "job_types", p.Catalog.Types())

	select {
	case err = <-serveErr:
		err = fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
		log.Info("api shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		if e := hs.Shutdown(sctx); e != nil {
			log.Warn("http shutdown incomplete", "err", e)
		}
		cancel()
		if e := <-serveErr; e != nil && !errors.Is(e, http.ErrServerClosed) {
			err = e
		}
	}
	stopRelay()
	<-relayDone
	stopWeb()
	<-webDone
	return err
}

// RunWorker runs flask-worker until ctx ends, then drains (see worker.Pool.Run).
func RunWorker(ctx context.Context, cfg WorkerConfig, reg *worker.Registry, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if reg == nil {
		var err error
		if reg, err = NewRegistry(cfg); err != nil {
			return err
		}
	}
	tr, err := StartTracing(ctx, cfg.Common, "flask-worker", log)
	if err != nil {
		return err
	}
	defer StopTracing(ctx, tr, log)
	st, err := OpenStore(ctx, cfg.Common, log)
	if err != nil {
		return err
	}
	defer st.Close()
	queues, err := ParseQueues(cfg.Queues, cfg.Concurrency)
	if err != nil {
		return fmt.Errorf("FLASK_QUEUES: %w", err)
	}
	b, err := OpenBroker(ctx, cfg.Common, "flask-worker", log, slices.Sorted(maps.Keys(queues))...)
	if err != nil {
		return err
	}
	defer b.Close()
	metrics := newRegistry()
	pool, err := NewPool(cfg, st, b, reg, log, metrics, tracerOf(tr))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	// POST /drain (from the preStop hook) starts the same drain as SIGTERM.
	runCtx, startDrain := context.WithCancel(ctx)
	defer startDrain()
	poolDone := make(chan struct{})
	health := healthHandler(st, b, metrics, drainer{start: startDrain, done: poolDone})
	// No WriteTimeout: a drain request waits for the pool, bounded by the
	// grace period; handlers set their own deadlines.
	hs := &http.Server{Handler: health, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "err", err)
		}
	}()
	log.Info("worker health endpoints listening", "addr", ln.Addr().String())
	stopDebug, err := serveDebug(cfg.DebugAddr, log)
	if err != nil {
		return err
	}
	defer stopDebug()
	err = pool.Run(runCtx)
	close(poolDone)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	return err
}

// NewPool builds a worker pool from the worker configuration; tp records
// its spans (nil: tracing off).
func NewPool(cfg WorkerConfig, st worker.Store, c events.Consumer, reg *worker.Registry, log *slog.Logger, metrics prometheus.Registerer,
	tp trace.TracerProvider) (*worker.Pool, error) {
	queues, err := ParseQueues(cfg.Queues, cfg.Concurrency)
	if err != nil {
		return nil, fmt.Errorf("FLASK_QUEUES: %w", err)
	}
	return worker.New(worker.Config{
		ID: cfg.WorkerID, Queues: queues, ShutdownGrace: cfg.ShutdownGrace, FetchWait: cfg.FetchWait, MaxFetch: cfg.MaxFetch,
		HeartbeatInterval: cfg.HeartbeatInterval, WorkerTTL: cfg.WorkerTTL, ExitWhenIdle: cfg.ExitWhenIdle,
		Tracer: tp, MessagingSystem: telemetry.MessagingSystem(cfg.Broker),
	}, st, c, reg, log, metrics)
}

// healthHandler serves a worker's /healthz, /readyz, /metrics and POST /drain.
func healthHandler(st *store.Store, b events.Pinger, g prometheus.Gatherer, drain http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /drain", drain)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := st.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unreachable\n"))
			return
		}
		if err := b.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("broker unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	return mux
}

// serveDebug serves pprof on addr (validated to be loopback) when set, and
// returns a function that stops it.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("FLASK_DEBUG_ADDR: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("debug server stopped", "err", err)
		}
	}()
	log.Info("pprof listening", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }, nil
}
