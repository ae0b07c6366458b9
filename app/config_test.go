package app

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/telemetry"
)

func validWorker() WorkerConfig {
	return WorkerConfig{
		Common: Common{DatabaseURL: "sqlite:x.db", DBMaxConns: 1, DBFlushers: 1, Broker: "nats", NATS: NATSConfig{AckWait: 30 * time.Second},
			LogLevel: "info", LogFormat: "json", DemoTypes: true},
		HTTPAddr: ":8081", Queues: "default:5,mail", Concurrency: 10, FetchWait: 2 * time.Second, MaxFetch: 256,
		ShutdownGrace: 30 * time.Second, HeartbeatInterval: 2 * time.Second, WorkerTTL: 30 * time.Second,
	}
}

func TestWorkerConfigValidate(t *testing.T) {
	ok := validWorker()
	require.NoError(t, ok.Validate())
	cases := []struct {
		name, want string
		edit       func(*WorkerConfig)
	}{
		{"no database", "FLASK_DATABASE_URL", func(c *WorkerConfig) { c.DatabaseURL = "" }},
		{"broker", "FLASK_BROKER", func(c *WorkerConfig) { c.Broker = "kafka" }},
		{"log level", "FLASK_LOG_LEVEL", func(c *WorkerConfig) { c.LogLevel = "loud" }},
		{"log format", "FLASK_LOG_FORMAT", func(c *WorkerConfig) { c.LogFormat = "xml" }},
		{"queues", "FLASK_QUEUES", func(c *WorkerConfig) { c.Queues = "Bad Queue" }},
		{"queue concurrency", "FLASK_QUEUES", func(c *WorkerConfig) { c.Queues = "default:0" }},
		{"queue twice", "FLASK_QUEUES", func(c *WorkerConfig) { c.Queues = "a,a" }},
		{"ttl", "FLASK_WORKER_TTL", func(c *WorkerConfig) { c.WorkerTTL = 3 * time.Second }},
		{"fetch wait", "FLASK_FETCH_WAIT", func(c *WorkerConfig) { c.FetchWait = time.Hour }},
		{"max fetch", "FLASK_MAX_FETCH", func(c *WorkerConfig) { c.MaxFetch = 0 }},
		{"cidrs", "FLASK_HTTP_ALLOW_CIDRS", func(c *WorkerConfig) { c.HTTPAllowCIDRs = "ten/8" }},
		{"job types", "FLASK_JOB_TYPES", func(c *WorkerConfig) { c.JobTypes = "x:colour=red" }},
		{"debug on the network", "FLASK_DEBUG_ADDR", func(c *WorkerConfig) { c.DebugAddr = "0.0.0.0:6060" }},
		{"debug without port", "FLASK_DEBUG_ADDR", func(c *WorkerConfig) { c.DebugAddr = "127.0.0.1" }},
		{"two secrets", "FLASK_HTTP_SIGNING_SECRET", func(c *WorkerConfig) { c.HTTPSigningSecret, c.HTTPSigningSecretFile = "a", "b" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := validWorker()
			c.edit(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	debug := validWorker()
	debug.DebugAddr = "127.0.0.1:6060"
	require.NoError(t, debug.Validate())
}

func TestParseQueues(t *testing.T) {
	q, err := ParseQueues(" default:20 , mail ", 7)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"default": 20, "mail": 7}, q)
	_, err = ParseQueues(" , ", 7)
	require.Error(t, err)
}

func TestMaskURL(t *testing.T) {
	require.Equal(t, "postgres://flask:*****@db:5432/flask", MaskURL("postgres://flask:s3cret@db:5432/flask"))
	require.Equal(t, "nats://127.0.0.1:4222", MaskURL("nats://127.0.0.1:4222"))
	require.Equal(t, "sqlite:/data/flask.db", MaskURL("sqlite:/data/flask.db"))
}

// The tracing settings come from the standard OTEL_* names only: a
// FLASK_OTEL_* alias (which the OpenTelemetry SDK would ignore) has no
// effect, and the FLASK_* settings are read as before.
func TestLoadConfigReadsOTELNamesOnly(t *testing.T) {
	t.Setenv("FLASK_DATABASE_URL", "postgres://db.internal/flask")
	t.Setenv("FLASK_OTEL_SDK_DISABLED", "true")
	t.Setenv("FLASK_OTEL_EXPORTER_OTLP_ENDPOINT", "http://wrong:4318")
	env := map[string]string{"OTEL_TRACES_EXPORTER": "console"}
	var cfg WorkerConfig
	require.NoError(t, LoadConfig(&cfg, func(k string) string { return env[k] }))
	require.Equal(t, "postgres://db.internal/flask", cfg.DatabaseURL)
	require.False(t, cfg.SDKDisabled)
	require.Empty(t, cfg.OTLPEndpoint)
	require.Equal(t, telemetry.ExporterConsole, cfg.TracingConfig.Exporter())

	env = map[string]string{"OTEL_SDK_DISABLED": "yes please"}
	err := LoadConfig(&cfg, func(k string) string { return env[k] })
	require.EqualError(t, err, `OTEL_SDK_DISABLED="yes please": use true or false`)
}
