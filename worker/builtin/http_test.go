package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/telemetry"
	"github.com/flaskhq/flask/worker"
	"github.com/flaskhq/flask/worker/builtin"
)

const hookType = "hook.test"

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// received is one request as the test server saw it.
type received struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// target is a test server that records requests and counts connections.
type target struct {
	*httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	reqs  []received
}

// startTarget serves h on addr ("127.0.0.1:0" when empty). Callers check
// first that an optional address family (IPv6) exists; failing to bind is
// an error.
func startTarget(t *testing.T, addr string, h http.HandlerFunc) *target {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("cannot listen on %s: %v", addr, err)
	}
	tg := &target{}
	tg.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, received{r.Method, r.URL.Path, r.Header.Clone(), body})
		tg.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	tg.Listener.Close()
	tg.Listener = l
	tg.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tg.conns.Add(1)
		}
	}
	tg.Start()
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) requests() []received {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]received(nil), tg.reqs...)
}

// httpHandler registers hookType routed to url and returns its handler.
func httpHandler(t *testing.T, cfg builtin.HTTPConfig, url string) worker.Handler {
	t.Helper()
	cfg.Routes = map[string]string{hookType: url}
	r := worker.NewRegistry()
	require.NoError(t, builtin.RegisterHTTP(r, cfg))
	h, _, ok := r.Lookup(hookType)
	require.True(t, ok)
	return h
}

func hookJob() *job.Job {
	return &job.Job{
		ID: "019ac1e2-7b3a-7c00-8d1e-4f5a6b7c8d9e", Type: hookType,
		Payload: json.RawMessage(`{"order_id": 42, "note": "ü"}`), Attempt: 2, MaxAttempts: 5,
	}
}

// run calls h with a deadline, as the worker would.
func run(t *testing.T, h worker.Handler, timeout time.Duration) (json.RawMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	return h(ctx, hookJob())
}

func respond(code int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func TestHTTPSuccess(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		code        int
		contentType string
		body        string
		want        string // "" for a nil result
	}{
		{"json object", 200, "application/json", `{"ok": true, "n": [1, 2]}`, `{"ok": true, "n": [1, 2]}`},
		{"json with spaces", 201, "application/json", "  [1,2]\n", `[1,2]`},
		{"text", 200, "text/plain", "hello world\n", `"hello world"`},
		{"text mislabelled json", 200, "application/json", "{oops", `"{oops"`},
		{"invalid utf-8 text", 200, "text/plain", "a\xffb", `"a\ufffdb"`},
		{"no content", 204, "", "", ""},
		{"empty 200", 200, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tg := startTarget(t, "", respond(c.code, c.contentType, c.body))
			res, err := run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, tg.URL+"/hook"), 10*time.Second)
			require.NoError(t, err)
			if c.want == "" {
				require.Nil(t, res)
				return
			}
			require.True(t, json.Valid(res), "result %q is not JSON", res)
			require.JSONEq(t, c.want, string(res))
		})
	}
}

func TestHTTPRequest(t *testing.T) {
	t.Parallel()
	tg := startTarget(t, "", respond(200, "", ""))
	j := hookJob()
	h := httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, tg.URL+"/hook?x=1")
	_, err := h(t.Context(), j)
	require.NoError(t, err)

	reqs := tg.requests()
	require.Len(t, reqs, 1)
	got := reqs[0]
	require.Equal(t, http.MethodPost, got.method)
	require.Equal(t, "/hook", got.path)
	require.Equal(t, string(j.Payload), string(got.body), "body must be the payload, byte for byte")
	require.Equal(t, "application/json", got.header.Get("Content-Type"))
	require.Equal(t, j.ID, got.header.Get("Flask-Job-Id"))
	require.Equal(t, j.ID, got.header.Get("Idempotency-Key"))
	require.Equal(t, hookType, got.header.Get("Flask-Job-Type"))
	require.Equal(t, "2", got.header.Get("Flask-Attempt"))
	require.Equal(t, "5", got.header.Get("Flask-Max-Attempts"))
	require.Equal(t, builtin.DefaultUserAgent, got.header.Get("User-Agent"))
	require.Empty(t, got.header.Get("Flask-Signature"), "no secret, no signature")

	// A job without payload sends JSON null; a custom User-Agent is used.
	h = httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback, UserAgent: "acme/2"}, tg.URL)
	j.Payload = nil
	_, err = h(t.Context(), j)
	require.NoError(t, err)
	reqs = tg.requests()
	require.Equal(t, "null", string(reqs[1].body))
	require.Equal(t, "acme/2", reqs[1].header.Get("User-Agent"))
}

func TestHTTPSignature(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret-signing-key")
	verdict := make(chan error, 1)
	tg := startTarget(t, "", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verdict <- builtin.VerifySignature(secret, r.Header.Get("Flask-Signature"), body, time.Now(), time.Minute)
		w.WriteHeader(http.StatusNoContent)
	})
	_, err := run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback, SigningSecret: secret}, tg.URL), 10*time.Second)
	require.NoError(t, err)
	require.NoError(t, <-verdict, "receiver must verify the exact body")

	got := tg.requests()[0]
	header := got.header.Get("Flask-Signature")
	require.Regexp(t, `^t=\d+,v1=[0-9a-f]{64}$`, header)
	tampered := bytes.Replace(got.body, []byte("42"), []byte("43"), 1)
	require.NotEqual(t, got.body, tampered)
	err = builtin.VerifySignature(secret, header, tampered, time.Now(), time.Minute)
	require.ErrorIs(t, err, builtin.ErrBadSignature)
	err = builtin.VerifySignature([]byte("other"), header, got.body, time.Now(), time.Minute)
	require.ErrorIs(t, err, builtin.ErrBadSignature)
}

func TestHTTPSignatureUsesClock(t *testing.T) {
	t.Parallel()
	secret := []byte("k")
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tg := startTarget(t, "", respond(200, "", ""))
	cfg := builtin.HTTPConfig{AllowCIDRs: loopback, SigningSecret: secret, Now: func() time.Time { return at }}
	_, err := run(t, httpHandler(t, cfg, tg.URL), 10*time.Second)
	require.NoError(t, err)
	got := tg.requests()[0]
	require.Equal(t, builtin.Sign(secret, got.body, at), got.header.Get("Flask-Signature"))
	require.NoError(t, builtin.VerifySignature(secret, got.header.Get("Flask-Signature"), got.body, at.Add(4*time.Minute), 0))
	require.ErrorIs(t, builtin.VerifySignature(secret, got.header.Get("Flask-Signature"), got.body, at.Add(6*time.Minute), 0),
		builtin.ErrBadSignature, "a stale signature must fail")
}

func TestHTTPRetryable(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		code       int
		retryAfter string
		wantDelay  time.Duration // 0: no RetryAfterError
	}{
		{"503 with seconds", 503, "7", 7 * time.Second},
		{"429 with date", 429, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"503 capped", 503, "86400", builtin.MaxRetryAfter},
		{"503 past date", 503, now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"503 garbage", 503, "soon", 0},
		{"500", 500, "", 0},
		{"502", 502, "", 0},
		{"408", 408, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tg := startTarget(t, "", func(w http.ResponseWriter, _ *http.Request) {
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.WriteHeader(c.code)
				_, _ = io.WriteString(w, "upstream busy")
			})
			cfg := builtin.HTTPConfig{AllowCIDRs: loopback, Now: func() time.Time { return now }}
			res, err := run(t, httpHandler(t, cfg, tg.URL), 10*time.Second)
			require.Nil(t, res)
			require.Error(t, err)
			require.False(t, worker.IsSkipRetry(err), "%d must be retried: %v", c.code, err)
			var se *builtin.StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, c.code, se.StatusCode)
			require.Equal(t, "upstream busy", se.Body)
			var ra *worker.RetryAfterError
			if c.wantDelay == 0 {
				require.False(t, errors.As(err, &ra), "unexpected RetryAfter: %v", err)
				return
			}
			require.ErrorAs(t, err, &ra)
			require.Equal(t, c.wantDelay, ra.Delay)
		})
	}
}

func TestHTTPPermanentStatus(t *testing.T) {
	t.Parallel()
	// A long body with terminal escapes and newlines must come back short,
	// on one line and without control characters.
	body := "\x1b[31mnot found\x1b[0m\r\nSet-Cookie: x\n" + strings.Repeat("é", 1000)
	for _, code := range []int{400, 401, 404, 409, 422, 304} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			tg := startTarget(t, "", respond(code, "text/plain", body))
			_, err := run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, tg.URL), 10*time.Second)
			require.True(t, worker.IsSkipRetry(err), "%d must not be retried: %v", code, err)
			var se *builtin.StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, code, se.StatusCode)
			require.ErrorContains(t, err, fmt.Sprintf("%d %s", code, http.StatusText(code)))
			if code == 304 {
				return // no body allowed
			}
			require.LessOrEqual(t, len(se.Body), 512)
			require.True(t, strings.HasPrefix(se.Body, "[31mnot found [0m Set-Cookie: x é"), "snippet %q", se.Body)
			require.True(t, strings.HasSuffix(se.Body, "…"))
			require.NotContains(t, err.Error(), "\x1b")
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	tg := startTarget(t, "", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	res, err := run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, tg.URL), 100*time.Millisecond)
	require.Nil(t, res)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, worker.IsSkipRetry(err), "a timeout may be retried")
}

func TestHTTPConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, "http://"+addr), 10*time.Second)
	require.Error(t, err)
	require.False(t, worker.IsSkipRetry(err), "a connection error may be retried: %v", err)
	var fe *builtin.ForbiddenAddressError
	require.False(t, errors.As(err, &fe))
}

func TestHTTPResponseTooLarge(t *testing.T) {
	t.Parallel()
	tg := startTarget(t, "", func(w http.ResponseWriter, r *http.Request) {
		n := 1025
		if r.URL.Path == "/fits" {
			n = 1024
		}
		_, _ = w.Write(bytes.Repeat([]byte("a"), n))
	})
	cfg := builtin.HTTPConfig{AllowCIDRs: loopback, MaxResponseBytes: 1024}
	_, err := run(t, httpHandler(t, cfg, tg.URL+"/big"), 10*time.Second)
	require.True(t, worker.IsSkipRetry(err), "%v", err)
	require.ErrorContains(t, err, "response too large")

	res, err := run(t, httpHandler(t, cfg, tg.URL+"/fits"), 10*time.Second)
	require.NoError(t, err)
	require.Len(t, res, 1024+2, "a body at the limit is kept, as a JSON string")
}

func TestHTTPRedirects(t *testing.T) {
	t.Parallel()
	tg := startTarget(t, "", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/new", http.StatusTemporaryRedirect)
		case "/new":
			body, _ := io.ReadAll(r.Body)
			_, _ = fmt.Fprintf(w, `{"got": %s}`, body)
		default: // /loop/n redirects forever
			http.Redirect(w, r, r.URL.Path+"x", http.StatusTemporaryRedirect)
		}
	})
	cfg := builtin.HTTPConfig{AllowCIDRs: loopback}
	res, err := run(t, httpHandler(t, cfg, tg.URL+"/old"), 10*time.Second)
	require.NoError(t, err)
	require.JSONEq(t, `{"got": {"order_id": 42, "note": "ü"}}`, string(res), "307 must resend the body")

	before := len(tg.requests())
	_, err = run(t, httpHandler(t, cfg, tg.URL+"/loop"), 10*time.Second)
	require.True(t, worker.IsSkipRetry(err), "%v", err)
	require.ErrorContains(t, err, "too many redirects")
	require.Equal(t, 1+builtin.MaxRedirects, len(tg.requests())-before, "first request plus MaxRedirects redirects")
}

func TestHTTPRedirectToForbiddenAddress(t *testing.T) {
	t.Parallel()
	// Linux routes all of 127/8 to loopback, so 127.0.0.2 is a second host
	// the allow list (127.0.0.1 only) does not cover.
	for _, hidden := range []string{"127.0.0.2:0", "[::1]:0"} {
		t.Run(hidden, func(t *testing.T) {
			t.Parallel()
			inner := startTarget(t, hidden, respond(200, "", `"secret"`))
			outer := startTarget(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, inner.URL+"/meta", http.StatusFound)
			})
			cfg := builtin.HTTPConfig{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
			res, err := run(t, httpHandler(t, cfg, outer.URL), 10*time.Second)
			require.Nil(t, res)
			require.True(t, worker.IsSkipRetry(err), "%v", err)
			var fe *builtin.ForbiddenAddressError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, "loopback", fe.Class)
			require.Len(t, outer.requests(), 1)
			require.Zero(t, inner.conns.Load(), "the redirect target must not be connected to")
		})
	}
}

func TestHTTPForbiddenTargets(t *testing.T) {
	t.Parallel()
	v4 := startTarget(t, "127.0.0.1:0", respond(200, "", ""))
	_, v4Port, _ := net.SplitHostPort(v4.Listener.Addr().String())
	var v6 *target
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		_ = l.Close()
		v6 = startTarget(t, "[::1]:0", respond(200, "", ""))
	}
	cases := []struct {
		url, class string
	}{
		{v4.URL, "loopback"},
		{"http://localhost:" + v4Port, "loopback"},
		{"http://[::ffff:127.0.0.1]:" + v4Port, "loopback"},
		{"http://0.0.0.0:" + v4Port, "unspecified"},
		{"http://10.0.0.1/", "private"},
		{"http://192.168.1.1/", "private"},
		{"http://172.16.5.4:8080/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata)"},
		{"http://100.64.0.1/", "shared (CGNAT)"},
		{"https://[fd00:ec2::254]/", "private"},
		{"http://[fe80::1]/", "link-local"},
	}
	if v6 != nil {
		cases = append(cases, struct{ url, class string }{v6.URL, "loopback"})
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			t.Parallel()
			res, err := run(t, httpHandler(t, builtin.HTTPConfig{}, c.url), 10*time.Second)
			require.Nil(t, res)
			require.True(t, worker.IsSkipRetry(err), "%v", err)
			var fe *builtin.ForbiddenAddressError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, c.class, fe.Class)
			require.ErrorContains(t, err, "allow it with FLASK_HTTP_ALLOW_CIDRS")
		})
	}
	t.Cleanup(func() {
		// Runs after the parallel subtests: nothing may have reached the servers.
		require.Zero(t, v4.conns.Load(), "IPv4 loopback server was connected to")
		if v6 != nil {
			require.Zero(t, v6.conns.Load(), "IPv6 loopback server was connected to")
		}
	})
}

func TestHTTPTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(respond(200, "application/json", `{"tls": true}`))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing handshake below is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	res, err := run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback, RootCAs: pool}, srv.URL), 10*time.Second)
	require.NoError(t, err)
	require.JSONEq(t, `{"tls": true}`, string(res))

	_, err = run(t, httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, srv.URL), 10*time.Second)
	require.ErrorContains(t, err, "certificate", "an unknown CA must fail")
}

func TestRegisterHTTP(t *testing.T) {
	t.Parallel()
	routes := map[string]string{"b.hook": "https://b.example/x", "a.hook": "https://a.example/x"}
	override := job.Spec{Type: "b.hook", Queue: "hooks", MaxAttempts: 3, Timeout: 5 * time.Minute}
	unrelated := job.Spec{Type: "email.send", Queue: "mail"}

	r := worker.NewRegistry()
	require.NoError(t, builtin.RegisterHTTP(r, builtin.HTTPConfig{Routes: routes}, override, unrelated))
	specs := r.Specs()
	require.Len(t, specs, 2, "one handler per route, unrelated specs ignored")
	require.Equal(t, "a.hook", specs[0].Type)
	require.Equal(t, job.DefaultQueue, specs[0].Queue)
	require.Equal(t, job.DefaultMaxAttempts, specs[0].MaxAttempts)
	require.Equal(t, "hooks", specs[1].Queue)
	require.Equal(t, 3, specs[1].MaxAttempts)
	require.Equal(t, 5*time.Minute, specs[1].Timeout)

	api := builtin.HTTPSpecs(routes, override, unrelated)
	require.Equal(t, []job.Spec{{Type: "a.hook"}, override}, api)
	_, err := job.NewCatalog(append(api, builtin.DemoSpecs()...)...)
	require.NoError(t, err)

	// Nothing registered when any part is wrong.
	bad := []struct {
		name  string
		cfg   builtin.HTTPConfig
		specs []job.Spec
		want  string
	}{
		{"bad url", builtin.HTTPConfig{Routes: map[string]string{"a": "ftp://x/"}}, nil, "not http or https"},
		{"bad type", builtin.HTTPConfig{Routes: map[string]string{"a b": "http://x/"}}, nil, "type"},
		{"negative max", builtin.HTTPConfig{Routes: routes, MaxResponseBytes: -1}, nil, "must not be negative"},
		{"bad spec", builtin.HTTPConfig{Routes: routes}, []job.Spec{{Type: "a.hook", Queue: "Bad Queue"}}, "queue"},
		{"bad cidr", builtin.HTTPConfig{Routes: routes, AllowCIDRs: []netip.Prefix{{}}}, nil, "not a valid prefix"},
	}
	for _, c := range bad {
		r := worker.NewRegistry()
		err := builtin.RegisterHTTP(r, c.cfg, c.specs...)
		require.ErrorContains(t, err, c.want, c.name)
		require.Empty(t, r.Specs(), c.name)
	}

	r = worker.NewRegistry()
	require.NoError(t, builtin.RegisterHTTP(r, builtin.HTTPConfig{}), "no routes, nothing to do")
	require.Empty(t, r.Specs())
}

func TestHTTPConfigLogValue(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	cfg := builtin.HTTPConfig{
		Routes:        map[string]string{"a.hook": "https://user:hunter2@a.example/x?token=tok123"},
		SigningSecret: []byte("whsec_dont_log_me"),
		AllowCIDRs:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	}
	log.Info("config", "http", cfg)
	out := buf.String()
	for _, secret := range []string{"hunter2", "tok123", "whsec_dont_log_me", "user:"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "https://a.example/x")
	require.Contains(t, out, "signed=true")
	require.Contains(t, out, "10.0.0.0/8")
}

// TestHTTPRedirectToMetadataAndPrivate follows a redirect from an allowed
// target to the cloud metadata address and to private ranges: the guard
// refuses each before any connection is made (the dialer's control hook
// runs before connect), so no packet leaves for those addresses.
func TestHTTPRedirectToMetadataAndPrivate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ to, class string }{
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "link-local (cloud metadata)"},
		{"http://[fd00:ec2::254]/latest/meta-data/", "private"},
		{"http://10.0.0.1/admin", "private"},
		{"http://172.31.255.1/", "private"},
		{"http://192.168.0.1/", "private"},
		{"http://[fe80::1]/", "link-local"},
		{"http://0.0.0.0/", "unspecified"},
	} {
		t.Run(c.to, func(t *testing.T) {
			t.Parallel()
			outer := startTarget(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, c.to, http.StatusTemporaryRedirect)
			})
			cfg := builtin.HTTPConfig{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
			res, err := run(t, httpHandler(t, cfg, outer.URL), 10*time.Second)
			require.Nil(t, res)
			require.True(t, worker.IsSkipRetry(err), "a refused target is not retried: %v", err)
			var fe *builtin.ForbiddenAddressError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, c.class, fe.Class)
			require.Len(t, outer.requests(), 1, "the allowed target was called once")
		})
	}
}

// TestHTTPTraceContext: the request carries the trace context of the
// handler's context (the attempt's span), so that the receiver joins the
// job's trace; without one it carries none.
func TestHTTPTraceContext(t *testing.T) {
	t.Parallel()
	tg := startTarget(t, "", respond(200, "", ""))
	h := httpHandler(t, builtin.HTTPConfig{AllowCIDRs: loopback}, tg.URL)
	tc := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "acme=1"}
	_, err := h(telemetry.Extract(t.Context(), tc), hookJob())
	require.NoError(t, err)
	_, err = h(t.Context(), hookJob())
	require.NoError(t, err)
	reqs := tg.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, tc["traceparent"], reqs[0].header.Get("Traceparent"))
	require.Equal(t, "acme=1", reqs[0].header.Get("Tracestate"))
	require.Empty(t, reqs[1].header.Get("Traceparent"), "no trace, no header")
}
