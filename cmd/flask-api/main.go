// Command flask-api serves Flask's HTTP API and runs the outbox relay.
// Configuration comes from FLASK_* environment variables (docs/configuration.md).
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
	var cfg app.APIConfig
	err := envconfig.Process("FLASK", &cfg)
	if err == nil {
		err = app.Main("flask-api", &cfg, func(ctx context.Context, log *slog.Logger) error {
			return app.RunAPI(ctx, cfg, log)
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flask-api:", err)
		os.Exit(1)
	}
}
