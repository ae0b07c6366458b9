package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// drainer lets the worker's health server start the drain that SIGTERM
// would start, and wait for it: Kubernetes runs `flask-worker drain` as the
// pod's preStop hook, so in-flight jobs finish or are handed back before
// the container is signalled.
type drainer struct {
	start func()
	done  <-chan struct{}
}

// ServeHTTP handles POST /drain. Only loopback callers may drain: the
// health port is reachable from the cluster for probes and scrapes, and
// stopping a worker is the pod's own business.
func (d drainer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !fromLoopback(r) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "drain is only accepted from inside the pod (loopback)\n")
		return
	}
	d.start()
	select {
	case <-d.done:
		_, _ = io.WriteString(w, "drained\n")
	case <-r.Context().Done():
	}
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// DrainConfig is what `flask-worker drain` reads: the worker's health
// address and its grace period, from the same FLASK_* variables as the
// worker it stops.
type DrainConfig struct {
	// HTTPAddr is the worker's health address. Default :8081.
	HTTPAddr string `envconfig:"HTTP_ADDR" default:":8081"`
	// ShutdownGrace bounds the wait, plus a margin for handing jobs back.
	// Default 30s.
	ShutdownGrace time.Duration `envconfig:"SHUTDOWN_GRACE" default:"30s"`
}

// drainMargin covers what follows the grace period: cancelling handlers,
// handing their jobs back and removing the worker record.
const drainMargin = 15 * time.Second

// RequestDrain asks the worker listening on cfg.HTTPAddr (on this host) to
// stop taking jobs, and waits until its in-flight jobs finished or were
// handed back.
func RequestDrain(ctx context.Context, cfg DrainConfig) error {
	_, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil || port == "" {
		return fmt.Errorf("FLASK_HTTP_ADDR=%q: want host:port or :port", cfg.HTTPAddr)
	}
	if cfg.ShutdownGrace < 0 {
		return errors.New("FLASK_SHUTDOWN_GRACE must not be negative")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ShutdownGrace+drainMargin)
	defer cancel()
	url := "http://" + net.JoinHostPort("127.0.0.1", port) + "/drain"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("drain worker at %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("drain worker at %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
