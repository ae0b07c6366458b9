// Command flask-worker drains Flask queues and runs their jobs. It serves
// /healthz, /readyz and /metrics on FLASK_HTTP_ADDR. Configuration comes from
// FLASK_* environment variables (docs/configuration.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kelseyhightower/envconfig"

	"github.com/flaskhq/flask/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flask-worker:", err)
		os.Exit(1)
	}
}

func run() error {
	var cfg app.WorkerConfig
	if err := envconfig.Process("FLASK", &cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := app.NewLogger(cfg.Common, os.Stderr)
	if err != nil {
		return err
	}
	log.Info("starting flask-worker", "version", app.Version, "commit", app.Commit, "queues", cfg.Queues,
		"database", app.MaskURL(cfg.DatabaseURL), "broker", cfg.Broker, "nats_url", app.MaskURL(cfg.NATS.URL))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return app.RunWorker(ctx, cfg, nil, log)
}
