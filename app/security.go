package app

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flaskhq/flask/api"
	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/store"
)

// APISecurity holds flask-api's settings for authentication, limits and
// the metrics address. It is embedded in APIConfig.
type APISecurity struct {
	// BootstrapAPIKey, when set, makes sure an admin API key with this value
	// (flask_<id>_<secret>, from 'flaskctl keys create' or made once with
	// any tool that follows the format) exists at start-up, for the default
	// tenant. Bootstrap only: use it to create the real keys, then revoke
	// it. A revoked bootstrap key stays revoked. Secret: never logged.
	BootstrapAPIKey string `envconfig:"BOOTSTRAP_API_KEY"`
	// BootstrapAPIKeyFile reads the bootstrap key from a file instead (a
	// mounted Kubernetes Secret).
	BootstrapAPIKeyFile string `envconfig:"BOOTSTRAP_API_KEY_FILE"`
	// MetricsAddr serves GET /metrics (Prometheus) apart from the API, on
	// an address that only the scraper reaches. Default :9090. "off"
	// serves no metrics.
	MetricsAddr string `envconfig:"METRICS_ADDR" default:":9090"`
	// RateLimit is the requests per second one API key may make on
	// average, RateBurst how many at once. Defaults 50 and 100; a negative
	// RateLimit turns the limit off.
	RateLimit float64 `envconfig:"RATE_LIMIT" default:"50"`
	RateBurst int     `envconfig:"RATE_BURST" default:"100"`
	// TenantMaxQueued caps a tenant's waiting (scheduled, queued,
	// retrying) jobs; submissions past it answer 429. Approximate with
	// several API replicas (each refreshes the count every 2s). Default
	// 100000; negative: no cap.
	TenantMaxQueued int `envconfig:"TENANT_MAX_QUEUED" default:"100000"`
	// APIKeyCacheTTL is how long a verified API key is trusted without
	// reading the database: a key revoked through another replica stops
	// working here within this time. Default 10s.
	APIKeyCacheTTL time.Duration `envconfig:"API_KEY_CACHE_TTL" default:"10s"`
	// CORSOrigins lists the origins whose pages may call the API from a
	// browser, comma-separated (https://app.example.com). Default empty:
	// CORS off.
	CORSOrigins string `envconfig:"CORS_ORIGINS"`
	// SessionSecret signs the dashboard's session cookies: at least 32
	// bytes, the same on every API replica. Default empty: a random secret
	// per process (sessions then end when it restarts and work only on the
	// replica that made them). Secret.
	SessionSecret string `envconfig:"SESSION_SECRET"`
	// SessionSecretFile reads the session secret from a file instead.
	SessionSecretFile string `envconfig:"SESSION_SECRET_FILE"`
	// SessionTTL is how long a dashboard sign-in lasts. Default 8h.
	SessionTTL time.Duration `envconfig:"SESSION_TTL" default:"8h"`
}

// sessionSecret reads the dashboard's session secret; nil means random.
func (c *APISecurity) sessionSecret() ([]byte, error) {
	if c.SessionSecret == "" && c.SessionSecretFile == "" {
		return nil, nil
	}
	b, err := secretValue(c.SessionSecret, c.SessionSecretFile)
	if err != nil {
		return nil, fmt.Errorf("FLASK_SESSION_SECRET_FILE: %w", err)
	}
	if len(b) < 32 {
		return nil, errors.New("the session secret (FLASK_SESSION_SECRET or _FILE) must be at least 32 bytes")
	}
	return b, nil
}

func (c *APISecurity) validate() error {
	if c.BootstrapAPIKey != "" && c.BootstrapAPIKeyFile != "" {
		return errors.New("set FLASK_BOOTSTRAP_API_KEY or FLASK_BOOTSTRAP_API_KEY_FILE, not both")
	}
	if c.BootstrapAPIKey != "" {
		if _, err := auth.ParseKey(c.BootstrapAPIKey); err != nil {
			// The value is a secret: say what is wrong, never echo it.
			return errors.New("FLASK_BOOTSTRAP_API_KEY is not an API key: want flask_<16 base32 characters>_<52 base32 characters>, as 'flaskctl keys create' prints")
		}
	}
	if c.MetricsAddr == "" {
		return errors.New(`FLASK_METRICS_ADDR must not be empty: an address such as :9090, or "off"`)
	}
	if c.RateLimit == 0 || c.RateBurst < 1 {
		return errors.New("FLASK_RATE_LIMIT must be positive (or negative to turn it off) and FLASK_RATE_BURST at least 1")
	}
	if c.TenantMaxQueued == 0 {
		return errors.New("FLASK_TENANT_MAX_QUEUED must be positive (or negative for no cap)")
	}
	if c.SessionSecret != "" && c.SessionSecretFile != "" {
		return errors.New("set FLASK_SESSION_SECRET or FLASK_SESSION_SECRET_FILE, not both")
	}
	if c.SessionSecret != "" && len(c.SessionSecret) < 32 {
		return errors.New("FLASK_SESSION_SECRET must be at least 32 bytes")
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		return errors.New("FLASK_SESSION_TTL must be between 1m and 720h")
	}
	if c.APIKeyCacheTTL < time.Second || c.APIKeyCacheTTL > 5*time.Minute {
		return errors.New("FLASK_API_KEY_CACHE_TTL must be between 1s and 5m: it is how long a revoked key keeps working on other replicas")
	}
	for _, o := range c.corsOrigins() {
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://") || strings.Count(o, "/") != 2 {
			return fmt.Errorf("FLASK_CORS_ORIGINS: %q must be scheme://host[:port], such as https://app.example.com", o)
		}
	}
	return nil
}

func (c *APISecurity) corsOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// apiConfig fills the security part of the API's configuration.
func (c *APISecurity) apiConfig(cfg api.Config) api.Config {
	cfg.RateLimit, cfg.RateBurst = c.RateLimit, c.RateBurst
	cfg.TenantMaxQueued = c.TenantMaxQueued
	cfg.CORSOrigins = c.corsOrigins()
	return cfg
}

// bootstrapKey reads the bootstrap key from the environment or its file;
// "" when none is configured.
func (c *APISecurity) bootstrapKey() (string, error) {
	if c.BootstrapAPIKey == "" && c.BootstrapAPIKeyFile == "" {
		return "", nil
	}
	b, err := secretValue(c.BootstrapAPIKey, c.BootstrapAPIKeyFile)
	if err != nil {
		return "", fmt.Errorf("FLASK_BOOTSTRAP_API_KEY_FILE: %w", err)
	}
	if _, err := auth.ParseKey(string(b)); err != nil {
		return "", errors.New("the bootstrap API key is not an API key: want flask_<16 base32 characters>_<52 base32 characters>")
	}
	return string(b), nil
}

// EnsureAdminKey makes sure the admin key token exists for the default
// tenant: it creates it, or checks that the key stored under its id has the
// same secret. A revoked key stays revoked (and is reported).
func EnsureAdminKey(ctx context.Context, st *store.Store, token, name string, log *slog.Logger) error {
	k, err := auth.ParseKey(token)
	if err != nil {
		return errors.New("the bootstrap API key is not an API key")
	}
	stored, created, err := st.EnsureAPIKey(ctx, store.CreateKeyParams{
		ID: k.ID, Name: name, Tenant: store.DefaultTenant, Scopes: []string{string(auth.ScopeAdmin)}, SecretHash: k.Hash(),
	})
	if err != nil {
		return fmt.Errorf("bootstrap API key: %w", err)
	}
	if subtle.ConstantTimeCompare(stored.SecretHash, k.Hash()) != 1 {
		return fmt.Errorf("bootstrap API key: a key with id %s exists with another secret; choose another key", k.ID)
	}
	switch {
	case created:
		log.Info("bootstrap API key created", "audit", true, "key_id", k.ID, "tenant", store.DefaultTenant, "scopes", "admin")
	case stored.RevokedAt != nil:
		log.Warn("the bootstrap API key is revoked; it stays revoked", "key_id", k.ID)
	}
	return nil
}

// DevAPIKeyFile is the file in dev mode's data directory that keeps its
// admin API key.
const DevAPIKeyFile = "admin-api-key"

// devKey returns dev mode's admin key: the one kept in dir, or a new one
// written there (mode 0600) on the first run.
func devKey(dir string) (string, error) {
	path := filepath.Join(dir, DevAPIKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		token := strings.TrimSpace(string(b))
		if _, err := auth.ParseKey(token); err != nil {
			return "", fmt.Errorf("%s does not hold an API key; delete it to make a new one", path)
		}
		return token, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read dev API key: %w", err)
	}
	k, err := auth.NewKey()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(k.Token()+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write dev API key: %w", err)
	}
	return k.Token(), nil
}

// serveMetrics serves GET /metrics from h on ln until the returned stop
// function is called. Nothing else is served there.
func serveMetrics(ln net.Listener, g prometheus.Gatherer, log *slog.Logger) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError), ErrorHandling: promhttp.ContinueOnError,
	}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { _ = hs.Close() }
}
