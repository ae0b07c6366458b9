package app

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/store"
)

func validAPI(t *testing.T) APIConfig {
	t.Helper()
	var c APIConfig
	t.Setenv("FLASK_DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "f.db"))
	require.NoError(t, envconfig.Process("FLASK", &c))
	require.NoError(t, c.Validate())
	return c
}

func TestAPISecurityDefaults(t *testing.T) {
	c := validAPI(t)
	require.Equal(t, ":9090", c.MetricsAddr, "metrics are apart from the API by default")
	require.Equal(t, 50.0, c.RateLimit)
	require.Equal(t, 100, c.RateBurst)
	require.Equal(t, 100000, c.TenantMaxQueued)
	require.Empty(t, c.corsOrigins(), "CORS is off by default")
}

func TestAPISecurityValidate(t *testing.T) {
	k, err := auth.NewKey()
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		mut  func(c *APIConfig)
		want string
	}{
		"both bootstrap sources": {func(c *APIConfig) { c.BootstrapAPIKey, c.BootstrapAPIKeyFile = k.Token(), "/x" }, "not both"},
		"malformed bootstrap":    {func(c *APIConfig) { c.BootstrapAPIKey = "hunter2-not-a-key" }, "FLASK_BOOTSTRAP_API_KEY"},
		"no metrics address":     {func(c *APIConfig) { c.MetricsAddr = "" }, "FLASK_METRICS_ADDR"},
		"zero rate":              {func(c *APIConfig) { c.RateLimit = 0 }, "FLASK_RATE_LIMIT"},
		"zero burst":             {func(c *APIConfig) { c.RateBurst = 0 }, "FLASK_RATE_BURST"},
		"zero cap":               {func(c *APIConfig) { c.TenantMaxQueued = 0 }, "FLASK_TENANT_MAX_QUEUED"},
		"long cache":             {func(c *APIConfig) { c.APIKeyCacheTTL = 0 }, "FLASK_API_KEY_CACHE_TTL"},
		"bad origin":             {func(c *APIConfig) { c.CORSOrigins = "https://a.example.com/path" }, "FLASK_CORS_ORIGINS"},
		"short session secret":   {func(c *APIConfig) { c.SessionSecret = "hunter2" }, "FLASK_SESSION_SECRET"},
		"both session sources":   {func(c *APIConfig) { c.SessionSecret, c.SessionSecretFile = strings.Repeat("s", 32), "/x" }, "not both"},
		"session ttl":            {func(c *APIConfig) { c.SessionTTL = time.Second }, "FLASK_SESSION_TTL"},
	} {
		c := validAPI(t)
		tc.mut(&c)
		err := c.Validate()
		require.ErrorContains(t, err, tc.want, name)
		require.NotContains(t, err.Error(), "hunter2", "a secret is never echoed")
		require.NotContains(t, err.Error(), k.Secret, "a secret is never echoed")
	}
	c := validAPI(t)
	c.BootstrapAPIKey, c.RateLimit, c.TenantMaxQueued, c.MetricsAddr = k.Token(), -1, -1, "off"
	c.CORSOrigins = "https://a.example.com, http://localhost:3000"
	require.NoError(t, c.Validate())
	require.Equal(t, []string{"https://a.example.com", "http://localhost:3000"}, c.corsOrigins())
}

func TestBootstrapKey(t *testing.T) {
	k, err := auth.NewKey()
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(file, []byte(k.Token()+"\n"), 0o600))
	c := APISecurity{BootstrapAPIKeyFile: file}
	got, err := c.bootstrapKey()
	require.NoError(t, err)
	require.Equal(t, k.Token(), got, "read from the file, trimmed")
	require.NoError(t, os.WriteFile(file, []byte("hunter2"), 0o600))
	_, err = c.bootstrapKey()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")

	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "f.db"), store.Config{}, log)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, EnsureAdminKey(ctx, st, k.Token(), "bootstrap", log))
	require.NoError(t, EnsureAdminKey(ctx, st, k.Token(), "bootstrap", log), "a second start finds it")
	stored, err := st.GetAPIKey(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"admin"}, stored.Scopes)
	require.Equal(t, store.DefaultTenant, stored.Tenant)
	v := auth.NewVerifier(auth.VerifierConfig{}, st, log)
	p, err := v.Verify(ctx, k.Token())
	require.NoError(t, err)
	require.True(t, p.Admin())

	impostor := auth.Key{ID: k.ID, Secret: strings.Repeat("b", 52)}
	err = EnsureAdminKey(ctx, st, impostor.Token(), "bootstrap", log)
	require.ErrorContains(t, err, "another secret")
	require.NotContains(t, err.Error(), impostor.Secret)

	_, err = st.RevokeAPIKey(ctx, k.ID)
	require.NoError(t, err)
	require.NoError(t, EnsureAdminKey(ctx, st, k.Token(), "bootstrap", log))
	_, err = v.Verify(ctx, k.Token())
	require.NoError(t, err, "still cached")
	v2 := auth.NewVerifier(auth.VerifierConfig{}, st, log)
	_, err = v2.Verify(ctx, k.Token())
	require.ErrorIs(t, err, auth.ErrUnauthenticated, "a restart does not resurrect a revoked bootstrap key")
}

func TestDevKeyIsKeptPrivately(t *testing.T) {
	dir := t.TempDir()
	a, err := devKey(dir)
	require.NoError(t, err)
	b, err := devKey(dir)
	require.NoError(t, err)
	require.Equal(t, a, b, "the same key across restarts")
	fi, err := os.Stat(filepath.Join(dir, DevAPIKeyFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
