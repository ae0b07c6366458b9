// Command flask-worker drains Flask queues and runs their jobs. It serves
// /healthz, /readyz and /metrics on FLASK_HTTP_ADDR. Configuration comes from
// FLASK_* environment variables (docs/configuration.md).
//
// `flask-worker drain` asks the worker running beside it (the pod's preStop
// hook) to stop taking jobs and waits until its in-flight jobs finished or
// were handed back.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/kelseyhightower/envconfig"

	"github.com/flaskhq/flask/app"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "flask-worker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 0:
		var cfg app.WorkerConfig
		if err := app.LoadConfig(&cfg, os.Getenv); err != nil {
			return err
		}
		return app.Main("flask-worker", &cfg, func(ctx context.Context, log *slog.Logger) error {
			return app.RunWorker(ctx, cfg, nil, log)
		})
	case len(args) == 1 && args[0] == "drain":
		var cfg app.DrainConfig
		if err := envconfig.Process("FLASK", &cfg); err != nil {
			return err
		}
		if err := app.RequestDrain(context.Background(), cfg); err != nil {
			return err
		}
		fmt.Println("flask-worker: drained")
		return nil
	default:
		return errors.New("usage: flask-worker [drain] (configuration from FLASK_* variables)")
	}
}
