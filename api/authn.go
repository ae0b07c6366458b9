package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flaskhq/flask/api/auth"
)

// anyScope, as the scope of a route, admits every valid key.
const anyScope auth.Scope = ""

const principalKey ctxKey = iota + 100

// principalFrom returns the principal that authenticated the request.
func principalFrom(ctx context.Context) (auth.Principal, bool) {
	p, ok := ctx.Value(principalKey).(auth.Principal)
	return p, ok
}

// mustPrincipal returns the principal of a request that went through authed.
func mustPrincipal(r *http.Request) auth.Principal {
	p, ok := principalFrom(r.Context())
	if !ok {
		// Only a route registered without authed gets here: a programming error.
		panic("api: a handler that needs a principal is served without authentication")
	}
	return p
}

// bearerToken reads "Authorization: Bearer <token>".
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// clientAddr is the address the request came from, without the port. Behind
// a proxy it is the proxy's: forwarded headers are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authed wraps a handler of a /v1 route: it authenticates the bearer key,
// applies the key's rate limit, then checks that the key holds scope.
// Failures answer 401 (no valid key), 429 (too many requests) or 403 (valid
// key without the scope).
func (s *Server) authed(scope auth.Scope, h handlerFunc) http.HandlerFunc {
	return s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		addr := clientAddr(r)
		if ok, wait := s.failures.Peek(addr); !ok {
			return tooManyRequests(w, wait, "too many failed authentications from this address; wait before trying again")
		}
		var p auth.Principal
		if ctxP, ok := auth.FromContext(r.Context()); ok && len(r.Header.Values("Authorization")) == 0 {
			// Signed in to the dashboard: its session middleware verified
			// the session cookie, the key behind it and the CSRF token.
			p = ctxP
		} else {
			token, ok := bearerToken(r)
			if !ok {
				s.failures.Allow(addr)
				return unauthorized(w, "this route requires an API key: send Authorization: Bearer flask_<id>_<secret>")
			}
			var err error
			p, err = s.verifier.Verify(r.Context(), token)
			if errors.Is(err, auth.ErrUnauthenticated) {
				s.failures.Allow(addr)
				return unauthorized(w, "the API key is malformed, unknown or revoked")
			}
			if err != nil {
				return err
			}
		}
		if s.limiter != nil {
			if ok, wait := s.limiter.Allow(p.KeyID); !ok {
				return tooManyRequests(w, wait, fmt.Sprintf("API key %s made too many requests; slow down", p.KeyID))
			}
		}
		if scope != anyScope && !p.Allows(scope) {
			return newProblem(http.StatusForbidden, ProblemForbidden,
				fmt.Sprintf("API key %s lacks the scope %s that this route requires", p.KeyID, scope),
				FieldError{Field: "Authorization", Detail: "needs a key with scope " + string(scope)})
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), principalKey, p)))
	})
}

func unauthorized(w http.ResponseWriter, detail string) error {
	w.Header().Set("WWW-Authenticate", `Bearer realm="flask"`)
	return newProblem(http.StatusUnauthorized, ProblemUnauthorized, detail,
		FieldError{Field: "Authorization", Detail: "must be Bearer and a valid API key"})
}

func tooManyRequests(w http.ResponseWriter, wait time.Duration, detail string) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return newProblem(http.StatusTooManyRequests, ProblemRateLimited, fmt.Sprintf("%s (retry after %ds)", detail, secs))
}

// quota enforces the cap on a tenant's waiting jobs. It reads the count
// from the store at most every refresh per tenant and adds this process's
// own inserts in between: cheap, and approximate across API replicas.
type quota struct {
	max     int
	refresh time.Duration
	count   func(ctx context.Context, tenant string) (int, error)
	now     func() time.Time

	mu      sync.Mutex
	tenants map[string]*tenantCount
}

type tenantCount struct {
	n  int
	at time.Time
}

func newQuota(max int, refresh time.Duration, count func(context.Context, string) (int, error), now func() time.Time) *quota {
	return &quota{max: max, refresh: refresh, count: count, now: now, tenants: map[string]*tenantCount{}}
}

// admit reserves room for n more jobs of tenant, or returns how many wait.
func (q *quota) admit(ctx context.Context, tenant string, n int) (bool, int, error) {
	now := q.now()
	q.mu.Lock()
	tc, ok := q.tenants[tenant]
	stale := !ok || now.Sub(tc.at) >= q.refresh || now.Before(tc.at)
	q.mu.Unlock()
	if stale {
		c, err := q.count(ctx, tenant)
		if err != nil {
			return false, 0, fmt.Errorf("count waiting jobs of tenant %s: %w", tenant, err)
		}
		q.mu.Lock()
		if len(q.tenants) > 100000 { // bounded: tenants are few; drop all if not
			clear(q.tenants)
		}
		tc = &tenantCount{n: c, at: now}
		q.tenants[tenant] = tc
		q.mu.Unlock()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if tc.n+n > q.max {
		return false, tc.n, nil
	}
	tc.n += n
	return true, tc.n, nil
}

// cors answers the preflight requests of the configured origins and lets
// their pages read the API's responses. Without origins it does nothing,
// and browsers keep other sites' pages from reading the API.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if origin == "" || !slices.Contains(s.cfg.CORSOrigins, origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Location, Retry-After, X-Request-Id")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Idempotency-Key, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validOrigin checks an origin of CORSOrigins: scheme://host[:port].
func validOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("CORS origin %q must be scheme://host[:port], such as https://app.example.com", o)
	}
	return nil
}
