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

	natsbroker "github.com/flaskhq/flask/events/nats"
)

// natsURLPrefix starts the line on which the nats subcommand reports its URL.
const natsURLPrefix = "nats-url "

// runNATS is the nats subcommand: a NATS JetStream server on 127.0.0.1 and
// a random port, in a process of its own so that its memory and CPU are
// measured apart. It prints its URL, then serves until stdin closes (the
// driver went away) or SIGTERM/SIGINT.
func runNATS(args []string) error {
	fs := flag.NewFlagSet("nats", flag.ContinueOnError)
	dir := fs.String("dir", "", "JetStream store directory (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{StoreDir: *dir, Host: "127.0.0.1", Port: -1}, log)
	if err != nil {
		return err
	}
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	fmt.Printf("%s%s\n", natsURLPrefix, s.ClientURL())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	<-ctx.Done()
	return nil
}
