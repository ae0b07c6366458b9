// Command flask-worker drains Flask queues and runs their jobs. It serves
// /healthz, /readyz and /metrics on FLASK_HTTP_ADDR. Configuration comes from
// FLASK_* environment variables (docs/configuration.md).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/kelseyhightower/envconfig"

	"github.com/flaskhq/flask/app"
)

func main() {
	var cfg app.WorkerConfig
	err := envconfig.Process("FLASK", &cfg)
	if err == nil {
		err = app.Main("flask-worker", &cfg, func(ctx context.Context, log *slog.Logger) error {
			return app.RunWorker(ctx, cfg, nil, log)
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flask-worker:", err)
		os.Exit(1)
	}
}
