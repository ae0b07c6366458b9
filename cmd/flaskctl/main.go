// Command flaskctl is Flask's command line: it runs everything in one process
// for development (flaskctl dev), migrates the database, and submits and
// manages jobs through the API.
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
	"github.com/flaskhq/flask/telemetry"
)

const usage = `flaskctl: Flask's command line.

Usage:
  flaskctl dev [--addr 127.0.0.1:8080] [--data-dir .flask] [--queues default:10]
                                run API, worker, embedded NATS and SQLite in one process
  flaskctl migrate [--database URL]   apply database migrations (default: FLASK_DATABASE_URL)
  flaskctl jobs submit|get|list|cancel|retry ...   manage jobs through the API
  flaskctl queues [--json]          counts by state per queue
  flaskctl keys create|list|revoke ...   manage API keys (needs an admin key)
  flaskctl scale-sim [--values FILE] [--load constant:50] ...   simulate KEDA scaling rules
  flaskctl version                  print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if errors.As(err, new(usageError)) {
		fmt.Fprintln(os.Stderr, "flaskctl:", err)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flaskctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:], stdout, stderr, getenv)
	case "migrate":
		return app.MigrateCmd(ctx, args[1:], stdout, stderr, getenv)
	case "jobs":
		return runJobs(ctx, args[1:], stdout, stderr, getenv)
	case "keys":
		return runKeys(ctx, args[1:], stdout, stderr, getenv)
	case "queues":
		return runQueues(ctx, args[1:], stdout, stderr, getenv)
	case "scale-sim":
		return runScaleSim(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "flaskctl %s (commit %s)\n", app.Version, app.Commit)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "API listen address")
	dataDir := fs.String("data-dir", ".flask", "folder for the SQLite database and the NATS store")
	queues := fs.String("queues", "default:10", "queues to drain, with concurrency")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev: unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("dev: --log-level %q: use debug, info, warn or error", *logLevel)
	}
	tracing, err := app.TracingFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	log := slog.New(telemetry.LogHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
	return app.RunDev(ctx, app.DevConfig{Addr: *addr, DataDir: *dataDir, Queues: *queues, Out: stdout, Tracing: tracing}, log)
}
