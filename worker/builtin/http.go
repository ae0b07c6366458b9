package builtin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/telemetry"
	"github.com/flaskhq/flask/worker"
)

// Headers set on every request of the http family, besides Content-Type,
// Accept and User-Agent.
const (
	// HeaderJobID carries the job's id.
	HeaderJobID = "Flask-Job-Id"
	// HeaderJobType carries the job's type.
	HeaderJobType = "Flask-Job-Type"
	// HeaderAttempt carries the attempt number, 1 for the first.
	HeaderAttempt = "Flask-Attempt"
	// HeaderMaxAttempts carries the job's attempt limit, so a receiver can
	// tell the last attempt.
	HeaderMaxAttempts = "Flask-Max-Attempts"
	// HeaderIdempotencyKey carries the job id: a redelivered or retried job
	// has the same key, so receivers can deduplicate.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderSignature carries the request's signature when a signing secret
	// is configured; see VerifySignature.
	HeaderSignature = "Flask-Signature"
)

// Limits of the http family.
const (
	// DefaultMaxResponseBytes caps the response body read by default (1 MiB).
	DefaultMaxResponseBytes int64 = 1 << 20
	// DefaultUserAgent is sent when HTTPConfig.UserAgent is empty.
	DefaultUserAgent = "flask-worker (+https://github.com/flaskhq/flask)"
	// MaxRetryAfter caps the delay a Retry-After header can ask for.
	MaxRetryAfter = time.Hour
	// MaxRedirects is how many redirects a request follows.
	MaxRedirects = 3
	// maxSnippet caps the body excerpt quoted in errors.
	maxSnippet = 512
)

var (
	errTooManyRedirects = errors.New("too many redirects")
	errTooLarge         = errors.New("response too large")
)

// HTTPConfig configures the http family of job types.
type HTTPConfig struct {
	// Routes maps a job type to the URL its jobs are POSTed to (see
	// ParseRoutes). No routes, no http types.
	Routes map[string]string
	// SigningSecret, when set, signs every request with a Flask-Signature
	// header (see VerifySignature). Default: unsigned.
	SigningSecret []byte
	// AllowCIDRs lists non-public ranges that targets may use anyway, such
	// as a cluster's service network (see ParseCIDRs). Default: none, so
	// only public addresses can be reached.
	AllowCIDRs []netip.Prefix
	// MaxResponseBytes caps the response body read; a larger 2xx body fails
	// the job without retry. Default DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64
	// UserAgent is the User-Agent header. Default DefaultUserAgent.
	UserAgent string
	// RootCAs verifies the targets' TLS certificates. Default: the system
	// roots.
	RootCAs *x509.CertPool
	// DialTimeout bounds connecting to a target. Default 10s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake. Default 10s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers after
	// the request is sent. Default 0: only the job's timeout bounds it,
	// since a receiver typically answers once the work is done.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes idle keep-alive connections. Default 90s.
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle connections are kept per target
	// host. Default 16.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost limits connections per target host. Default 0: no
	// limit beyond the worker's concurrency.
	MaxConnsPerHost int
	// Now is the clock used to sign requests and read Retry-After dates.
	// Default time.Now.
	Now func() time.Time
}

// LogValue renders the configuration for logs without secrets: the signing
// secret is reduced to whether there is one, and route URLs lose their user
// info and query.
func (c HTTPConfig) LogValue() slog.Value {
	routes := make([]slog.Attr, 0, len(c.Routes))
	for _, s := range HTTPSpecs(c.Routes) {
		shown := "(invalid URL)"
		if u, err := url.Parse(c.Routes[s.Type]); err == nil {
			shown = safeURL(u)
		}
		routes = append(routes, slog.String(s.Type, shown))
	}
	cidrs := make([]string, len(c.AllowCIDRs))
	for i, p := range c.AllowCIDRs {
		cidrs[i] = p.String()
	}
	return slog.GroupValue(
		slog.Attr{Key: "routes", Value: slog.GroupValue(routes...)},
		slog.Bool("signed", len(c.SigningSecret) > 0),
		slog.String("allow_cidrs", strings.Join(cidrs, ",")),
		slog.Int64("max_response_bytes", c.MaxResponseBytes),
		slog.String("user_agent", c.UserAgent),
	)
}

// withDefaults fills unset fields and explains what is wrong, if anything.
func (c HTTPConfig) withDefaults() (HTTPConfig, error) {
	for typ, target := range c.Routes {
		if err := checkRoute(typ, target); err != nil {
			return c, err
		}
	}
	for _, p := range c.AllowCIDRs {
		if !p.IsValid() {
			return c, fmt.Errorf("allowed CIDR %v is not a valid prefix", p)
		}
	}
	if c.MaxResponseBytes < 0 {
		return c, fmt.Errorf("max response bytes must not be negative (0 means %d)", DefaultMaxResponseBytes)
	}
	if c.DialTimeout < 0 || c.TLSHandshakeTimeout < 0 || c.ResponseHeaderTimeout < 0 || c.IdleConnTimeout < 0 {
		return c, errors.New("HTTP timeouts must not be negative")
	}
	if c.MaxIdleConnsPerHost < 0 || c.MaxConnsPerHost < 0 {
		return c, errors.New("HTTP connection limits must not be negative")
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.TLSHandshakeTimeout == 0 {
		c.TLSHandshakeTimeout = 10 * time.Second
	}
	if c.IdleConnTimeout == 0 {
		c.IdleConnTimeout = 90 * time.Second
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = 16
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// RegisterHTTP registers one handler per route in cfg.Routes, all sharing
// one HTTP client. Each type gets job.Spec{Type: t} (the platform defaults)
// unless specs holds a spec of that type; specs of types without a route are
// ignored. Nothing is registered when cfg or a spec is invalid.
func RegisterHTTP(r *worker.Registry, cfg HTTPConfig, specs ...job.Spec) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return fmt.Errorf("http job types: %w", err)
	}
	all := HTTPSpecs(cfg.Routes, specs...)
	for _, s := range all {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("http job types: %w", err)
		}
	}
	c := newHTTPCaller(cfg)
	for _, s := range all {
		target, _ := parseTarget(cfg.Routes[s.Type]) // checked by withDefaults
		if err := r.Register(s, c.handler(target)); err != nil {
			return fmt.Errorf("http job types: %w", err)
		}
	}
	return nil
}

// httpCaller runs the jobs of every route with one client.
type httpCaller struct {
	client    *http.Client
	secret    []byte
	maxBody   int64
	userAgent string
	now       func() time.Time
}

func newHTTPCaller(cfg HTTPConfig) *httpCaller {
	guard := addrGuard{allow: cfg.AllowCIDRs}
	dialer := &net.Dialer{
		Timeout:   cfg.DialTimeout,
		KeepAlive: 30 * time.Second,
		// Every address dialled, first hop or redirect, passes the guard.
		ControlContext: guard.control,
	}
	transport := &http.Transport{
		// No proxy: through one, the dialled address would be the proxy's
		// and the guard could not see the target.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs},
		TLSHandshakeTimeout:    cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        cfg.IdleConnTimeout,
		MaxIdleConns:           max(100, cfg.MaxIdleConnsPerHost),
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:        cfg.MaxConnsPerHost,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &httpCaller{
		client: &http.Client{
			Transport: transport,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) > MaxRedirects {
					return fmt.Errorf("%w (more than %d)", errTooManyRedirects, MaxRedirects)
				}
				return nil
			},
		},
		secret:    cfg.SigningSecret,
		maxBody:   cfg.MaxResponseBytes,
		userAgent: cfg.UserAgent,
		now:       cfg.Now,
	}
}

func (c *httpCaller) handler(target *url.URL) worker.Handler {
	where := safeURL(target)
	return func(ctx context.Context, j *job.Job) (json.RawMessage, error) {
		res, err := c.post(ctx, target, j)
		if err != nil {
			return nil, fmt.Errorf("POST %s: %w", where, err)
		}
		return res, nil
	}
}

// post runs one attempt. Its errors are marked for the worker: SkipRetry
// when retrying cannot help, RetryAfter when the target said when to return.
func (c *httpCaller) post(ctx context.Context, target *url.URL, j *job.Job) (json.RawMessage, error) {
	body := []byte(j.Payload)
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("null")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, worker.SkipRetry(fmt.Errorf("build request: %w", err))
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("User-Agent", c.userAgent)
	h.Set(HeaderJobID, j.ID)
	h.Set(HeaderJobType, j.Type)
	h.Set(HeaderAttempt, strconv.Itoa(j.Attempt))
	h.Set(HeaderMaxAttempts, strconv.Itoa(j.MaxAttempts))
	h.Set(HeaderIdempotencyKey, j.ID)
	// The attempt's span: the receiver joins the job's trace.
	telemetry.InjectHeader(ctx, h)
	if len(c.secret) > 0 {
		h.Set(HeaderSignature, Sign(c.secret, body, c.now()))
	}

	resp, err := c.client.Do(req)
	if err != nil {
		return nil, classifyDoError(ctx, err)
	}
	defer resp.Body.Close()

	code := resp.StatusCode
	if code >= 200 && code < 300 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("read %d response: %w", code, err)
		}
		if int64(len(data)) > c.maxBody {
			return nil, worker.SkipRetry(fmt.Errorf("%d %w: over %d bytes", code, errTooLarge, c.maxBody))
		}
		return resultOf(data)
	}

	statusErr := &StatusError{StatusCode: code, Body: readSnippet(resp.Body)}
	if !retryableStatus(code) {
		return nil, worker.SkipRetry(statusErr)
	}
	if d := parseRetryAfter(resp.Header.Get("Retry-After"), c.now()); d > 0 {
		return nil, worker.RetryAfter(statusErr, d)
	}
	return nil, statusErr
}

// classifyDoError marks an error from http.Client.Do: a refused address and
// a redirect loop cannot be fixed by retrying; timeouts, cancellation and
// connection errors can.
func classifyDoError(ctx context.Context, err error) error {
	var forbidden *ForbiddenAddressError
	if errors.As(err, &forbidden) {
		return worker.SkipRetry(forbidden)
	}
	if errors.Is(err, errTooManyRedirects) {
		return worker.SkipRetry(errTooManyRedirects)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err // url.Error repeats the URL, with its query
	}
	return err
}

// resultOf turns a 2xx body into a job result: null when empty, the body
// when it is JSON, else the body as a JSON string.
func resultOf(data []byte) (json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	if json.Valid(data) {
		return data, nil
	}
	s, err := json.Marshal(string(data))
	if err != nil {
		return nil, fmt.Errorf("encode response as a JSON string: %w", err)
	}
	return s, nil
}

// retryableStatus reports whether a non-2xx status may succeed later:
// 408 Request Timeout, 429 Too Many Requests and every 5xx.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date,
// capped at MaxRetryAfter. It returns 0 when there is none or it is invalid
// or past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// readSnippet reads the start of an error response for the error message:
// sanitized, at most maxSnippet bytes, ending in "…" when cut. It then
// drains a little more so that the connection can be reused.
func readSnippet(r io.Reader) string {
	buf, _ := io.ReadAll(io.LimitReader(r, maxSnippet+1))
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 4<<10))
	cut := len(buf) > maxSnippet
	s := sanitize(buf[:min(len(buf), maxSnippet)])
	if cut {
		s += "…"
	}
	return truncate(s, maxSnippet)
}

// sanitize makes untrusted bytes safe to show on one line: invalid UTF-8,
// control and invisible characters become spaces, and runs of space one.
func sanitize(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), " "))
	return strings.Join(strings.Fields(s), " ")
}

// StatusError reports a target's non-2xx answer.
type StatusError struct {
	StatusCode int
	// Body is the start of the response body, sanitized (at most 512 bytes).
	Body string
}

func (e *StatusError) Error() string {
	text := http.StatusText(e.StatusCode)
	if text == "" {
		text = "status"
	}
	msg := fmt.Sprintf("%d %s", e.StatusCode, text)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}
