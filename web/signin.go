package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flaskhq/flask/api/auth"
)

// Cookies of the sign-in.
const (
	// SessionCookie holds the signed session: HttpOnly, SameSite=Strict,
	// Secure over TLS.
	SessionCookie = "flask_session"
	// CSRFCookie holds the session's CSRF token for the dashboard's script,
	// which sends it back in the X-CSRF-Token header (and in the csrf field
	// of forms). Readable by script, SameSite=Strict.
	CSRFCookie = "flask_csrf"
	// loginCSRFCookie guards the sign-in form itself (double submit).
	loginCSRFCookie = "flask_login_csrf"
	// CSRFHeader carries the CSRF token of a request made by script.
	CSRFHeader = "X-CSRF-Token"
)

// DefaultSessionTTL is how long a session lasts unless SessionConfig says.
const DefaultSessionTTL = 8 * time.Hour

// SessionConfig configures the dashboard's sign-in.
type SessionConfig struct {
	// Secret signs session cookies. Every API replica behind one address
	// needs the same secret, or a session made by one is refused by the
	// others. Empty: a random secret for this process (sessions end with it).
	Secret []byte
	// TTL is how long a session lasts after sign-in. Default 8h.
	TTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Failures limits failed authentications per client address; pass the
	// API's (api.Server.AuthFailures) so that the form and the API share
	// one allowance. Nil: a limiter of the form's own with the default
	// limits.
	Failures *auth.Limiter
}

// signIn is the dashboard's sign-in: an admin API key, checked once,
// exchanged for a signed session cookie. The cookie names the key (never
// its secret), so revoking the key ends its sessions within the verifier's
// cache TTL.
type signIn struct {
	d        *Dashboard
	cfg      SessionConfig
	verifier *auth.Verifier
	failures *auth.Limiter // failed authentications per client address
}

// RequireSignIn wraps h (what Wrap returns) so that the dashboard needs a
// session: its pages redirect to /login without one, and its script's calls
// to the API are authenticated by the session and a CSRF token. Requests
// with their own Authorization header pass untouched to the API, which
// checks them. The dashboard shows every tenant, so only keys with the
// admin scope may sign in.
func (d *Dashboard) RequireSignIn(h http.Handler, cfg SessionConfig, v *auth.Verifier) (http.Handler, error) {
	if v == nil {
		return nil, errors.New("web: sign-in needs an API key verifier")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Secret) == 0 {
		cfg.Secret = make([]byte, 32)
		if _, err := rand.Read(cfg.Secret); err != nil {
			return nil, fmt.Errorf("web: session secret: %w", err)
		}
	} else if len(cfg.Secret) < 32 {
		return nil, errors.New("web: the session secret must be at least 32 bytes")
	}
	if cfg.Failures == nil {
		cfg.Failures = auth.NewLimiter(auth.DefaultFailureRate, auth.DefaultFailureBurst, cfg.Now)
	}
	s := &signIn{d: d, cfg: cfg, verifier: v, failures: cfg.Failures}
	return s.wrap(h), nil
}

// dashboardPath tells the dashboard's own paths from the API's.
func dashboardPath(p string) bool {
	return p == "/" || p == "/jobs" || strings.HasPrefix(p, "/jobs/") || p == "/submit" || strings.HasPrefix(p, "/ui/")
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

func (s *signIn) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case path == "/login":
			securityHeaders(http.HandlerFunc(s.login)).ServeHTTP(w, r)
			return
		case path == "/logout":
			securityHeaders(http.HandlerFunc(s.logout)).ServeHTTP(w, r)
			return
		case strings.HasPrefix(path, "/ui/assets/"):
			h.ServeHTTP(w, r)
			return
		case !dashboardPath(path):
			// The API: a request with its own key is the API's to check.
			if len(r.Header.Values("Authorization")) > 0 {
				h.ServeHTTP(w, r)
				return
			}
			p, nonce, ok := s.session(r)
			if !ok {
				h.ServeHTTP(w, r) // the API answers 401
				return
			}
			if unsafeMethod(r.Method) && !s.validCSRF(nonce, r.Header.Get(CSRFHeader)) {
				denyCSRF(w)
				return
			}
			h.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
			return
		}
		p, _, ok := s.session(r)
		if !ok {
			if r.Method == http.MethodGet && !strings.HasPrefix(path, "/ui/") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "sign in to the dashboard first", http.StatusUnauthorized)
			return
		}
		ctx := auth.NewContext(r.Context(), p)
		// A live-update stream outlives the request that opened it: it asks
		// again, while it runs, whether the session still holds (not
		// expired, its key not revoked).
		ctx = context.WithValue(ctx, sessionCheckKey{}, func() bool {
			_, _, ok := s.session(r)
			return ok
		})
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

type sessionCheckKey struct{}

// sessionCheck returns the function that tells whether the session that
// signed the request in still holds, or nil without sign-in.
func sessionCheck(ctx context.Context) func() bool {
	f, _ := ctx.Value(sessionCheckKey{}).(func() bool)
	return f
}

// session returns the principal and CSRF nonce of a valid session cookie.
func (s *signIn) session(r *http.Request) (auth.Principal, string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return auth.Principal{}, "", false
	}
	keyID, nonce, ok := s.open(c.Value)
	if !ok {
		return auth.Principal{}, "", false
	}
	p, err := s.verifier.Lookup(r.Context(), keyID)
	if err != nil {
		if !errors.Is(err, auth.ErrUnauthenticated) {
			s.d.log.ErrorContext(r.Context(), "dashboard session check failed", "key_id", keyID, "err", err)
		}
		return auth.Principal{}, "", false
	}
	if !p.Admin() {
		return auth.Principal{}, "", false
	}
	return p, nonce, true
}

var b64 = base64.RawURLEncoding

// seal makes a session value: keyID.expiry.nonce.mac.
func (s *signIn) seal(keyID, nonce string, expires time.Time) string {
	payload := keyID + "." + strconv.FormatInt(expires.Unix(), 10) + "." + nonce
	return payload + "." + b64.EncodeToString(s.mac("session", payload))
}

// open checks a session value's signature and expiry.
func (s *signIn) open(v string) (keyID, nonce string, ok bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", "", false
	}
	payload, sig := v[:i], v[i+1:]
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("session", payload)) {
		return "", "", false
	}
	parts := strings.Split(payload, ".")
	if len(parts) != 3 {
		return "", "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !s.cfg.Now().Before(time.Unix(exp, 0)) {
		return "", "", false
	}
	return parts[0], parts[2], true
}

func (s *signIn) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte(purpose + "\x00" + msg))
	return m.Sum(nil)
}

// csrfToken is the CSRF token of the session with nonce.
func (s *signIn) csrfToken(nonce string) string { return b64.EncodeToString(s.mac("csrf", nonce)) }

func (s *signIn) validCSRF(nonce, token string) bool {
	want := s.csrfToken(nonce)
	return token != "" && hmac.Equal([]byte(token), []byte(want))
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return b64.EncodeToString(b), nil
}

// secure tells whether the browser reached us over TLS (directly, or
// through a proxy that says so), for the cookies' Secure flag.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *signIn) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int, httpOnly bool) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: httpOnly,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
}

// loginView is the data of the sign-in page.
type loginView struct {
	Page  meta
	CSRF  string
	Next  string
	Error string
}

// safeNext keeps a redirect target on this site: a path of the dashboard.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") || !dashboardPath(u.Path) {
		return "/"
	}
	return next
}

func (s *signIn) login(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.loginForm(w, r, http.StatusOK, safeNext(r.URL.Query().Get("next")), "")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			s.loginForm(w, r, http.StatusBadRequest, "/", "The form could not be read.")
			return
		}
		next := safeNext(r.PostForm.Get("next"))
		c, err := r.Cookie(loginCSRFCookie)
		if err != nil || c.Value == "" || !hmac.Equal([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) {
			s.loginForm(w, r, http.StatusForbidden, next, "The form expired or came from another page; try again.")
			return
		}
		addr := clientAddr(r)
		if ok, wait := s.failures.Peek(addr); !ok {
			secs := max(int(math.Ceil(wait.Seconds())), 1)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.loginForm(w, r, http.StatusTooManyRequests, next,
				fmt.Sprintf("Too many failed sign-ins from this address; wait %d s before trying again.", secs))
			return
		}
		token := strings.TrimSpace(r.PostForm.Get("key"))
		p, err := s.verifier.Verify(r.Context(), token)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			s.failures.Allow(addr) // counts the failure
			s.d.log.InfoContext(r.Context(), "dashboard sign-in refused", "audit", true, "reason", "invalid key")
			s.loginForm(w, r, http.StatusUnauthorized, next, "That API key is not valid: it is malformed, unknown or revoked.")
			return
		case err != nil:
			s.d.log.ErrorContext(r.Context(), "dashboard sign-in failed", "err", err)
			s.loginForm(w, r, http.StatusServiceUnavailable, next, "The key could not be checked; try again in a moment.")
			return
		case !p.Admin():
			s.d.log.InfoContext(r.Context(), "dashboard sign-in refused", "audit", true, "key_id", p.KeyID, "reason", "not admin")
			s.loginForm(w, r, http.StatusForbidden, next, "The dashboard shows every tenant's jobs: sign in with a key that has the admin scope.")
			return
		}
		nonce, err := randomToken()
		if err != nil {
			http.Error(w, "could not start a session", http.StatusInternalServerError)
			return
		}
		ttl := int(s.cfg.TTL / time.Second)
		s.setCookie(w, r, SessionCookie, s.seal(p.KeyID, nonce, s.cfg.Now().Add(s.cfg.TTL)), ttl, true)
		s.setCookie(w, r, CSRFCookie, s.csrfToken(nonce), ttl, false)
		s.setCookie(w, r, loginCSRFCookie, "", -1, true)
		s.d.log.InfoContext(r.Context(), "dashboard sign-in", "audit", true, "key_id", p.KeyID, "tenant", p.Tenant)
		http.Redirect(w, r, next, http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
	}
}

func (s *signIn) loginForm(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	token, err := randomToken()
	if err != nil {
		http.Error(w, "could not render the sign-in form", http.StatusInternalServerError)
		return
	}
	s.setCookie(w, r, loginCSRFCookie, token, 600, true)
	var buf bytes.Buffer
	view := loginView{Page: meta{Title: "Sign in", Nav: "login"}, CSRF: token, Next: next, Error: msg}
	if err := s.d.pages["login"].ExecuteTemplate(&buf, "layout", view); err != nil {
		s.d.log.ErrorContext(r.Context(), "dashboard template failed", "page", "login", "err", err)
		http.Error(w, "the page could not be rendered; the error has been logged", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// logout ends the session: POST with the CSRF token (form field or header).
func (s *signIn) logout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "sign out with POST", http.StatusMethodNotAllowed)
		return
	}
	p, nonce, ok := s.session(r)
	if ok {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		_ = r.ParseForm()
		token := r.Header.Get(CSRFHeader)
		if token == "" {
			token = r.PostForm.Get("csrf")
		}
		if !s.validCSRF(nonce, token) {
			denyCSRF(w)
			return
		}
		s.d.log.InfoContext(r.Context(), "dashboard sign-out", "audit", true, "key_id", p.KeyID)
	}
	s.setCookie(w, r, SessionCookie, "", -1, true)
	s.setCookie(w, r, CSRFCookie, "", -1, false)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// ProblemCSRF is the problem type of a request without a valid CSRF token.
const ProblemCSRF = "urn:flask:problem:csrf"

func denyCSRF(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`{"type":"` + ProblemCSRF + `","title":"Forbidden","status":403,` +
		`"detail":"the request lacks the session's CSRF token; reload the page","errors":[{"field":"` + CSRFHeader + `","detail":"must be the session's CSRF token"}]}` + "\n"))
}
