package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultURL                 = "nats://127.0.0.1:4222"
	DefaultName                = "flask"
	DefaultStream              = "FLASK_JOBS"
	DefaultSubjectPrefix       = "flask.jobs"
	DefaultAckWait             = 30 * time.Second
	DefaultMaxAckPending       = 20000
	DefaultDuplicateWindow     = 2 * time.Minute
	DefaultReplicas            = 1
	DefaultConnectTimeout      = 5 * time.Second
	DefaultReconnectWait       = 2 * time.Second
	DefaultPublishTimeout      = 10 * time.Second
	DefaultMaxPendingPublishes = 4096
)

// Config is what New needs to connect to NATS and lay out the stream.
// The zero value of every field means its default.
type Config struct {
	// URL is the server to connect to; a comma-separated list names several
	// servers of one cluster. Default nats://127.0.0.1:4222. A user and
	// password in the URL are used and masked when the config is logged.
	URL string
	// Name is the connection name shown in the server's monitoring.
	// Default "flask".
	Name string
	// CredentialsFile is a NATS .creds file (user JWT and NKey seed) to
	// authenticate with. Empty: none.
	CredentialsFile string
	// NKeySeedFile is a file holding an NKey user seed to authenticate with.
	// Empty: none. Do not combine with CredentialsFile.
	NKeySeedFile string
	// TLSCAFile is a PEM file of CAs used to verify the server; setting it
	// requires TLS. Empty: the system roots, and TLS only if the URL or the
	// server asks for it.
	TLSCAFile string
	// TLSCertFile is the PEM client certificate for mutual TLS. Empty: none.
	// Set together with TLSKeyFile.
	TLSCertFile string
	// TLSKeyFile is the PEM key of TLSCertFile. Empty: none.
	TLSKeyFile string
	// ConnectTimeout bounds each attempt to open a connection. Default 5s.
	// New fails if the first connection cannot be made; after that the
	// client reconnects forever.
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnect attempts to the same
	// server. Default 2s. Reconnection never gives up.
	ReconnectWait time.Duration

	// Stream is the JetStream stream holding every Flask queue.
	// Default "FLASK_JOBS".
	Stream string
	// SubjectPrefix is the subject prefix: queue q uses subject <prefix>.q
	// and the stream captures <prefix>.>. Default "flask.jobs".
	SubjectPrefix string
	// Replicas is the stream's replica count: 1 on a single server, 3 on a
	// production cluster. Default 1.
	Replicas int
	// DuplicateWindow is how long the stream remembers message ids to drop
	// a second publish of the same Message.ID. Default 2m.
	DuplicateWindow time.Duration
	// MaxMsgSize caps one message in bytes. 0: no stream limit (the
	// server's max_payload still applies).
	MaxMsgSize int32
	// MaxBytes caps the stream's size in bytes. 0: unlimited. When full the
	// oldest messages are dropped (discard old), so publishing never fails
	// for lack of room; Flask's store still holds the dropped jobs and its
	// sweeper publishes them again.
	MaxBytes int64

	// AckWait is how long a delivery is leased before it is redelivered
	// unless acked, naked or extended. Default 30s.
	AckWait time.Duration
	// MaxAckPending caps the deliveries of one queue that are out and not
	// yet acked, across all workers; fetches wait while it is reached.
	// Default 20000; -1: unlimited.
	MaxAckPending int

	// PublishTimeout bounds how long Publish waits for the server's acks
	// when ctx has no earlier deadline, and how long it waits for room
	// when MaxPendingPublishes is reached. Default 10s.
	PublishTimeout time.Duration
	// MaxPendingPublishes caps the publishes awaiting the server's ack,
	// across all concurrent Publish calls; further publishes wait for room.
	// Default 4096.
	MaxPendingPublishes int
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = DefaultReconnectWait
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.MaxPendingPublishes == 0 {
		c.MaxPendingPublishes = DefaultMaxPendingPublishes
	}
	return c
}

// validate explains what is wrong with a config that has its defaults set.
func (c Config) validate() error {
	var errs []error
	if c.ConnectTimeout < 0 {
		errs = append(errs, fmt.Errorf("ConnectTimeout %s is negative", c.ConnectTimeout))
	}
	if c.ReconnectWait < 0 {
		errs = append(errs, fmt.Errorf("ReconnectWait %s is negative", c.ReconnectWait))
	}
	if strings.ContainsAny(c.Stream, " \t\r\n.*>/\\") {
		errs = append(errs, fmt.Errorf("Stream %q must not contain whitespace, '.', '*', '>', '/' or '\\'", c.Stream))
	}
	if err := validPrefix(c.SubjectPrefix); err != nil {
		errs = append(errs, err)
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("Replicas %d must be between 1 and 5", c.Replicas))
	}
	if c.DuplicateWindow < 0 {
		errs = append(errs, fmt.Errorf("DuplicateWindow %s is negative", c.DuplicateWindow))
	}
	if c.MaxMsgSize < 0 {
		errs = append(errs, fmt.Errorf("MaxMsgSize %d is negative", c.MaxMsgSize))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBytes %d is negative", c.MaxBytes))
	}
	if c.AckWait < time.Second {
		// A shorter lease cannot be kept alive reliably with Extend across
		// a network and GC pauses.
		errs = append(errs, fmt.Errorf("AckWait %s must be at least 1s", c.AckWait))
	}
	if c.MaxAckPending < -1 {
		errs = append(errs, fmt.Errorf("MaxAckPending %d must be positive or -1", c.MaxAckPending))
	}
	if c.PublishTimeout < 0 {
		errs = append(errs, fmt.Errorf("PublishTimeout %s is negative", c.PublishTimeout))
	}
	if c.MaxPendingPublishes < 1 {
		errs = append(errs, fmt.Errorf("MaxPendingPublishes %d must be positive", c.MaxPendingPublishes))
	}
	if c.CredentialsFile != "" && c.NKeySeedFile != "" {
		errs = append(errs, errors.New("set CredentialsFile or NKeySeedFile, not both"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLSCertFile and TLSKeyFile must be set together"))
	}
	return errors.Join(errs...)
}

// validPrefix checks a subject prefix: dot-separated non-empty tokens
// without wildcards or whitespace.
func validPrefix(p string) error {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("SubjectPrefix %q must be dot-separated tokens without whitespace or wildcards", p)
		}
	}
	return nil
}

// LogValue renders the config for logs with the URL's password masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", maskURL(c.URL)),
		slog.String("name", c.Name),
		slog.String("stream", c.Stream),
		slog.String("subject_prefix", c.SubjectPrefix),
		slog.Int("replicas", c.Replicas),
		slog.Duration("ack_wait", c.AckWait),
		slog.Int("max_ack_pending", c.MaxAckPending),
		slog.Duration("duplicate_window", c.DuplicateWindow),
		slog.Bool("credentials", c.CredentialsFile != "" || c.NKeySeedFile != ""),
		slog.Bool("tls_client_cert", c.TLSCertFile != ""),
	)
}

// maskURL hides passwords and tokens in a comma-separated list of URLs.
func maskURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable url)"
			continue
		}
		if u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				// A user without a password is a token.
				u.User = url.User("xxxxx")
			}
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}

// connOptions translates the connection part of c into nats.go options.
func (c Config) connOptions(log *slog.Logger) ([]natsgo.Option, error) {
	opts := []natsgo.Option{
		natsgo.Name(c.Name),
		natsgo.Timeout(c.ConnectTimeout),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(c.ReconnectWait),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
				return
			}
			log.Info("nats disconnected")
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		natsgo.ClosedHandler(func(*natsgo.Conn) {
			log.Debug("nats connection closed")
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			if sub != nil {
				log.Warn("nats async error", "subject", sub.Subject, "err", err)
				return
			}
			log.Warn("nats async error", "err", err)
		}),
	}
	if c.CredentialsFile != "" {
		opts = append(opts, natsgo.UserCredentials(c.CredentialsFile))
	}
	if c.NKeySeedFile != "" {
		o, err := natsgo.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("read nkey seed file %s: %w", c.NKeySeedFile, err)
		}
		opts = append(opts, o)
	}
	if c.TLSCAFile != "" {
		opts = append(opts, natsgo.RootCAs(c.TLSCAFile))
	}
	if c.TLSCertFile != "" {
		opts = append(opts, natsgo.ClientCert(c.TLSCertFile, c.TLSKeyFile))
	}
	return opts, nil
}
