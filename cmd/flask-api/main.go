// Command flask-api serves Flask's HTTP API and runs the outbox relay.
// Configuration comes from FLASK_* environment variables (docs/configuration.md).
//
// Without arguments it serves. 'flask-api migrate [--database URL]' applies
// the database migrations and exits: the same command as 'flaskctl migrate',
// here so that the API image, which holds only this binary, can run the
// migration hook of a deployment.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/flaskhq/flask/app"
)

const usage = `Usage:
  flask-api                             serve the API (configured by FLASK_* variables)
  flask-api ` + app.MigrateUsage + `
`

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flask-api:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return serve()
	}
	switch args[0] {
	case "migrate":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return app.MigrateCmd(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return flag.ErrHelp
	}
	return fmt.Errorf("unknown command %q: run without arguments to serve, or 'flask-api migrate'", args[0])
}

// serve runs the API until SIGINT or SIGTERM.
func serve() error {
	var cfg app.APIConfig
	if err := app.LoadConfig(&cfg, os.Getenv); err != nil {
		return err
	}
	return app.Main("flask-api", &cfg, func(ctx context.Context, log *slog.Logger) error {
		return app.RunAPI(ctx, cfg, log)
	})
}
