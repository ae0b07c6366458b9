package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/telemetry"
	"github.com/flaskhq/flask/worker/builtin"
)

// Common holds the settings every Flask process reads.
type Common struct {
	// DatabaseURL: a postgres:// URL, or an SQLite path (sqlite:PATH or a
	// plain path). Required. Secret: it is masked in logs.
	DatabaseURL string `envconfig:"DATABASE_URL" required:"true"`
	// DBMaxConns caps the database pool. Default 16.
	DBMaxConns int `envconfig:"DB_MAX_CONNS" default:"16"`
	// DBFlushers is how many group-commit transactions of one kind (inserts,
	// finishes) may run at once. Fewer means bigger batches and fewer
	// commits; more means less waiting when the database has spare capacity.
	// Default 2 (SQLite always 1).
	DBFlushers int `envconfig:"DB_FLUSHERS" default:"2"`
	// Broker: "nats" (NATS JetStream) or "sqs" (AWS SQS). Default nats.
	Broker string `envconfig:"BROKER" default:"nats"`
	// NATS configures the NATS JetStream broker (FLASK_NATS_*).
	NATS NATSConfig `envconfig:"NATS"`
	// SQS configures the AWS SQS broker (FLASK_SQS_*).
	SQS SQSConfig `envconfig:"SQS"`
	// AWSRegion is the region of the SQS queues, from AWS_REGION (as the
	// AWS SDKs read it). Required when Broker is sqs.
	AWSRegion string `envconfig:"AWS_REGION"`
	// JobTypes lists accepted job types beyond the built-in ones, with
	// optional defaults: "email.send:queue=mail:max_attempts=5:timeout=30s,report.build".
	JobTypes string `envconfig:"JOB_TYPES"`
	// DemoTypes accepts and runs the demo.* types. Default true.
	DemoTypes bool `envconfig:"DEMO_TYPES" default:"true"`
	// HTTPRoutes maps job types to the URLs their payloads are POSTed to:
	// "image.resize=https://resizer.internal/run,report.build=https://…".
	HTTPRoutes string `envconfig:"HTTP_ROUTES"`
	// LogLevel: debug, info, warn or error. Default info.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// LogFormat: json or text. Default json.
	LogFormat string `envconfig:"LOG_FORMAT" default:"json"`
	// DebugAddr serves Go's pprof profiles on a loopback address such as
	// 127.0.0.1:6060. Default empty: off.
	DebugAddr string `envconfig:"DEBUG_ADDR"`
	// Migrate applies database migrations at start-up. Default false:
	// production runs 'flaskctl migrate' (a Helm hook) instead.
	Migrate bool `envconfig:"MIGRATE" default:"false"`
	// TracingConfig decides whether the process traces. It is read from
	// the standard OTEL_* names by LoadConfig (TracingFromEnv), not by
	// envconfig, which would also accept FLASK_OTEL_* aliases that the
	// OpenTelemetry SDK ignores.
	TracingConfig `ignored:"true"`
}

// LoadConfig fills cfg, an *APIConfig or *WorkerConfig, from the FLASK_*
// variables and its tracing settings from the standard OTEL_* variables
// getenv returns (os.Getenv in the binaries).
func LoadConfig(cfg interface{ tracing() *TracingConfig }, getenv func(string) string) error {
	if err := envconfig.Process("FLASK", cfg); err != nil {
		return err
	}
	t, err := TracingFromEnv(getenv)
	if err != nil {
		return err
	}
	*cfg.tracing() = t
	return nil
}

func (c *Common) tracing() *TracingConfig { return &c.TracingConfig }

// TracingConfig holds the OTEL_* settings that decide whether a process
// sends traces. Tracing is off unless OTEL_TRACES_EXPORTER is otlp or
// console, or, with OTEL_TRACES_EXPORTER unset, an OTLP endpoint is set;
// OTEL_SDK_DISABLED=true turns it off whatever else is set. The
// OpenTelemetry SDK reads the other OTEL_* variables itself
// (docs/tracing.md).
type TracingConfig struct {
	// SDKDisabled (OTEL_SDK_DISABLED=true) turns tracing off. Default false.
	SDKDisabled bool
	// TracesExporter (OTEL_TRACES_EXPORTER): otlp, console or none.
	// Default empty: otlp when an OTLP endpoint is set, else none.
	TracesExporter string
	// OTLPEndpoint (OTEL_EXPORTER_OTLP_ENDPOINT) and OTLPTracesEndpoint
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) are read by the SDK; setting one
	// turns tracing on when OTEL_TRACES_EXPORTER is unset. Default empty.
	OTLPEndpoint       string
	OTLPTracesEndpoint string
	// OTLPProtocol (OTEL_EXPORTER_OTLP_PROTOCOL) and OTLPTracesProtocol
	// (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, which wins) must be empty,
	// http/protobuf (the default) or http/json: Flask exports over
	// OTLP/HTTP only, and refuses grpc at start-up.
	OTLPProtocol       string
	OTLPTracesProtocol string
}

// TracingFromEnv reads the TracingConfig from the OTEL_* variables getenv
// returns, for commands that read no FLASK_* configuration (flaskctl dev).
func TracingFromEnv(getenv func(string) string) (TracingConfig, error) {
	t := TracingConfig{
		TracesExporter: getenv("OTEL_TRACES_EXPORTER"), OTLPEndpoint: getenv("OTEL_EXPORTER_OTLP_ENDPOINT"),
		OTLPTracesEndpoint: getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), OTLPProtocol: getenv("OTEL_EXPORTER_OTLP_PROTOCOL"),
		OTLPTracesProtocol: getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
	}
	if v := getenv("OTEL_SDK_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return t, fmt.Errorf("OTEL_SDK_DISABLED=%q: use true or false", v)
		}
		t.SDKDisabled = b
	}
	return t, t.validate()
}

// Exporter is the trace exporter the settings select: telemetry.ExporterOTLP,
// telemetry.ExporterConsole or telemetry.ExporterNone (off).
func (t TracingConfig) Exporter() string {
	if t.SDKDisabled {
		return telemetry.ExporterNone
	}
	switch e := strings.ToLower(strings.TrimSpace(t.TracesExporter)); e {
	case "":
		if t.OTLPEndpoint != "" || t.OTLPTracesEndpoint != "" {
			return telemetry.ExporterOTLP
		}
		return telemetry.ExporterNone
	case "none":
		return telemetry.ExporterNone
	default:
		return e
	}
}

func (t TracingConfig) validate() error {
	switch t.Exporter() {
	case telemetry.ExporterNone, telemetry.ExporterConsole:
		return nil
	case telemetry.ExporterOTLP:
	default:
		return fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported: use otlp, console or none", t.TracesExporter)
	}
	name, proto := "OTEL_EXPORTER_OTLP_PROTOCOL", t.OTLPProtocol
	if t.OTLPTracesProtocol != "" {
		name, proto = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", t.OTLPTracesProtocol
	}
	switch proto {
	case "", "http/protobuf", "http/json":
		return nil
	case "grpc":
		return fmt.Errorf("%s=grpc is not supported: Flask exports traces over OTLP/HTTP; set http/protobuf and the collector's HTTP endpoint (port 4318)", name)
	}
	return fmt.Errorf("%s=%q is not supported: use http/protobuf or http/json", name, proto)
}

// NATSConfig holds the FLASK_NATS_* settings.
type NATSConfig struct {
	// URL of the NATS server(s), comma-separated. Default nats://127.0.0.1:4222.
	URL string `envconfig:"URL" default:"nats://127.0.0.1:4222"`
	// Stream is the JetStream stream holding every queue. Default FLASK_JOBS.
	Stream string `envconfig:"STREAM" default:"FLASK_JOBS"`
	// SubjectPrefix: queue q is subject PREFIX.q. Default flask.jobs.
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"flask.jobs"`
	// AckWait is how long a delivery stays leased without a heartbeat. Default 30s.
	AckWait time.Duration `envconfig:"ACK_WAIT" default:"30s"`
	// Replicas of the stream (1, or 3 on a cluster). Default 1.
	Replicas int `envconfig:"REPLICAS" default:"1"`
	// MaxAckPending caps unacknowledged deliveries per queue. Default 20000.
	MaxAckPending int `envconfig:"MAX_ACK_PENDING" default:"20000"`
	// CredsFile is a NATS credentials file (JWT + NKey). Optional.
	CredsFile string `envconfig:"CREDS_FILE"`
	// NKeyFile is an NKey seed file. Optional.
	NKeyFile string `envconfig:"NKEY_FILE"`
	// TLSCAFile, TLSCertFile, TLSKeyFile enable TLS (and mutual TLS). Optional.
	TLSCAFile   string `envconfig:"TLS_CA_FILE"`
	TLSCertFile string `envconfig:"TLS_CERT_FILE"`
	TLSKeyFile  string `envconfig:"TLS_KEY_FILE"`
}

// SQSConfig holds the FLASK_SQS_* settings. Credentials come from the AWS
// SDK's default chain (EKS Pod Identity or IRSA in a cluster, AWS_* variables
// or ~/.aws elsewhere), never from Flask's own settings.
type SQSConfig struct {
	// QueuePrefix: Flask queue q is the SQS queue PREFIX-q with the
	// dead-letter queue PREFIX-q-dlq. It is Terraform's name_prefix as is
	// (flask-<environment>); Flask adds the dash. Default flask.
	QueuePrefix string `envconfig:"QUEUE_PREFIX" default:"flask"`
	// Endpoint is the base URL of an SQS-compatible server (an emulator).
	// Default empty: AWS.
	Endpoint string `envconfig:"ENDPOINT"`
	// CreateQueues creates missing queues with their dead-letter queues.
	// Default false: Terraform makes them; true only for dev and tests.
	CreateQueues bool `envconfig:"CREATE_QUEUES" default:"false"`
	// VisibilityTimeout is the AckWait: how long a received message stays
	// leased without a heartbeat. Whole seconds, 1s to 12h. Default 30s.
	VisibilityTimeout time.Duration `envconfig:"VISIBILITY_TIMEOUT" default:"30s"`
	// MaxReceiveCount is the redrive policy's maxReceiveCount of queues
	// Flask creates (CreateQueues only). 1 to 1000. Default 5.
	MaxReceiveCount int `envconfig:"MAX_RECEIVE_COUNT" default:"5"`
}

// validate explains what is wrong with the SQS settings.
func (s *SQSConfig) validate(region string) error {
	if region == "" {
		return errors.New("AWS_REGION is required when FLASK_BROKER=sqs: the region of the SQS queues, e.g. eu-west-1")
	}
	if len(s.QueuePrefix) < 1 || len(s.QueuePrefix) > 40 || strings.Trim(s.QueuePrefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return fmt.Errorf("FLASK_SQS_QUEUE_PREFIX=%q must be 1 to 40 characters of letters, digits, '-' and '_' (Terraform's name_prefix, without the trailing dash)", s.QueuePrefix)
	}
	if s.Endpoint != "" {
		if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("FLASK_SQS_ENDPOINT=%q must be an http or https URL", s.Endpoint)
		}
	}
	if s.VisibilityTimeout < time.Second || s.VisibilityTimeout > 12*time.Hour || s.VisibilityTimeout%time.Second != 0 {
		return errors.New("FLASK_SQS_VISIBILITY_TIMEOUT must be whole seconds from 1s to 12h")
	}
	if s.MaxReceiveCount < 1 || s.MaxReceiveCount > 1000 {
		return errors.New("FLASK_SQS_MAX_RECEIVE_COUNT must be between 1 and 1000")
	}
	return nil
}

func (c *Common) validate() error {
	if c.DatabaseURL == "" {
		return errors.New("FLASK_DATABASE_URL is required: a postgres:// URL or an SQLite path")
	}
	if c.DBMaxConns < 1 {
		return errors.New("FLASK_DB_MAX_CONNS must be at least 1")
	}
	if c.DBFlushers < 1 || c.DBFlushers > c.DBMaxConns {
		return errors.New("FLASK_DB_FLUSHERS must be between 1 and FLASK_DB_MAX_CONNS")
	}
	switch c.Broker {
	case "nats":
		if c.NATS.AckWait < time.Second {
			return errors.New("FLASK_NATS_ACK_WAIT must be at least 1s")
		}
	case "sqs":
		if err := c.SQS.validate(c.AWSRegion); err != nil {
			return err
		}
	default:
		return fmt.Errorf("FLASK_BROKER=%q is not supported: use nats or sqs", c.Broker)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := c.TracingConfig.validate(); err != nil {
		return err
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return fmt.Errorf("FLASK_LOG_FORMAT=%q: use json or text", c.LogFormat)
	}
	if _, err := job.ParseSpecs(c.JobTypes); err != nil {
		return fmt.Errorf("FLASK_JOB_TYPES: %w", err)
	}
	if c.DebugAddr != "" {
		host, _, err := net.SplitHostPort(c.DebugAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || (host != "localhost" && (perr != nil || !ip.IsLoopback())) {
			return fmt.Errorf("FLASK_DEBUG_ADDR=%q must be a loopback address such as 127.0.0.1:6060: profiles are not for the network", c.DebugAddr)
		}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("FLASK_LOG_LEVEL=%q: use debug, info, warn or error", s)
	}
	return l, nil
}

// NewLogger builds the process logger from the common settings. Records
// logged with a context that holds a span (or a job's trace context) get
// trace_id and span_id.
func NewLogger(c Common, w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(c.LogLevel)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts))), nil
	}
	return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts))), nil
}

// APIConfig configures flask-api.
type APIConfig struct {
	Common
	APISecurity
	// HTTPAddr is the API's listen address. Default :8080.
	HTTPAddr string `envconfig:"HTTP_ADDR" default:":8080"`
	// MaxBodyBytes caps a request body (batches excepted). Default 1 MiB.
	MaxBodyBytes int64 `envconfig:"MAX_BODY_BYTES" default:"1048576"`
	// MaxBatchBodyBytes caps a batch request body. Default 32 MiB.
	MaxBatchBodyBytes int64 `envconfig:"MAX_BATCH_BODY_BYTES" default:"33554432"`
	// MaxPayloadBytes caps one job's payload. Default 256 KiB.
	MaxPayloadBytes int `envconfig:"MAX_PAYLOAD_BYTES" default:"262144"`
	// MaxBatch caps the jobs in one batch request. Default 1000.
	MaxBatch int `envconfig:"MAX_BATCH" default:"1000"`
	// ShutdownTimeout bounds the graceful stop of the HTTP server. Default 20s.
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"20s"`
	// RelayInterval is how often due scheduled and retrying jobs are queued. Default 250ms.
	RelayInterval time.Duration `envconfig:"RELAY_INTERVAL" default:"250ms"`
	// OutboxGrace is the age after which an unpublished outbox entry is
	// republished by the sweep. Default 5s.
	OutboxGrace time.Duration `envconfig:"OUTBOX_GRACE" default:"5s"`
	// RescueAfter is how long a running job's worker must have been silent
	// before the relay records the attempt as lost and retries the job (or
	// fails it with no attempt left). A redelivered message reclaims such a
	// job sooner; the rescue covers messages that are gone. Between 1m and
	// 50m (worker records are pruned after an hour). Default 5m.
	RescueAfter time.Duration `envconfig:"RESCUE_AFTER" default:"5m"`
	// WebEnabled serves the web dashboard at / beside the API. Default true.
	WebEnabled bool `envconfig:"WEB_ENABLED" default:"true"`
	// WebPollInterval is how often the dashboard's live updates read the
	// store while a dashboard page is open (one read per process, whatever
	// the number of pages). Default 1s.
	WebPollInterval time.Duration `envconfig:"WEB_POLL_INTERVAL" default:"1s"`
	// StatsCacheTTL is how long one read of the queue statistics serves
	// this process's metrics scrapes and GET /v1/stats/queues/{queue}
	// (KEDA's metrics-api trigger), between 100ms and 1m. Default 1s.
	StatsCacheTTL time.Duration `envconfig:"STATS_CACHE_TTL" default:"1s"`
	// StatsTerminalTTL is how long one read of the finished jobs' counts
	// (succeeded, failed, cancelled: a scan of every finished job) serves
	// this process's metrics, between FLASK_STATS_CACHE_TTL and 15m. Default 1m.
	StatsTerminalTTL time.Duration `envconfig:"STATS_TERMINAL_TTL" default:"1m"`
	// WorkerTTL is the workers' FLASK_WORKER_TTL, read here too: a worker
	// whose last heartbeat is older no longer counts as live in the
	// statistics (flask_queue_workers, GET /v1/stats/queues/{queue}).
	// Default 30s; set it wherever the workers' is changed.
	WorkerTTL time.Duration `envconfig:"WORKER_TTL" default:"30s"`
}

// Validate explains what is wrong with the configuration, naming the
// variable, or returns nil.
func (c *APIConfig) Validate() error {
	if err := c.Common.validate(); err != nil {
		return err
	}
	if c.HTTPAddr == "" {
		return errors.New("FLASK_HTTP_ADDR must not be empty")
	}
	if err := c.APISecurity.validate(); err != nil {
		return err
	}
	if c.MaxPayloadBytes < 1 || c.MaxBodyBytes < int64(c.MaxPayloadBytes) {
		return errors.New("FLASK_MAX_PAYLOAD_BYTES must be positive and FLASK_MAX_BODY_BYTES at least as large")
	}
	if c.MaxBatch < 1 || c.MaxBatch > 10000 {
		return errors.New("FLASK_MAX_BATCH must be between 1 and 10000")
	}
	if c.RelayInterval < 10*time.Millisecond {
		return errors.New("FLASK_RELAY_INTERVAL must be at least 10ms")
	}
	if c.RescueAfter < time.Minute || c.RescueAfter > 50*time.Minute {
		return errors.New("FLASK_RESCUE_AFTER must be between 1m and 50m")
	}
	if c.WebEnabled && (c.WebPollInterval < 100*time.Millisecond || c.WebPollInterval > time.Minute) {
		return errors.New("FLASK_WEB_POLL_INTERVAL must be between 100ms and 1m")
	}
	if c.StatsCacheTTL < 100*time.Millisecond || c.StatsCacheTTL > time.Minute {
		return errors.New("FLASK_STATS_CACHE_TTL must be between 100ms and 1m")
	}
	if c.StatsTerminalTTL < c.StatsCacheTTL || c.StatsTerminalTTL > 15*time.Minute {
		return errors.New("FLASK_STATS_TERMINAL_TTL must be between FLASK_STATS_CACHE_TTL and 15m")
	}
	return nil
}

// WorkerConfig configures flask-worker.
type WorkerConfig struct {
	Common
	// HTTPAddr serves /healthz, /readyz and /metrics. Default :8081.
	HTTPAddr string `envconfig:"HTTP_ADDR" default:":8081"`
	// Queues to drain, with optional concurrency: "default:20,mail:5".
	// A queue without ":N" gets Concurrency. Default "default".
	Queues string `envconfig:"QUEUES" default:"default"`
	// Concurrency is the jobs run at once per queue without its own. Default 10.
	Concurrency int `envconfig:"CONCURRENCY" default:"10"`
	// FetchWait is how long one fetch from the broker waits for messages. Default 2s.
	FetchWait time.Duration `envconfig:"FETCH_WAIT" default:"2s"`
	// MaxFetch caps the messages asked for in one fetch (at most the free
	// slots of the queue). Default 256.
	MaxFetch int `envconfig:"MAX_FETCH" default:"256"`
	// WorkerID names this worker. Default: hostname plus a random suffix.
	WorkerID string `envconfig:"WORKER_ID"`
	// ShutdownGrace is how long in-flight jobs may finish after SIGTERM
	// before they are handed back. Keep the pod's terminationGracePeriodSeconds
	// above it. Default 30s.
	ShutdownGrace time.Duration `envconfig:"SHUTDOWN_GRACE" default:"30s"`
	// HeartbeatInterval: how often the worker reports itself and looks for
	// cancel requests. Default 2s.
	HeartbeatInterval time.Duration `envconfig:"HEARTBEAT_INTERVAL" default:"2s"`
	// ExitWhenIdle stops the worker once it has run no job and received no
	// message for this long, for workers run as Kubernetes Jobs (KEDA
	// ScaledJob). Default 0: never.
	ExitWhenIdle time.Duration `envconfig:"EXIT_WHEN_IDLE" default:"0s"`
	// WorkerTTL: silence after which a worker's jobs may be reclaimed. Default 30s.
	WorkerTTL time.Duration `envconfig:"WORKER_TTL" default:"30s"`
	// HTTPAllowCIDRs lets the http job type reach these otherwise refused
	// (private, loopback…) networks: "10.0.0.0/8,127.0.0.1/32".
	HTTPAllowCIDRs string `envconfig:"HTTP_ALLOW_CIDRS"`
	// HTTPSigningSecret signs http job requests (HMAC-SHA256). Secret.
	HTTPSigningSecret string `envconfig:"HTTP_SIGNING_SECRET"`
	// HTTPSigningSecretFile reads the signing secret from a file instead.
	HTTPSigningSecretFile string `envconfig:"HTTP_SIGNING_SECRET_FILE"`
}

// Validate explains what is wrong with the configuration, naming the
// variable, or returns nil.
func (c *WorkerConfig) Validate() error {
	if err := c.Common.validate(); err != nil {
		return err
	}
	if c.Concurrency < 1 {
		return errors.New("FLASK_CONCURRENCY must be at least 1")
	}
	if _, err := ParseQueues(c.Queues, c.Concurrency); err != nil {
		return fmt.Errorf("FLASK_QUEUES: %w", err)
	}
	if c.FetchWait < 10*time.Millisecond || c.FetchWait > time.Minute {
		return errors.New("FLASK_FETCH_WAIT must be between 10ms and 1m")
	}
	if c.MaxFetch < 1 || c.MaxFetch > 10000 {
		return errors.New("FLASK_MAX_FETCH must be between 1 and 10000")
	}
	if c.ShutdownGrace < 0 {
		return errors.New("FLASK_SHUTDOWN_GRACE must not be negative")
	}
	if c.ExitWhenIdle != 0 && c.ExitWhenIdle < time.Second {
		return errors.New("FLASK_EXIT_WHEN_IDLE must be 0 (never) or at least 1s")
	}
	if c.WorkerTTL <= 2*c.HeartbeatInterval {
		return errors.New("FLASK_WORKER_TTL must be more than twice FLASK_HEARTBEAT_INTERVAL")
	}
	if _, err := builtin.ParseCIDRs(c.HTTPAllowCIDRs); err != nil {
		return fmt.Errorf("FLASK_HTTP_ALLOW_CIDRS: %w", err)
	}
	if c.HTTPSigningSecret != "" && c.HTTPSigningSecretFile != "" {
		return errors.New("set FLASK_HTTP_SIGNING_SECRET or FLASK_HTTP_SIGNING_SECRET_FILE, not both")
	}
	return nil
}

// ParseQueues reads "q1:20,q2" into queue → concurrency.
func ParseQueues(s string, def int) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, hasN := strings.Cut(part, ":")
		c := def
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 1 || v > 100000 {
				return nil, fmt.Errorf("queue %s: concurrency %q must be a whole number from 1 to 100000", name, n)
			}
			c = v
		}
		if err := job.ValidateQueue(name); err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("queue %s is listed twice", name)
		}
		out[name] = c
	}
	if len(out) == 0 {
		return nil, errors.New("no queue named")
	}
	return out, nil
}

// MaskURL hides the password of a URL-shaped secret for logs.
func MaskURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			cred := rest[:at]
			if u, _, ok := strings.Cut(cred, ":"); ok {
				return s[:i+3] + u + ":*****@" + rest[at+1:]
			}
		}
	}
	return s
}

// secretValue is a secret from the environment or a file.
func secretValue(v, file string) ([]byte, error) {
	if file == "" {
		return []byte(v), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read secret file: %w", err)
	}
	return []byte(strings.TrimSpace(string(b))), nil
}

// Defaults shared by the env tags above and dev mode.
const (
	defaultAckWait       = 30 * time.Second
	defaultShutdown      = 20 * time.Second
	defaultRelayInterval = 250 * time.Millisecond
	defaultOutboxGrace   = 5 * time.Second
	defaultRescueAfter   = 5 * time.Minute
	defaultHeartbeat     = 2 * time.Second
	defaultWorkerTTL     = 30 * time.Second
	defaultWebPoll       = time.Second
)

// Build information, set at link time:
//
//	-ldflags "-X github.com/flaskhq/flask/app.Version=v1.2.3 -X github.com/flaskhq/flask/app.Commit=abc123"
var (
	Version = "dev"
	Commit  = "unknown"
)
