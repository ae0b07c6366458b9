package nats

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultReadyTimeout is how long RunEmbedded waits for the server by
// default.
const DefaultReadyTimeout = 10 * time.Second

// EmbeddedConfig describes an in-process nats-server with JetStream.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its data; the server creates a
	// jetstream directory inside it. Required. Reuse the same directory
	// to keep the streams across restarts.
	StoreDir string
	// Host is the address to listen on. Default 127.0.0.1.
	Host string
	// Port is the client port. 0: 4222; -1: a random free port (read it
	// back with ClientURL).
	Port int
	// MonitorPort is the HTTP monitoring port (/varz, /jsz, which KEDA's
	// nats-jetstream scaler reads), on Host. 0: off; -1: a random free port
	// (read it back with MonitorAddr).
	MonitorPort int
	// ServerName names the server in monitoring. Default "flask-embedded".
	ServerName string
	// MaxStore caps JetStream's file storage in bytes. 0: the server's
	// default (75% of the free disk space).
	MaxStore int64
	// ReadyTimeout bounds the wait for the server to accept connections.
	// Default 10s.
	ReadyTimeout time.Duration
	// Debug passes the server's debug logs to the logger.
	Debug bool
}

// RunEmbedded starts a nats-server with JetStream in this process and
// waits until it accepts connections. The caller connects to ClientURL()
// and must call Shutdown (then WaitForShutdown to be sure the store is
// released). A nil log discards the server's logs. The server never traps
// signals.
func RunEmbedded(cfg EmbeddedConfig, log *slog.Logger) (*server.Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "flask-embedded"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	opts := &server.Options{
		ServerName:        cfg.ServerName,
		Host:              cfg.Host,
		Port:              cfg.Port,
		JetStream:         true,
		StoreDir:          cfg.StoreDir,
		JetStreamMaxStore: cfg.MaxStore,
		NoSigs:            true,
		Debug:             cfg.Debug,
	}
	if cfg.MonitorPort != 0 {
		opts.HTTPHost = cfg.Host
		opts.HTTPPort = cfg.MonitorPort
	}
	if log == nil {
		opts.NoLog = true
	}

	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: new server: %w", err)
	}
	if log != nil {
		s.SetLoggerV2(serverLogger{log.With("component", "nats-server")}, cfg.Debug, false, false)
	}
	s.Start()
	if !s.ReadyForConnections(cfg.ReadyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: not ready after %s (is %s:%d free?)", cfg.ReadyTimeout, cfg.Host, cfg.Port)
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("embedded nats: jetstream did not start (store dir %s)", cfg.StoreDir)
	}
	return s, nil
}

// serverLogger passes nats-server logs to slog.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) Noticef(format string, v ...any) { l.log.Info(fmt.Sprintf(format, v...)) }
func (l serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l serverLogger) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }

// Fatalf logs at error level; the server handles what follows (it does not
// rely on the logger to exit).
func (l serverLogger) Fatalf(format string, v ...any) { l.log.Error(fmt.Sprintf(format, v...)) }
