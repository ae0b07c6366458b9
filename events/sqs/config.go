package sqs

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultQueuePrefix        = "flask"
	DefaultVisibilityTimeout  = 30 * time.Second
	DefaultMaxReceiveCount    = 5
	DefaultPublishConcurrency = 8
	DefaultReceiveConcurrency = 10
	DefaultDeleteLinger       = 5 * time.Millisecond
)

// SQS limits the broker works within.
const (
	// MaxVisibility is SQS's cap on a message's visibility timeout, counted
	// from the receive that leased it; Extend cannot keep a lease longer.
	MaxVisibility = 12 * time.Hour
	// maxBatch is the most entries of one SendMessageBatch,
	// DeleteMessageBatch or ChangeMessageVisibilityBatch, and the most
	// messages one ReceiveMessage returns.
	maxBatch = 10
	// maxWaitSeconds is the longest long poll of one ReceiveMessage.
	maxWaitSeconds = 20
	// maxQueueName is the longest SQS queue name.
	maxQueueName = 80
	// dlqSuffix ends the name of a queue's dead-letter queue.
	dlqSuffix = "-dlq"
)

// Config is what New needs to reach SQS and name the queues. The zero value
// of every field but Region means its default.
type Config struct {
	// Region is the AWS region of the queues, e.g. eu-west-1. Required.
	Region string
	// Endpoint is the base URL of an SQS-compatible server (an emulator in
	// tests and dev). Empty: AWS's own endpoint for Region.
	Endpoint string
	// Credentials signs the requests. Nil: the SDK's default chain
	// (environment, shared files, EKS Pod Identity, IRSA, instance role).
	Credentials aws.CredentialsProvider

	// QueuePrefix names the SQS queues: Flask queue q is the SQS queue
	// "<QueuePrefix>-q" and its dead-letter queue "<QueuePrefix>-q-dlq",
	// as deploy/terraform/modules/queues names them from its name_prefix.
	// The dash is added here, so the prefix is Terraform's name_prefix
	// as is (flask-<environment>). 1 to 40 characters of A-Z, a-z, 0-9,
	// '-' and '_'. Default "flask".
	QueuePrefix string
	// CreateQueues creates a missing queue, with its dead-letter queue
	// and redrive policy, instead of failing. Default false: in
	// production Terraform makes the queues and the application may not.
	CreateQueues bool
	// Queues are resolved (created, with CreateQueues) by New, which
	// fails naming the first one that does not exist; Ping checks the
	// first. Other queues are resolved on first use. Default none.
	Queues []string

	// VisibilityTimeout is the AckWait: how long a received message stays
	// leased before SQS delivers it again unless acked, naked or extended.
	// It is set on every receive, so the queue's own default does not
	// matter. Whole seconds from 1s to 12h. Default 30s.
	VisibilityTimeout time.Duration
	// MaxReceiveCount is the redrive policy's maxReceiveCount of queues
	// this broker creates: after that many receives SQS moves a message to
	// the dead-letter queue. Only used with CreateQueues. 1 to 1000.
	// Default 5, as Terraform's default.
	MaxReceiveCount int

	// PublishConcurrency caps the SendMessageBatch calls in flight across
	// all Publish calls, and separately the DeleteMessageBatch calls of
	// Acks across all queues; up to four times as many delete batches may
	// wait, then Acks wait for room. Default 8.
	PublishConcurrency int
	// ReceiveConcurrency caps the ReceiveMessage calls in flight per
	// queue: a Fetch for more than 10 messages runs several at once.
	// Default 10.
	ReceiveConcurrency int
	// DeleteLinger is how long an Ack waits for others to share its
	// DeleteMessageBatch call. Default 5ms.
	DeleteLinger time.Duration
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.QueuePrefix == "" {
		c.QueuePrefix = DefaultQueuePrefix
	}
	if c.VisibilityTimeout == 0 {
		c.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if c.MaxReceiveCount == 0 {
		c.MaxReceiveCount = DefaultMaxReceiveCount
	}
	if c.PublishConcurrency == 0 {
		c.PublishConcurrency = DefaultPublishConcurrency
	}
	if c.ReceiveConcurrency == 0 {
		c.ReceiveConcurrency = DefaultReceiveConcurrency
	}
	if c.DeleteLinger == 0 {
		c.DeleteLinger = DefaultDeleteLinger
	}
	return c
}

// validate explains what is wrong with a config that has its defaults set.
func (c Config) validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("Region is required"))
	}
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("Endpoint %q must be an http or https URL", c.Endpoint))
		}
	}
	if len(c.QueuePrefix) > 40 || !validName(c.QueuePrefix) {
		errs = append(errs, fmt.Errorf("QueuePrefix %q must be 1 to 40 characters of A-Z, a-z, 0-9, '-' and '_'", c.QueuePrefix))
	}
	if c.VisibilityTimeout < time.Second || c.VisibilityTimeout > MaxVisibility || c.VisibilityTimeout%time.Second != 0 {
		errs = append(errs, fmt.Errorf("VisibilityTimeout %s must be whole seconds from 1s to 12h", c.VisibilityTimeout))
	}
	if c.MaxReceiveCount < 1 || c.MaxReceiveCount > 1000 {
		errs = append(errs, fmt.Errorf("MaxReceiveCount %d must be between 1 and 1000", c.MaxReceiveCount))
	}
	if c.PublishConcurrency < 1 {
		errs = append(errs, fmt.Errorf("PublishConcurrency %d must be positive", c.PublishConcurrency))
	}
	if c.ReceiveConcurrency < 1 {
		errs = append(errs, fmt.Errorf("ReceiveConcurrency %d must be positive", c.ReceiveConcurrency))
	}
	if c.DeleteLinger < 0 {
		errs = append(errs, fmt.Errorf("DeleteLinger %s is negative", c.DeleteLinger))
	}
	for _, q := range c.Queues {
		if err := c.checkQueue(q); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// QueueName is the SQS name of Flask queue q under prefix.
func QueueName(prefix, q string) string {
	return prefix + "-" + q
}

// DeadLetterQueueName is the SQS name of the dead-letter queue of Flask
// queue q under prefix.
func DeadLetterQueueName(prefix, q string) string {
	return QueueName(prefix, q) + dlqSuffix
}

// checkQueue checks that Flask queue q gives valid SQS names.
func (c Config) checkQueue(q string) error {
	if q == "" || !validName(q) {
		return fmt.Errorf("invalid queue name %q: only A-Z, a-z, 0-9, '_' and '-' are allowed", q)
	}
	if n := DeadLetterQueueName(c.QueuePrefix, q); len(n) > maxQueueName {
		return fmt.Errorf("invalid queue name %q: its dead-letter queue %s would be longer than SQS's %d characters", q, n, maxQueueName)
	}
	return nil
}

// validName reports whether s is non-empty and made of characters SQS
// allows in a queue name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// LogValue renders the config for logs. It holds no secret: credentials
// come from the SDK's chain and are never part of it.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("region", c.Region),
		slog.String("endpoint", c.Endpoint),
		slog.String("queue_prefix", c.QueuePrefix),
		slog.Bool("create_queues", c.CreateQueues),
		slog.Any("queues", c.Queues),
		slog.Duration("visibility_timeout", c.VisibilityTimeout),
		slog.Int("max_receive_count", c.MaxReceiveCount),
		slog.Bool("static_credentials", c.Credentials != nil),
	)
}
