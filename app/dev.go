package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	natsbroker "github.com/flaskhq/flask/events/nats"
)

// DevConfig configures 'flaskctl dev': everything in one process.
type DevConfig struct {
	// Addr is the API's listen address. Default 127.0.0.1:8080.
	Addr string
	// DataDir holds the SQLite database and the NATS store; data survives
	// restarts. Default .flask.
	DataDir string
	// Queues to drain, "default:10,mail:2". Default "default:10".
	Queues string
	// Out receives the banner with the URL. Default os.Stdout.
	Out io.Writer
	// Tracing: the OTEL_* settings (read by flaskctl from the environment);
	// zero: tracing off.
	Tracing TracingConfig
}

// RunDev runs an embedded NATS JetStream server, an SQLite store, the API
// with its relay and a worker pool in this process until ctx ends.
func RunDev(ctx context.Context, cfg DevConfig, log *slog.Logger) error {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".flask"
	}
	if cfg.Queues == "" {
		cfg.Queues = "default:10"
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if _, err := ParseQueues(cfg.Queues, 10); err != nil {
		return fmt.Errorf("--queues: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	ns, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{
		StoreDir: filepath.Join(cfg.DataDir, "nats"), Host: "127.0.0.1", Port: -1,
	}, slog.New(quietHandler{log.Handler()}).With("component", "nats"))
	if err != nil {
		return fmt.Errorf("start embedded NATS: %w", err)
	}
	defer func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	}()

	common := Common{
		DatabaseURL: "sqlite:" + filepath.Join(cfg.DataDir, "flask.db"), DBMaxConns: 1, DBFlushers: 1, Broker: "nats",
		NATS: NATSConfig{URL: ns.ClientURL(), Stream: "FLASK_JOBS", SubjectPrefix: "flask.jobs",
			AckWait: defaultAckWait, Replicas: 1, MaxAckPending: 20000},
		DemoTypes: true, LogLevel: "info", LogFormat: "text", Migrate: true, TracingConfig: cfg.Tracing,
	}
	apiCfg := APIConfig{Common: common, HTTPAddr: cfg.Addr, MaxBodyBytes: 1 << 20, MaxBatchBodyBytes: 32 << 20,
		MaxPayloadBytes: 256 << 10, MaxBatch: 1000, ShutdownTimeout: defaultShutdown, RelayInterval: defaultRelayInterval,
		OutboxGrace: defaultOutboxGrace, RescueAfter: defaultRescueAfter, WebEnabled: true, WebPollInterval: defaultWebPoll, StatsCacheTTL: time.Second,
		StatsTerminalTTL: time.Second /* a dev store is small: the dashboard's finished counts stay live */, WorkerTTL: defaultWorkerTTL,
		APISecurity: APISecurity{MetricsAddr: "off", RateLimit: 50, RateBurst: 100, TenantMaxQueued: 100000, APIKeyCacheTTL: 10 * time.Second,
			SessionTTL: 8 * time.Hour}}
	wcfg := WorkerConfig{Common: common, Queues: cfg.Queues, Concurrency: 10, ShutdownGrace: defaultShutdown,
		FetchWait: 2 * time.Second, MaxFetch: 256,
		HeartbeatInterval: defaultHeartbeat, WorkerTTL: defaultWorkerTTL}
	if err := apiCfg.Validate(); err != nil {
		return err
	}
	if err := wcfg.Validate(); err != nil {
		return err
	}
	cat, err := Catalog(common)
	if err != nil {
		return err
	}
	reg, err := NewRegistry(wcfg)
	if err != nil {
		return err
	}
	tr, err := StartTracing(ctx, common, "flaskctl-dev", log)
	if err != nil {
		return err
	}
	defer StopTracing(ctx, tr, log)
	st, err := OpenStore(ctx, common, log)
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := devKey(cfg.DataDir)
	if err != nil {
		return err
	}
	if err := EnsureAdminKey(ctx, st, key, "flaskctl dev", log); err != nil {
		return fmt.Errorf("%w (delete %s to make a new key)", err, filepath.Join(cfg.DataDir, DevAPIKeyFile))
	}
	b, err := OpenBroker(ctx, common, "flask-dev", log)
	if err != nil {
		return err
	}
	defer b.Close()
	metrics := newRegistry()
	pool, err := NewPool(wcfg, st, b, reg, log.With("component", "worker"), metrics, tracerOf(tr))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(cfg.Out, "Flask is running at %s (data in %s); the dashboard is at %s/.\n"+
		"Your admin API key (kept in %s; sign in to the dashboard with it):\n  export FLASK_API_KEY=%s\nTry:\n"+
		"  flaskctl jobs submit --api %s --type demo.sleep --payload '{\"ms\":500}' --wait\nPress Ctrl+C to stop.\n",
		url, cfg.DataDir, url, filepath.Join(cfg.DataDir, DevAPIKeyFile), key, url)

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs <- ServeAPI(ctx, apiCfg, APIParts{Store: st, Broker: b, Catalog: cat, Metrics: metrics, Tracer: tracerOf(tr)}, ln, log.With("component", "api"))
	}()
	go func() { defer wg.Done(); errs <- pool.Run(ctx) }()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// quietHandler passes on only warnings and errors: the embedded NATS
// server's start-up banner is noise for someone trying Flask.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}

func (h quietHandler) WithGroup(g string) slog.Handler { return quietHandler{h.Handler.WithGroup(g)} }
