package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/telemetry"
)

// Store is what the API needs from the job store. A tenant argument limits
// a call to that tenant's jobs; store.AllTenants lifts the limit (admin keys).
type Store interface {
	// InsertJobs inserts every job or none. A job whose idempotency key is
	// already taken in its tenant is not inserted again: its result has
	// Existing set and holds the original job. The outbox entries are those
	// of the new jobs.
	InsertJobs(ctx context.Context, params []store.InsertParams) ([]store.InsertResult, []store.OutboxEntry, error)
	// GetTenantJob returns job.ErrNotFound when no job of tenant has the id.
	GetTenantJob(ctx context.Context, tenant, id string) (*job.Job, error)
	// ListJobs returns at most p.Limit jobs of p.Tenant, newest first, older
	// than p.Cursor when it is set.
	ListJobs(ctx context.Context, p store.ListParams) ([]job.Job, error)
	// CancelTenantJob cancels a job, or marks a running one with
	// CancelRequestedAt. It returns a *job.StateError when the job's state
	// does not allow it and job.ErrNotFound when no job of tenant has the id.
	CancelTenantJob(ctx context.Context, tenant, id string) (*job.Job, error)
	// RetryTenantJob queues a failed or cancelled job again and returns the
	// outbox entries to publish; a *job.StateError for any other state.
	RetryTenantJob(ctx context.Context, tenant, id string) (*job.Job, []store.OutboxEntry, error)
	// ActiveQueueStats counts the scheduled, queued, running and retrying
	// jobs of tenant (store.AllTenants: every tenant's) by queue and state,
	// with the oldest queued job per queue. Cheap: polled every second.
	ActiveQueueStats(ctx context.Context, tenant string) ([]store.QueueStats, error)
	// TerminalQueueStats counts the succeeded, failed and cancelled jobs of
	// tenant by queue and state. Costs a scan of every finished job.
	TerminalQueueStats(ctx context.Context, tenant string) ([]store.QueueStats, error)
	// TenantQueueStats summarises the queues that hold jobs of tenant: both
	// of the above.
	TenantQueueStats(ctx context.Context, tenant string) ([]store.QueueStats, error)
	// CountWaiting counts the scheduled, queued and retrying jobs of tenant.
	CountWaiting(ctx context.Context, tenant string) (int, error)
	// CreateAPIKey stores a new key; job.ErrDuplicate when its id is taken.
	CreateAPIKey(ctx context.Context, p store.CreateKeyParams) (*store.APIKey, error)
	// ListAPIKeys lists the keys of tenant (store.AllTenants: every key).
	ListAPIKeys(ctx context.Context, tenant string) ([]store.APIKey, error)
	// RevokeAPIKey revokes a key; store.ErrKeyNotFound when none has the id.
	RevokeAPIKey(ctx context.Context, id string) (*store.APIKey, error)
	auth.KeyStore
	// OutboxStats counts the committed jobs not yet published and returns
	// when the oldest was written (nil when none waits).
	OutboxStats(ctx context.Context) (int, *time.Time, error)
	// ListWorkers lists the live workers.
	ListWorkers(ctx context.Context) ([]store.WorkerInfo, error)
	// Ping checks the connection to the database.
	Ping(ctx context.Context) error
}

// Dispatcher publishes committed outbox entries right away. It never fails
// the request: entries it could not publish stay in the outbox for the
// relay's sweep.
type Dispatcher interface {
	Dispatch(ctx context.Context, entries []store.OutboxEntry)
}

// Checker reports whether a dependency, such as the broker, is reachable.
type Checker interface {
	Ping(ctx context.Context) error
}

// Defaults of Config.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultMaxBatchBodyBytes = 32 << 20
	DefaultMaxPayloadBytes   = 256 << 10
	DefaultMaxBatch          = 1000
	DefaultMaxListLimit      = 1000
	DefaultListLimit         = 50
	DefaultRequestTimeout    = 30 * time.Second
	DefaultDispatchTimeout   = 5 * time.Second
	DefaultCheckTimeout      = 2 * time.Second
	DefaultStatsCacheTTL     = time.Second
	DefaultStatsTerminalTTL  = time.Minute
	DefaultWorkerTTL         = 30 * time.Second
	DefaultRateLimit         = 50
	DefaultRateBurst         = 100
	DefaultTenantMaxQueued   = 100000
	DefaultQuotaRefresh      = 2 * time.Second
	DefaultAuthFailureRate   = auth.DefaultFailureRate
	DefaultAuthFailureBurst  = auth.DefaultFailureBurst
)

// Config holds the API's limits. A zero field takes its default.
type Config struct {
	// MaxBodyBytes caps a request body, except a batch's. Default 1 MiB.
	MaxBodyBytes int64
	// MaxBatchBodyBytes caps the body of POST /v1/jobs/batch. Default 32 MiB.
	MaxBatchBodyBytes int64
	// MaxPayloadBytes caps one job's payload, measured after removing
	// insignificant whitespace. Default 256 KiB.
	MaxPayloadBytes int
	// MaxBatch caps the number of jobs in one batch. Default 1000.
	MaxBatch int
	// MaxListLimit caps the limit parameter of GET /v1/jobs. Default 1000.
	MaxListLimit int
	// DefaultListLimit is the page size of GET /v1/jobs without limit. Default 50.
	DefaultListLimit int
	// DefaultQueue is the queue of a job whose request names none and whose
	// type's spec names none. The catalog fills job.DefaultQueue into specs
	// without a queue, so this replaces that queue. Default job.DefaultQueue.
	DefaultQueue string
	// RequestTimeout bounds the work done for one request; its context is
	// cancelled after that. Default 30s.
	RequestTimeout time.Duration
	// DispatchTimeout bounds the synchronous publish after an insert. Default 5s.
	DispatchTimeout time.Duration
	// CheckTimeout bounds the readiness pings and each read of the queue
	// statistics (metrics scrapes, GET /v1/stats/...). Default 2s.
	CheckTimeout time.Duration
	// StatsCacheTTL is how long one read of the queue statistics serves the
	// metrics scrapes and GET /v1/stats/... of this process, so that many
	// scrapers and autoscalers cost one query. Default 1s.
	StatsCacheTTL time.Duration
	// StatsTerminalTTL is how long one read of the finished jobs' counts
	// (succeeded, failed, cancelled: a scan that grows with every job ever
	// run) serves those statistics; it is read in the background, apart from
	// the active counts. Default 1m.
	StatsTerminalTTL time.Duration
	// WorkerTTL is the heartbeat age past which a worker no longer counts
	// as live in the statistics (flask_queue_workers, the stats endpoint):
	// the workers' FLASK_WORKER_TTL. Default 30s.
	WorkerTTL time.Duration
	// RateLimit is the requests per second one API key may make on average;
	// RateBurst how many it may make at once. Defaults 50 and 100. A
	// negative RateLimit turns rate limiting off.
	RateLimit float64
	RateBurst int
	// TenantMaxQueued caps a tenant's waiting (scheduled, queued, retrying)
	// jobs. The count is refreshed from the store every QuotaRefresh and
	// kept up to date in between with this process's own inserts, so it is
	// approximate with several API replicas. Default 100000; negative: no cap.
	TenantMaxQueued int
	// QuotaRefresh is how often a tenant's waiting count is read again. Default 2s.
	QuotaRefresh time.Duration
	// AuthFailureRate and AuthFailureBurst bound the failed authentications
	// per client address (per second, at once): past them a client is
	// answered 429 without the key being looked up. Defaults 5 and 20.
	AuthFailureRate  float64
	AuthFailureBurst int
	// CORSOrigins lists the origins (such as https://app.example.com) whose
	// pages may call the API from a browser. Empty: CORS is off.
	CORSOrigins []string
}

func (c Config) withDefaults() Config {
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.MaxBatchBodyBytes, DefaultMaxBatchBodyBytes)
	setDefault(&c.MaxPayloadBytes, DefaultMaxPayloadBytes)
	setDefault(&c.MaxBatch, DefaultMaxBatch)
	setDefault(&c.MaxListLimit, DefaultMaxListLimit)
	setDefault(&c.DefaultListLimit, DefaultListLimit)
	setDefault(&c.DefaultQueue, job.DefaultQueue)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.DispatchTimeout, DefaultDispatchTimeout)
	setDefault(&c.CheckTimeout, DefaultCheckTimeout)
	setDefault(&c.StatsCacheTTL, DefaultStatsCacheTTL)
	setDefault(&c.StatsTerminalTTL, DefaultStatsTerminalTTL)
	setDefault(&c.WorkerTTL, DefaultWorkerTTL)
	setDefault(&c.RateLimit, DefaultRateLimit)
	setDefault(&c.RateBurst, DefaultRateBurst)
	setDefault(&c.TenantMaxQueued, DefaultTenantMaxQueued)
	setDefault(&c.QuotaRefresh, DefaultQuotaRefresh)
	setDefault(&c.AuthFailureRate, DefaultAuthFailureRate)
	setDefault(&c.AuthFailureBurst, DefaultAuthFailureBurst)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (c Config) validate() error {
	var errs []error
	if c.MaxBodyBytes < 0 || c.MaxBatchBodyBytes < 0 || c.MaxPayloadBytes < 0 {
		errs = append(errs, errors.New("body and payload limits must not be negative"))
	}
	if c.MaxBatch < 0 || c.MaxListLimit < 0 || c.DefaultListLimit < 0 {
		errs = append(errs, errors.New("batch and list limits must not be negative"))
	}
	if c.DefaultListLimit > c.MaxListLimit {
		errs = append(errs, fmt.Errorf("default list limit %d is above the maximum %d", c.DefaultListLimit, c.MaxListLimit))
	}
	if c.MaxListLimit > storeMaxList {
		errs = append(errs, fmt.Errorf("max list limit %d is above the store's %d", c.MaxListLimit, storeMaxList))
	}
	if err := job.ValidateQueue(c.DefaultQueue); err != nil {
		errs = append(errs, fmt.Errorf("default queue: %w", err))
	}
	if c.RequestTimeout < 0 || c.DispatchTimeout < 0 || c.CheckTimeout < 0 || c.QuotaRefresh < 0 || c.StatsCacheTTL < 0 || c.StatsTerminalTTL < 0 || c.WorkerTTL < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if c.RateBurst < 1 || c.AuthFailureBurst < 1 || c.AuthFailureRate <= 0 {
		errs = append(errs, errors.New("rate bursts and the auth failure rate must be positive"))
	}
	for _, o := range c.CORSOrigins {
		if err := validOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Deps are the collaborators of the server.
type Deps struct {
	// Store records jobs. Required.
	Store Store
	// Catalog lists the accepted job types and their defaults. Required.
	Catalog *job.Catalog
	// Dispatcher publishes new outbox entries at once. Nil leaves them all
	// to the relay.
	Dispatcher Dispatcher
	// Broker is pinged by GET /readyz. Nil checks the store only.
	Broker Checker
	// Logger receives the access log and the errors. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the API's metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Gatherer is served at GET /metrics. Nil answers 404 there.
	Gatherer prometheus.Gatherer
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Verifier authenticates API keys. Nil builds one over Store with the
	// default settings; pass one to share it with the dashboard.
	Verifier *auth.Verifier
	// Tracer records a SERVER span per request and a PRODUCER span per
	// submitted job. Nil: tracing off (a caller's trace context still
	// passes through to the jobs it submits).
	Tracer trace.TracerProvider
	// MessagingSystem is the messaging.system of the PRODUCER spans: nats
	// or aws_sqs (see telemetry.MessagingSystem).
	MessagingSystem string
}

// Server serves the HTTP API. Build it with New.
type Server struct {
	cfg        Config
	store      Store
	catalog    *job.Catalog
	dispatcher Dispatcher
	broker     Checker
	log        *slog.Logger
	now        func() time.Time
	metrics    *metrics
	stats      *statsCache
	verifier   *auth.Verifier
	limiter    *auth.Limiter // per API key; nil when rate limiting is off
	failures   *auth.Limiter // failed authentications per client address
	quota      *quota        // nil without a cap
	// metricsHandler serves GET /metrics on the admin address; nil without a gatherer.
	metricsHandler http.Handler
	router         chi.Router
	handler        http.Handler
	// tracing is on when Deps.Tracer was given; tracer is a no-op otherwise.
	tracing         bool
	tracer          trace.Tracer
	messagingSystem string
}

// New builds the server and registers its metrics on deps.Registerer.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	if deps.Store == nil {
		return nil, errors.New("api: a store is required")
	}
	if deps.Catalog == nil {
		return nil, errors.New("api: a job type catalog is required")
	}
	s := &Server{
		cfg:        cfg,
		store:      deps.Store,
		catalog:    deps.Catalog,
		dispatcher: deps.Dispatcher,
		broker:     deps.Broker,
		log:        deps.Logger,
		now:        deps.Now,
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.stats = newStatsCache(s.store, s.log, s.now, cfg.StatsCacheTTL, cfg.StatsTerminalTTL, cfg.CheckTimeout, cfg.WorkerTTL)
	s.tracing, s.tracer, s.messagingSystem = deps.Tracer != nil, telemetry.Tracer(deps.Tracer), deps.MessagingSystem
	m, err := newMetrics(deps.Registerer, s.stats, s.log)
	if err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	s.metrics = m
	s.verifier = deps.Verifier
	if s.verifier == nil {
		s.verifier = auth.NewVerifier(auth.VerifierConfig{Now: s.now}, s.store, s.log)
	}
	if cfg.RateLimit > 0 {
		s.limiter = auth.NewLimiter(cfg.RateLimit, cfg.RateBurst, s.now)
	}
	s.failures = auth.NewLimiter(cfg.AuthFailureRate, cfg.AuthFailureBurst, s.now)
	if cfg.TenantMaxQueued > 0 {
		s.quota = newQuota(cfg.TenantMaxQueued, cfg.QuotaRefresh, s.store.CountWaiting, s.now)
	}
	if deps.Gatherer != nil {
		s.metricsHandler = promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		})
	}
	s.router = s.routes()
	s.handler = s.router
	return s, nil
}

// Handler returns the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.handler }

// AuthFailures is the limiter of failed authentications per client
// address. The dashboard's sign-in form counts its failures in it too, so
// that the form is no cheaper a way to make the server look keys up.
func (s *Server) AuthFailures() *auth.Limiter { return s.failures }

// MetricsHandler serves the Prometheus metrics. It is not among the API's
// routes: serve it on a separate address that only the scraper reaches.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(s.serveMetrics)
}

// Verifier returns the server's API key verifier; run its Run method to
// record the keys' last use.
func (s *Server) Verifier() *auth.Verifier { return s.verifier }

// ServeHTTP serves one request; it makes *Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// routes builds the router. Routes are registered flat, with full patterns,
// so that route labels and the OpenAPI document use the same paths. Every
// /v1 route requires an API key with the scope named here (anyScope: any
// valid key); only the probes are open.
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.requestID, s.traceRequests, s.instrument, securityHeaders, s.cors, s.timeout)
	r.NotFound(s.notFound)
	r.MethodNotAllowed(s.methodNotAllowed)

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	r.Get("/v1/openapi.yaml", s.authed(anyScope, func(w http.ResponseWriter, r *http.Request) error {
		serveOpenAPI(w, r)
		return nil
	}))

	r.Post("/v1/jobs", s.authed(auth.ScopeSubmit, s.submit))
	r.Post("/v1/jobs/batch", s.authed(auth.ScopeSubmit, s.submitBatch))
	r.Get("/v1/jobs", s.authed(auth.ScopeRead, s.listJobs))
	r.Get("/v1/jobs/{id}", s.authed(auth.ScopeRead, s.getJob))
	r.Post("/v1/jobs/{id}/cancel", s.authed(auth.ScopeManage, s.cancelJob))
	r.Post("/v1/jobs/{id}/retry", s.authed(auth.ScopeManage, s.retryJob))
	r.Get("/v1/queues", s.authed(auth.ScopeRead, s.listQueues))
	r.Get("/v1/types", s.authed(auth.ScopeRead, s.listTypes))
	// Workers are the platform's, not a tenant's.
	r.Get("/v1/workers", s.authed(auth.ScopeAdmin, s.listWorkers))
	// Aggregate numbers over every tenant, for autoscalers (KEDA metrics-api).
	r.Get("/v1/stats/queues/{queue}", s.authed(auth.ScopeStats, s.queueScaling))

	r.Post("/v1/keys", s.authed(auth.ScopeAdmin, s.createKey))
	r.Get("/v1/keys", s.authed(auth.ScopeAdmin, s.listKeys))
	r.Post("/v1/keys/{keyID}/revoke", s.authed(auth.ScopeAdmin, s.revokeKey))
	return r
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metricsHandler == nil {
		s.notFound(w, r)
		return
	}
	s.metricsHandler.ServeHTTP(w, r)
}
