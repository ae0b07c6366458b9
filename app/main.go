package app

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Config is a binary's configuration: APIConfig or WorkerConfig.
type Config interface {
	Validate() error
	common() Common
}

func (c *APIConfig) common() Common    { return c.Common }
func (c *WorkerConfig) common() Common { return c.Common }

// Main is the body of a binary's main after its configuration was read:
// it validates cfg, builds the logger, logs the start with secrets masked,
// and calls run with a context that ends on SIGINT or SIGTERM.
func Main(name string, cfg Config, run func(ctx context.Context, log *slog.Logger) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	c := cfg.common()
	log, err := NewLogger(c, os.Stderr)
	if err != nil {
		return err
	}
	brokerAttr := slog.String("nats_url", MaskURL(c.NATS.URL))
	if c.Broker == "sqs" {
		brokerAttr = slog.String("sqs_queue_prefix", c.SQS.QueuePrefix)
	}
	log.Info("starting "+name, "version", Version, "commit", Commit, "database", MaskURL(c.DatabaseURL),
		"broker", c.Broker, brokerAttr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run(ctx, log)
}
