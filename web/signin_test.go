package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/store"
)

// signInEnv serves the dashboard behind RequireSignIn over a real store,
// with an API stand-in that echoes who the request acts for.
type signInEnv struct {
	*env
	srv    *httptest.Server
	admin  string
	tenant string
	c      *http.Client
}

func newSignInEnv(t *testing.T) *signInEnv {
	e := &signInEnv{env: newEnv(t, Config{})}
	mk := func(tenant string, scopes ...string) string {
		k, err := auth.NewKey()
		require.NoError(t, err)
		_, err = e.raw.CreateAPIKey(e.ctx, store.CreateKeyParams{ID: k.ID, Name: "t", Tenant: tenant, Scopes: scopes, SecretHash: k.Hash()})
		require.NoError(t, err)
		return k.Token()
	}
	e.admin, e.tenant = mk("default", "admin"), mk("acme", "jobs:read", "jobs:submit")
	v := auth.NewVerifier(auth.VerifierConfig{CacheTTL: time.Second, Now: e.clk.Now}, e.raw, nil)
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "no principal; Authorization="+r.Header.Get("Authorization"))
			return
		}
		_, _ = io.WriteString(w, "api as "+p.KeyID)
	})
	e.d.sessionRecheck = 20 * time.Millisecond
	h, err := e.d.RequireSignIn(e.d.Wrap(api), SessionConfig{TTL: time.Hour, Now: e.clk.Now}, v)
	require.NoError(t, err)
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	e.c = e.client()
	return e
}

// client is a browser: a cookie jar, and redirects not followed.
func (e *signInEnv) client() *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (e *signInEnv) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(e.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn fills the sign-in form with key and returns the response.
func (e *signInEnv) signIn(c *http.Client, key, next string) (*http.Response, string) {
	e.t.Helper()
	res, body := e.do(c, http.MethodGet, "/login?next="+url.QueryEscape(next), nil, nil)
	require.Equal(e.t, http.StatusOK, res.StatusCode)
	m := csrfField.FindStringSubmatch(body)
	require.NotNil(e.t, m, "the form carries a CSRF token")
	return e.do(c, http.MethodPost, "/login", url.Values{"key": {key}, "csrf": {m[1]}, "next": {next}}, nil)
}

func (e *signInEnv) cookie(c *http.Client, name string) string {
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

func TestSignInFlow(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t)

	res, _ := e.do(e.c, http.MethodGet, "/jobs?state=failed", nil, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "no session: to the sign-in page")
	require.Equal(t, "/login?next="+url.QueryEscape("/jobs?state=failed"), res.Header.Get("Location"))
	res, _ = e.do(e.c, http.MethodGet, "/ui/events", nil, nil)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, body := e.do(e.c, http.MethodGet, "/v1/jobs", nil, nil)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the API gets no principal: %s", body)
	res, _ = e.do(e.c, http.MethodGet, "/ui/assets/app.css", nil, nil)
	require.NotEqual(t, http.StatusSeeOther, res.StatusCode, "assets need no session")

	res, body = e.signIn(e.c, e.tenant, "/")
	require.Equal(t, http.StatusForbidden, res.StatusCode, "the dashboard shows every tenant: admin only")
	require.Contains(t, body, "admin scope")
	res, body = e.signIn(e.c, e.admin+"x", "/")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.NotContains(t, body, e.admin, "the key is not echoed")
	require.Empty(t, e.cookie(e.c, SessionCookie))

	res, _ = e.signIn(e.c, e.admin, "/jobs?state=failed")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/jobs?state=failed", res.Header.Get("Location"), "back where the browser was going")
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == SessionCookie {
			session = ck
		}
	}
	require.NotNil(t, session)
	require.True(t, session.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	require.False(t, session.Secure, "plain HTTP here")
	require.Equal(t, 3600, session.MaxAge)
	admin, _ := auth.ParseKey(e.admin)
	require.NotContains(t, session.Value, admin.Secret, "the cookie never holds the secret")

	res, _ = e.do(e.c, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, body = e.do(e.c, http.MethodGet, "/v1/jobs", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "api as "+admin.ID, body, "the session authenticates the dashboard's API calls")

	// Unsafe API calls need the session's CSRF token.
	res, body = e.do(e.c, http.MethodPost, "/v1/jobs", nil, nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Contains(t, body, ProblemCSRF)
	res, _ = e.do(e.c, http.MethodPost, "/v1/jobs", nil, map[string]string{CSRFHeader: "forged"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	csrf := e.cookie(e.c, CSRFCookie)
	require.NotEmpty(t, csrf)
	res, body = e.do(e.c, http.MethodPost, "/v1/jobs", nil, map[string]string{CSRFHeader: csrf})
	require.Equal(t, http.StatusOK, res.StatusCode, body)

	// A request with its own key is the API's to check.
	res, body = e.do(e.c, http.MethodPost, "/v1/jobs", nil, map[string]string{"Authorization": "Bearer other"})
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Contains(t, body, "Authorization=Bearer other")

	// Sign-out needs the token too, then ends the session.
	res, _ = e.do(e.c, http.MethodPost, "/logout", url.Values{"csrf": {"forged"}}, nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = e.do(e.c, http.MethodPost, "/logout", url.Values{"csrf": {csrf}}, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Empty(t, e.cookie(e.c, SessionCookie))
	res, _ = e.do(e.c, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res, _ = e.do(e.c, http.MethodGet, "/logout", nil, nil)
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
}

func TestSignInFormNeedsItsToken(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t)
	res, _ := e.do(e.c, http.MethodPost, "/login", url.Values{"key": {e.admin}}, nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "no login CSRF cookie nor field")
	fresh := e.client()
	e.do(fresh, http.MethodGet, "/login", nil, nil)
	res, _ = e.do(fresh, http.MethodPost, "/login", url.Values{"key": {e.admin}, "csrf": {"guess"}}, nil)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a field that does not match the cookie")
	require.Empty(t, e.cookie(fresh, SessionCookie))
}

func TestSessionExpiresAndFollowsTheKey(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t)
	res, _ := e.signIn(e.c, e.admin, "/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	res, _ = e.do(e.c, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)

	// A tampered cookie is refused.
	other := e.client()
	u, _ := url.Parse(e.srv.URL)
	v := e.cookie(e.c, SessionCookie)
	other.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: strings.Replace(v, ".", ".9", 1)}})
	res, _ = e.do(other, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)

	// Revoking the key ends its sessions within the verifier's TTL.
	admin, _ := auth.ParseKey(e.admin)
	_, err := e.raw.RevokeAPIKey(e.ctx, admin.ID)
	require.NoError(t, err)
	e.clk.Advance(2 * time.Second)
	res, _ = e.do(e.c, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "a revoked key's session is over")

	// A session past its TTL is over, whatever the browser keeps.
	e2 := newSignInEnv(t)
	res, _ = e2.signIn(e2.c, e2.admin, "/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	e2.clk.Advance(time.Hour)
	res, _ = e2.do(e2.c, http.MethodGet, "/", nil, nil)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestSignInLimitsFailuresPerAddress(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t)
	bad := e.admin[:len(e.admin)-1] + "a"
	if bad == e.admin {
		bad = e.admin[:len(e.admin)-1] + "b"
	}
	for i := range auth.DefaultFailureBurst {
		res, _ := e.signIn(e.c, bad, "/")
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i+1)
	}
	res, body := e.signIn(e.c, e.admin, "/")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "past the burst the form looks no key up, even a good one")
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	require.Contains(t, body, "Too many failed sign-ins")
	require.Empty(t, e.cookie(e.c, SessionCookie))

	e.clk.Advance(time.Second)
	res, _ = e.signIn(e.c, e.admin, "/")
	require.Equal(t, http.StatusSeeOther, res.StatusCode, "the allowance refills")
}

// signedInStream opens the live-update stream as c's browser does.
func (e *signInEnv) signedInStream(c *http.Client) <-chan message {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+"/ui/events?overview=1", nil)
	require.NoError(e.t, err)
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { res.Body.Close() })
	require.Equal(e.t, http.StatusOK, res.StatusCode)
	out := make(chan message, 64)
	go func() {
		defer close(out)
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if name, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "event: "); ok {
				out <- message{name: name}
			}
		}
	}()
	return out
}

// ended waits until the stream ch ends.
func ended(t *testing.T, ch <-chan message, why string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("the stream is still open: %s", why)
		}
	}
}

func TestStreamEndsWithTheSession(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(e *signInEnv)
	}{
		{"revoked", func(e *signInEnv) {
			admin, _ := auth.ParseKey(e.admin)
			_, err := e.raw.RevokeAPIKey(e.ctx, admin.ID)
			require.NoError(e.t, err)
			e.clk.Advance(2 * time.Second) // past the verifier's cache TTL
		}},
		{"expired", func(e *signInEnv) { e.clk.Advance(time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newSignInEnv(t)
			ctx, cancel := context.WithCancel(e.ctx)
			done := make(chan error, 1)
			go func() { done <- e.d.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			res, _ := e.signIn(e.c, e.admin, "/")
			require.Equal(t, http.StatusSeeOther, res.StatusCode)
			events := e.signedInStream(e.c)
			next(t, events, "live")
			tc.end(e)
			ended(t, events, "a stream must not outlive its session")
			res, _ = e.do(e.c, http.MethodGet, "/ui/events?overview=1", nil, nil)
			require.Equal(t, http.StatusUnauthorized, res.StatusCode, "and cannot be opened again")
		})
	}
}

func TestSecureCookiesOverTLSAndSafeRedirects(t *testing.T) {
	t.Parallel()
	e := newSignInEnv(t)
	res, body := e.do(e.c, http.MethodGet, "/login", nil, map[string]string{"X-Forwarded-Proto": "https"})
	require.Equal(t, http.StatusOK, res.StatusCode)
	m := csrfField.FindStringSubmatch(body)
	require.NotNil(t, m)
	require.True(t, res.Cookies()[0].Secure, "Secure when the browser came over TLS")

	for next, want := range map[string]string{
		"//evil.example.com/": "/", "https://evil.example.com/": "/", "/jobs/x": "/jobs/x", "/v1/keys": "/",
		"/\\evil.example.com": "/", "": "/",
	} {
		require.Equal(t, want, safeNext(next), next)
	}
}

func TestRequireSignInRefusesAShortSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	v := auth.NewVerifier(auth.VerifierConfig{}, e.raw, nil)
	_, err := e.d.RequireSignIn(http.NotFoundHandler(), SessionConfig{Secret: []byte("short")}, v)
	require.Error(t, err)
	_, err = e.d.RequireSignIn(http.NotFoundHandler(), SessionConfig{}, nil)
	require.Error(t, err)
}
