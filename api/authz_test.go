package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
)

// routeRule is what the authorization matrix expects of one route.
type routeRule struct {
	// open routes need no key at all.
	open bool
	// scope is the scope the route requires (anyScope: any valid key).
	scope auth.Scope
	// byID routes name one of the owner's jobs: another tenant gets 404.
	byID bool
	// lists answer another tenant 200 without the owner's jobs.
	lists bool
	// body is sent with POST.
	body string
	// ok is the status of the right key.
	ok int
}

// routeRules has one entry per route of the router. A route added without
// an entry fails TestAuthorizationMatrix.
var routeRules = map[string]routeRule{
	"GET /healthz":                 {open: true, ok: http.StatusOK},
	"GET /readyz":                  {open: true, ok: http.StatusOK},
	"GET /v1/openapi.yaml":         {scope: anyScope, ok: http.StatusOK},
	"POST /v1/jobs":                {scope: auth.ScopeSubmit, body: `{"type":"email.send"}`, ok: http.StatusCreated},
	"POST /v1/jobs/batch":          {scope: auth.ScopeSubmit, body: `{"jobs":[{"type":"email.send"}]}`, ok: http.StatusCreated},
	"GET /v1/jobs":                 {scope: auth.ScopeRead, lists: true, ok: http.StatusOK},
	"GET /v1/jobs/{id}":            {scope: auth.ScopeRead, byID: true, ok: http.StatusOK},
	"POST /v1/jobs/{id}/cancel":    {scope: auth.ScopeManage, byID: true, ok: http.StatusOK},
	"POST /v1/jobs/{id}/retry":     {scope: auth.ScopeManage, byID: true, ok: http.StatusOK},
	"GET /v1/queues":               {scope: auth.ScopeRead, lists: true, ok: http.StatusOK},
	"GET /v1/types":                {scope: auth.ScopeRead, ok: http.StatusOK},
	"GET /v1/workers":              {scope: auth.ScopeAdmin, ok: http.StatusOK},
	"GET /v1/stats/queues/{queue}": {scope: auth.ScopeStats, ok: http.StatusOK},
	"POST /v1/keys":                {scope: auth.ScopeAdmin, body: `{"name":"n","tenant":"acme","scopes":["jobs:read"]}`, ok: http.StatusCreated},
	"GET /v1/keys":                 {scope: auth.ScopeAdmin, ok: http.StatusOK},
	"POST /v1/keys/{keyID}/revoke": {scope: auth.ScopeAdmin, ok: http.StatusOK},
}

// matrixEnv is a server holding jobs of tenant acme: one queued (to
// cancel), one failed (to retry), and a spare key (to revoke).
type matrixEnv struct {
	h              *harness
	queued, failed job.Job
	spareKey       string
	ownerQueue     string
}

func newMatrixEnv(t *testing.T) *matrixEnv {
	h := newHarness(t, Config{})
	e := &matrixEnv{h: h, ownerQueue: "acme-only"}
	e.queued = job.Job{ID: "0190c1f0-0000-7000-8000-00000000000a", Queue: e.ownerQueue, Type: "email.send", State: job.StateQueued,
		MaxAttempts: 3, Timeout: job.Duration(time.Minute), RunAt: testNow, CreatedAt: testNow, Errors: []job.AttemptError{}}
	e.failed = e.queued
	e.failed.ID, e.failed.State = "0190c1f0-0000-7000-8000-00000000000b", job.StateFailed
	h.store.PutTenant("acme", e.queued)
	h.store.PutTenant("acme", e.failed)
	k, err := auth.ParseKey(h.store.AddKey("acme", auth.ScopeRead))
	require.NoError(t, err)
	e.spareKey = k.ID
	return e
}

// path fills a route pattern's parameters for the case.
func (e *matrixEnv) path(method, pattern string) string {
	id := e.queued.ID
	if strings.HasSuffix(pattern, "/retry") {
		id = e.failed.ID
	}
	p := strings.ReplaceAll(pattern, "{id}", id)
	p = strings.ReplaceAll(p, "{queue}", e.ownerQueue)
	return strings.ReplaceAll(p, "{keyID}", e.spareKey)
}

// keyWithout makes a key of tenant holding every scope but the admin scope
// and the one a route needs.
func keyWithout(h *harness, tenant string, scope auth.Scope) string {
	var scopes []auth.Scope
	for _, s := range []auth.Scope{auth.ScopeSubmit, auth.ScopeRead, auth.ScopeManage} {
		if s != scope {
			scopes = append(scopes, s)
		}
	}
	return h.store.AddKey(tenant, scopes...)
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	var routes []string
	err := chi.Walk(newHarness(t, Config{}).srv.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, routes, len(routeRules), "every route has a rule and every rule a route")

	for _, rt := range routes {
		rule, ok := routeRules[rt]
		require.True(t, ok, "route %s has no entry in routeRules: say which scope it needs and how tenants see it", rt)
		method, pattern, _ := strings.Cut(rt, " ")
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			send := func(e *matrixEnv, token string) *httptest.ResponseRecorder {
				hdr := map[string]string{"Authorization": ""}
				if token != "" {
					hdr["Authorization"] = "Bearer " + token
				}
				return e.h.do(request{method: method, path: e.path(method, pattern), body: rule.body, header: hdr})
			}

			t.Run("NoKey", func(t *testing.T) {
				e := newMatrixEnv(t)
				w := send(e, "")
				if rule.open {
					require.Equal(t, rule.ok, w.Code, w.Body.String())
					return
				}
				decodeProblem(t, w, http.StatusUnauthorized)
				require.Equal(t, `Bearer realm="flask"`, w.Header().Get("WWW-Authenticate"))
				w = send(e, "flask_aaaaaaaaaaaaaaaa_"+strings.Repeat("a", 52))
				decodeProblem(t, w, http.StatusUnauthorized)
			})

			t.Run("WrongScope", func(t *testing.T) {
				if rule.open || rule.scope == anyScope {
					t.Skip("no scope to lack: any valid key is admitted")
				}
				e := newMatrixEnv(t)
				p := decodeProblem(t, send(e, keyWithout(e.h, "acme", rule.scope)), http.StatusForbidden)
				require.Contains(t, p.Detail, string(rule.scope))
			})

			t.Run("OtherTenant", func(t *testing.T) {
				if rule.open {
					t.Skip("open route")
				}
				e := newMatrixEnv(t)
				scope := rule.scope
				if scope == anyScope {
					scope = auth.ScopeRead
				}
				w := send(e, e.h.store.AddKey("globex", scope))
				switch {
				case rule.byID:
					decodeProblem(t, w, http.StatusNotFound)
					got, err := e.h.store.GetJob(t.Context(), e.queued.ID)
					require.NoError(t, err)
					require.Equal(t, job.StateQueued, got.State, "another tenant changed nothing")
					got, err = e.h.store.GetJob(t.Context(), e.failed.ID)
					require.NoError(t, err)
					require.Equal(t, job.StateFailed, got.State, "another tenant changed nothing")
				case rule.lists:
					require.Equal(t, rule.ok, w.Code, w.Body.String())
					for _, leak := range []string{e.queued.ID, e.failed.ID, e.ownerQueue} {
						require.NotContains(t, w.Body.String(), leak, "another tenant's jobs are invisible")
					}
				default:
					// Admin routes are the admin's whatever its tenant;
					// submissions land in the caller's own tenant.
					require.Equal(t, rule.ok, w.Code, w.Body.String())
					if rule.scope == auth.ScopeSubmit {
						var body struct {
							ID   string    `json:"id"`
							Jobs []job.Job `json:"jobs"`
						}
						require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
						id := body.ID
						if id == "" {
							id = body.Jobs[0].ID
						}
						require.Equal(t, "globex", e.h.store.TenantOf(id))
					}
				}
			})

			t.Run("RightKey", func(t *testing.T) {
				e := newMatrixEnv(t)
				if rule.open {
					t.Skip("open route")
				}
				scope := rule.scope
				if scope == anyScope {
					scope = auth.ScopeRead
				}
				w := send(e, e.h.store.AddKey("acme", scope))
				require.Equal(t, rule.ok, w.Code, w.Body.String())
				if rule.lists {
					require.Contains(t, w.Body.String(), e.ownerQueue, "the owner sees its jobs")
				}
			})

			t.Run("AdminOfAnotherTenant", func(t *testing.T) {
				if rule.open {
					t.Skip("open route")
				}
				e := newMatrixEnv(t)
				w := send(e, e.h.store.AddKey("globex", auth.ScopeAdmin))
				require.Equal(t, rule.ok, w.Code, "admin keys see every tenant: %s", w.Body.String())
				if rule.lists {
					require.Contains(t, w.Body.String(), e.ownerQueue)
				}
			})
		})
	}
}

func TestPrincipalFromContext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	k, err := auth.ParseKey(h.store.AddKey("acme", auth.ScopeRead))
	require.NoError(t, err)
	p := auth.Principal{KeyID: k.ID, Tenant: "acme", Scopes: []auth.Scope{auth.ScopeRead}}
	serve := func(authz string) int {
		r := httptest.NewRequest(http.MethodGet, "/v1/jobs", nil)
		r = r.WithContext(auth.NewContext(r.Context(), p))
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, r)
		return w.Code
	}
	require.Equal(t, http.StatusOK, serve(""), "a principal from the dashboard's session")
	require.Equal(t, http.StatusUnauthorized, serve("Bearer nope"), "an Authorization header is always what counts")
	r := httptest.NewRequest(http.MethodPost, "/v1/jobs/batch", strings.NewReader(`{"jobs":[{"type":"email.send"}]}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, r.WithContext(auth.NewContext(r.Context(), p)))
	require.Equal(t, http.StatusForbidden, w.Code, "the principal's scopes still apply")
}

func TestRevokedKeyStopsAtOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	token := h.store.AddKey("acme", auth.ScopeRead)
	k, err := auth.ParseKey(token)
	require.NoError(t, err)
	read := func() int {
		return h.do(request{method: http.MethodGet, path: "/v1/jobs", header: map[string]string{"Authorization": "Bearer " + token}}).Code
	}
	require.Equal(t, http.StatusOK, read())
	w := h.post("/v1/keys/"+k.ID+"/revoke", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Equal(t, http.StatusUnauthorized, read(), "revoked through this server: no cache delay")
	decodeProblem(t, h.post("/v1/keys/"+strings.Repeat("z", 16)+"/revoke", ""), http.StatusNotFound)
	decodeProblem(t, h.post("/v1/keys/not-a-key-id/revoke", ""), http.StatusNotFound)
}

func TestKeyRoutes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := h.post("/v1/keys", `{"name":"billing","tenant":"acme","scopes":["jobs:submit","jobs:read"]}`)
	require.Equal(t, http.StatusCreated, w.Code, w.Body.String())
	var created NewKeyView
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &created))
	require.Equal(t, "acme", created.Tenant)
	require.Equal(t, []string{"jobs:submit", "jobs:read"}, created.Scopes)
	k, err := auth.ParseKey(created.Key)
	require.NoError(t, err)
	require.Equal(t, created.ID, k.ID)
	require.Equal(t, "/v1/keys/"+k.ID, w.Header().Get("Location"))

	// The new key works, for its tenant.
	sub := h.do(request{method: http.MethodPost, path: "/v1/jobs", body: `{"type":"email.send"}`,
		header: map[string]string{"Authorization": "Bearer " + created.Key}})
	require.Equal(t, http.StatusCreated, sub.Code, sub.Body.String())
	require.Equal(t, "acme", h.store.TenantOf(decodeJob(t, sub).ID))

	list := h.get("/v1/keys?tenant=acme")
	require.Equal(t, http.StatusOK, list.Code)
	require.Contains(t, list.Body.String(), k.ID)
	require.NotContains(t, list.Body.String(), k.Secret, "a list never shows a secret")
	all := h.get("/v1/keys")
	require.Contains(t, all.Body.String(), `"tenant":"default"`, "the admin's own key is listed too")

	for body, field := range map[string]string{
		`{"name":"x","tenant":"Bad Tenant","scopes":["jobs:read"]}`: "tenant",
		`{"name":"x","tenant":"","scopes":["jobs:read"]}`:           "tenant",
		`{"name":"x","tenant":"acme","scopes":["root"]}`:            "scopes",
		`{"name":"x","tenant":"acme","scopes":[]}`:                  "scopes",
		`{"name":"x","tenant":"acme"}`:                              "scopes",
		`{"name":"x","tenant":"acme","scopes":["admin"],"x":1}`:     "x",
		`{"tenant":"acme","scopes":["admin"]}`:                      "name",
	} {
		w := h.post("/v1/keys", body)
		require.GreaterOrEqual(t, w.Code, 400, body)
		require.Less(t, w.Code, 500, body)
		require.Contains(t, decodeProblem(t, w, w.Code).fields(), field, body)
	}
	decodeProblem(t, h.get("/v1/keys?tenant=NO"), http.StatusBadRequest)

	// The audit trail names the keys, never their secrets.
	logs := h.logs.String()
	require.Contains(t, logs, `"msg":"api key created"`)
	require.Contains(t, logs, `"key_id":"`+k.ID+`"`)
	admin, err := auth.ParseKey(h.admin)
	require.NoError(t, err)
	require.Contains(t, logs, `"actor_key_id":"`+admin.ID+`"`)
	require.NotContains(t, logs, k.Secret)
	require.NotContains(t, logs, admin.Secret)
}

func TestAuditCancelAndRetry(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)
	token := e.h.store.AddKey("acme", auth.ScopeManage)
	k, _ := auth.ParseKey(token)
	hdr := map[string]string{"Authorization": "Bearer " + token}
	require.Equal(t, http.StatusOK, e.h.do(request{method: http.MethodPost, path: "/v1/jobs/" + e.queued.ID + "/cancel", header: hdr}).Code)
	require.Equal(t, http.StatusOK, e.h.do(request{method: http.MethodPost, path: "/v1/jobs/" + e.failed.ID + "/retry", header: hdr}).Code)
	var audits []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.h.logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m))
		if m["audit"] == true {
			audits = append(audits, m)
		}
	}
	require.Len(t, audits, 2)
	require.Equal(t, "job cancelled", audits[0]["msg"])
	require.Equal(t, e.queued.ID, audits[0]["job_id"])
	require.Equal(t, "job retried", audits[1]["msg"])
	for _, a := range audits {
		require.Equal(t, k.ID, a["actor_key_id"])
		require.Equal(t, "acme", a["actor_tenant"])
	}
	require.NotContains(t, e.h.logs.String(), k.Secret)
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{RateLimit: 1, RateBurst: 2}) // the clock stands still: no refill
	a, b := h.store.AddKey("acme", auth.ScopeRead), h.store.AddKey("acme", auth.ScopeRead)
	get := func(token string) *httptest.ResponseRecorder {
		return h.do(request{method: http.MethodGet, path: "/v1/types", header: map[string]string{"Authorization": "Bearer " + token}})
	}
	require.Equal(t, http.StatusOK, get(a).Code)
	require.Equal(t, http.StatusOK, get(a).Code)
	w := get(a)
	p := decodeProblem(t, w, http.StatusTooManyRequests)
	require.Equal(t, ProblemRateLimited, p.Type)
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.Equal(t, http.StatusOK, get(b).Code, "another key has its own bucket")
}

func TestAuthFailuresAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{AuthFailureRate: 1, AuthFailureBurst: 3})
	bad := map[string]string{"Authorization": "Bearer flask_nope"}
	for range 3 {
		decodeProblem(t, h.do(request{method: http.MethodGet, path: "/v1/jobs", header: bad}), http.StatusUnauthorized)
	}
	w := h.do(request{method: http.MethodGet, path: "/v1/jobs", header: bad})
	decodeProblem(t, w, http.StatusTooManyRequests)
	require.NotEmpty(t, w.Header().Get("Retry-After"))
	w = h.get("/v1/jobs")
	require.Equal(t, http.StatusTooManyRequests, w.Code, "the address waits, even with a good key, until its failures age")
}

func TestTenantQueuedCap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{TenantMaxQueued: 2})
	acme, globex := h.store.AddKey("acme", auth.ScopeSubmit), h.store.AddKey("globex", auth.ScopeSubmit)
	submit := func(token, path, body string) *httptest.ResponseRecorder {
		return h.do(request{method: http.MethodPost, path: path, body: body, header: map[string]string{"Authorization": "Bearer " + token}})
	}
	require.Equal(t, http.StatusCreated, submit(acme, "/v1/jobs", `{"type":"email.send"}`).Code)
	w := submit(acme, "/v1/jobs/batch", `{"jobs":[{"type":"email.send"},{"type":"email.send"}]}`)
	p := decodeProblem(t, w, http.StatusTooManyRequests)
	require.Equal(t, ProblemQuotaExceeded, p.Type)
	require.Contains(t, p.Detail, "acme")
	require.Equal(t, http.StatusCreated, submit(acme, "/v1/jobs", `{"type":"email.send"}`).Code)
	decodeProblem(t, submit(acme, "/v1/jobs", `{"type":"email.send"}`), http.StatusTooManyRequests)
	require.Equal(t, http.StatusCreated, submit(globex, "/v1/jobs", `{"type":"email.send"}`).Code, "other tenants are not held back")
	require.Equal(t, 3, h.store.Len())

	unlimited := newHarness(t, Config{TenantMaxQueued: -1})
	for range 5 {
		require.Equal(t, http.StatusCreated, unlimited.post("/v1/jobs", `{"type":"email.send"}`).Code)
	}
}

func TestQuotaRefreshesFromStore(t *testing.T) {
	t.Parallel()
	now := testNow
	count := 0
	calls := 0
	q := newQuota(3, time.Second, func(_ context.Context, tenant string) (int, error) { calls++; return count, nil },
		func() time.Time { return now })
	ok, _, err := q.admit(t.Context(), "acme", 3)
	require.NoError(t, err)
	require.True(t, ok)
	ok, n, err := q.admit(t.Context(), "acme", 1)
	require.NoError(t, err)
	require.False(t, ok, "this process's own inserts count until the next refresh")
	require.Equal(t, 3, n)
	require.Equal(t, 1, calls, "no store read within the refresh interval")
	count = 1 // the workers ran two of them
	now = now.Add(time.Second)
	ok, _, err = q.admit(t.Context(), "acme", 2)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 2, calls)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	preflight := func(h *harness, origin string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodOptions, "/v1/jobs", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, r)
		return w
	}
	off := newHarness(t, Config{})
	w := preflight(off, "https://app.example.com")
	require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"), "CORS is off by default")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	w = off.do(request{method: http.MethodGet, path: "/v1/types", header: map[string]string{"Origin": "https://app.example.com"}})
	require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))

	on := newHarness(t, Config{CORSOrigins: []string{"https://app.example.com"}})
	w = preflight(on, "https://app.example.com")
	require.Equal(t, http.StatusNoContent, w.Code)
	require.Equal(t, "https://app.example.com", w.Header().Get("Access-Control-Allow-Origin"))
	require.Contains(t, w.Header().Get("Access-Control-Allow-Headers"), "Authorization")
	require.Empty(t, w.Header().Get("Access-Control-Allow-Credentials"), "bearer keys, never cookies")
	w = preflight(on, "https://evil.example.com")
	require.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
	w = on.do(request{method: http.MethodGet, path: "/v1/types", header: map[string]string{"Origin": "https://app.example.com"}})
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "https://app.example.com", w.Header().Get("Access-Control-Allow-Origin"))

	_, err := New(Config{CORSOrigins: []string{"https://app.example.com/path"}}, Deps{Store: off.store, Catalog: testCatalog(t)})
	require.ErrorContains(t, err, "CORS origin")
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	for _, w := range []*httptest.ResponseRecorder{
		h.get("/healthz"),
		h.get("/v1/types"),
		h.do(request{method: http.MethodGet, path: "/v1/jobs", header: map[string]string{"Authorization": ""}}),
		h.get("/nowhere"),
	} {
		require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
		require.Contains(t, w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
		require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	}
}
