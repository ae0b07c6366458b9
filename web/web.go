package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store"
)

// Store is what the dashboard reads. It never writes: actions go through
// the HTTP API.
type Store interface {
	// GetJob returns job.ErrNotFound when no job has the id.
	GetJob(ctx context.Context, id string) (*job.Job, error)
	// FindJobsByKey returns the jobs submitted with the idempotency key, at
	// most one per tenant; store.AllTenants searches every tenant.
	FindJobsByKey(ctx context.Context, tenant, key string) ([]job.Job, error)
	// GetJobs returns the jobs that exist among ids, in any order.
	GetJobs(ctx context.Context, ids []string) ([]job.Job, error)
	// ListJobs returns at most p.Limit jobs, newest first, older than p.Cursor.
	ListJobs(ctx context.Context, p store.ListParams) ([]job.Job, error)
}

// Stats serves the queue statistics the overview shows: the API's cached
// reading (api.Server.StatsSnapshot), shared with /metrics and KEDA, so
// the dashboard adds no statistics query of its own.
type Stats interface {
	StatsSnapshot(ctx context.Context) (store.StatsSnapshot, error)
}

// Defaults of Config.
const (
	DefaultPollInterval       = time.Second
	DefaultIdleSampleInterval = 15 * time.Second
	DefaultMaxStreams         = 1000
	DefaultPageSize           = 50
	DefaultReadTimeout        = 10 * time.Second
)

// maxPageSize caps the jobs page, and so the jobs one stream watches.
const maxPageSize = 100

// Config tunes the dashboard. A zero field takes its default.
type Config struct {
	// PollInterval is how often the hub reads the store while at least one
	// stream is open. Default 1s.
	PollInterval time.Duration
	// IdleSampleInterval is how often the hub reads the queue statistics
	// when no stream is open, to keep the 15-minute charts filled. Default 15s.
	IdleSampleInterval time.Duration
	// MaxStreams caps the live-update streams open at once; more are
	// answered 503 and the page retries later. Default 1000.
	MaxStreams int
	// DefaultQueue is the queue shown for a job type whose spec names
	// job.DefaultQueue, as the API does. Default job.DefaultQueue.
	DefaultQueue string
	// ReadTimeout bounds each store read of a page or of one poll. Default 10s.
	ReadTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.IdleSampleInterval <= 0 {
		c.IdleSampleInterval = DefaultIdleSampleInterval
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = DefaultMaxStreams
	}
	if c.DefaultQueue == "" {
		c.DefaultQueue = job.DefaultQueue
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	return c
}

// Deps are the dashboard's collaborators.
type Deps struct {
	// Store is read for every page and poll. Required.
	Store Store
	// Stats gives the overview's queue counts and workers. Required.
	Stats Stats
	// Catalog lists the job types offered by the submit form. Required.
	Catalog *job.Catalog
	// Logger receives errors. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the dashboard's metrics. Nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Dashboard serves the web dashboard. Build it with New, serve it with Wrap
// or Handler, and run its live-update hub with Run.
type Dashboard struct {
	cfg     Config
	store   Store
	stats   Stats
	catalog *job.Catalog
	log     *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	frags   *template.Template
	assets  *assets
	hub     *hub
	metrics *metrics
	handler http.Handler
	// sessionRecheck is how often a signed-in stream checks its session.
	sessionRecheck time.Duration
}

// New builds the dashboard and registers its metrics.
func New(cfg Config, deps Deps) (*Dashboard, error) {
	cfg = cfg.withDefaults()
	if deps.Store == nil {
		return nil, errors.New("web: a store is required")
	}
	if deps.Stats == nil {
		return nil, errors.New("web: a statistics source is required")
	}
	if deps.Catalog == nil {
		return nil, errors.New("web: a job type catalog is required")
	}
	d := &Dashboard{cfg: cfg, store: deps.Store, stats: deps.Stats, catalog: deps.Catalog, log: deps.Logger, now: deps.Now, sessionRecheck: sessionRecheck}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	var err error
	if d.assets, err = loadAssets(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if d.pages, d.frags, err = parseTemplates(d.assets); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if d.metrics, err = newMetrics(deps.Registerer); err != nil {
		return nil, fmt.Errorf("web: register metrics: %w", err)
	}
	d.hub = newHub(d)
	d.handler = d.routes()
	return d, nil
}

// Run polls the store for the live updates until ctx ends, then closes
// every open stream. Run it once, beside the HTTP server; streams opened
// before Run starts wait for it, and streams opened after it returns are
// refused.
func (d *Dashboard) Run(ctx context.Context) error { return d.hub.run(ctx) }

// Handler serves the dashboard's routes only (see Wrap), with its security
// headers but without cross-origin protection, which Wrap adds.
func (d *Dashboard) Handler() http.Handler { return d.handler }

// Wrap serves the dashboard's routes — /, /jobs, /jobs/{id}, /submit and
// /ui/… — and passes every other request to next (the API). Every unsafe
// request to either is refused with 403 when a browser says it comes from
// another origin (http.CrossOriginProtection): the dashboard's script calls
// the API, so the API's POST routes are what a forged form would aim at.
// Clients other than browsers send no such headers and are not affected.
//
// A sign-in middleware (API keys exchanged for a session cookie) wraps the
// handler Wrap returns.
func (d *Dashboard) Wrap(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", next)
	d.register(mux)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(denyCrossOrigin))
	return cop.Handler(mux)
}

// denyCrossOrigin answers a cross-origin unsafe request in the API's
// problem format.
func denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	type fieldError struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	}
	body, _ := json.Marshal(struct {
		Type   string       `json:"type"`
		Title  string       `json:"title"`
		Status int          `json:"status"`
		Detail string       `json:"detail"`
		Errors []fieldError `json:"errors"`
	}{
		Type: ProblemCrossOrigin, Title: "Forbidden", Status: http.StatusForbidden,
		Detail: "a browser sent this " + r.Method + " request from another origin; it is refused",
		Errors: []fieldError{{Field: "Origin", Detail: "must be this server's origin"}},
	})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write(append(body, '\n'))
}

// ProblemCrossOrigin is the problem type of a refused cross-origin request.
const ProblemCrossOrigin = "urn:flask:problem:cross-origin"

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	d.register(mux)
	return mux
}

// register adds the dashboard's routes to mux.
func (d *Dashboard) register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", d.page(d.overview))
	mux.Handle("GET /jobs", d.page(d.jobs))
	mux.Handle("GET /jobs/{$}", http.RedirectHandler("/jobs", http.StatusMovedPermanently))
	mux.Handle("GET /jobs/{id}", d.page(d.jobDetail))
	mux.Handle("GET /submit", d.page(d.submit))
	mux.Handle("GET /ui/events", securityHeaders(http.HandlerFunc(d.events)))
	mux.Handle("GET /ui/assets/{name}", http.HandlerFunc(d.assets.serve))
}

// contentSecurityPolicy allows scripts, styles and connections to this
// origin only, no inline script or style, and no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers of every dashboard page and stream.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
