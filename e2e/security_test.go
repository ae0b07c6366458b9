package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/api/auth"
	"github.com/flaskhq/flask/job"
)

// adminKey is the admin key of every environment: flask-api makes it from
// FLASK_BOOTSTRAP_API_KEY, flaskctl sends it as FLASK_API_KEY and request
// sends it unless a test sets another Authorization.
var adminKey = func() string {
	k, err := auth.NewKey()
	if err != nil {
		panic(err)
	}
	return k.Token()
}()

// bearer is the Authorization header of a key.
func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

// createKey makes a key with flaskctl and returns it.
func (e *env) createKey(t *testing.T, api *proc, tenant, scopes string) string {
	t.Helper()
	out, err := e.ctl("keys", "create", "--api", api.url(), "--tenant", tenant, "--scopes", scopes)
	require.NoError(t, err, out)
	m := regexp.MustCompile(`flask_[a-z2-7]{16}_[a-z2-7]{52}`).FindString(out)
	require.NotEmpty(t, m, "flaskctl keys create prints the key: %s", out)
	return m
}

// TestCrossTenantIsolation runs the built binaries with two tenants' keys:
// neither sees, lists, counts, cancels or retries the other's jobs, while
// an admin key sees both; and every request without a valid key is refused.
func TestCrossTenantIsolation(t *testing.T) {
	e := newEnv(t)
	api := e.start("flask-api")
	acme := e.createKey(t, api, "acme", "jobs:submit,jobs:read,jobs:manage")
	globex := e.createKey(t, api, "globex", "jobs:submit,jobs:read,jobs:manage")

	var aj, gj job.Job
	code, _ := request(t, http.MethodPost, api.url()+"/v1/jobs", `{"type":"demo.echo","queue":"acme-q","run_at":"2999-01-01T00:00:00Z","idempotency_key":"order-1"}`, bearer(acme), &aj)
	require.Equal(t, http.StatusCreated, code)
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs", `{"type":"demo.echo","queue":"globex-q","run_at":"2999-01-01T00:00:00Z","idempotency_key":"order-1"}`, bearer(globex), &gj)
	require.Equal(t, http.StatusCreated, code, "the same idempotency key in another tenant is another job")
	require.NotEqual(t, aj.ID, gj.ID)

	for _, path := range []string{"/v1/jobs/" + aj.ID, "/v1/jobs/" + aj.ID + "/cancel", "/v1/jobs/" + aj.ID + "/retry"} {
		method := http.MethodPost
		if !strings.HasSuffix(path, "cancel") && !strings.HasSuffix(path, "retry") {
			method = http.MethodGet
		}
		code, _ := request(t, method, api.url()+path, nil, bearer(globex), nil)
		require.Equal(t, http.StatusNotFound, code, "%s %s by another tenant", method, path)
	}
	require.Equal(t, job.StateScheduled, get(t, api.url(), aj.ID).State, "another tenant's cancel changed nothing")

	var page struct {
		Jobs []job.Job `json:"jobs"`
	}
	code, _ = request(t, http.MethodGet, api.url()+"/v1/jobs", nil, bearer(globex), &page)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, page.Jobs, 1)
	require.Equal(t, gj.ID, page.Jobs[0].ID, "a list holds the tenant's own jobs only")
	var queues struct {
		Queues []struct {
			Queue string `json:"queue"`
		} `json:"queues"`
	}
	code, _ = request(t, http.MethodGet, api.url()+"/v1/queues", nil, bearer(globex), &queues)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, queues.Queues, 1)
	require.Equal(t, "globex-q", queues.Queues[0].Queue, "queue stats are per tenant")
	code, _ = request(t, http.MethodGet, api.url()+"/v1/queues", nil, nil, &queues)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, queues.Queues, 2, "the admin key sees every tenant's queues")

	require.Len(t, listAll(t, api.url(), ""), 2, "the admin key lists every tenant's jobs")
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs/"+aj.ID+"/cancel", nil, bearer(acme), nil)
	require.Equal(t, http.StatusOK, code, "the owner may cancel")

	for name, hdr := range map[string]map[string]string{
		"no key":       {"Authorization": ""},
		"garbage":      {"Authorization": "Bearer nope"},
		"basic":        {"Authorization": "Basic " + adminKey},
		"unknown key":  bearer(strings.Replace(adminKey, adminKey[6:10], "zzzz", 1)),
		"wrong secret": bearer(adminKey[:len(adminKey)-4] + "aaaa"),
	} {
		code, _ := request(t, http.MethodGet, api.url()+"/v1/jobs", nil, hdr, nil)
		require.Equal(t, http.StatusUnauthorized, code, name)
	}
	code, _ = request(t, http.MethodGet, api.url()+"/healthz", nil, map[string]string{"Authorization": ""}, nil)
	require.Equal(t, http.StatusOK, code, "probes stay open")
	code, _ = request(t, http.MethodGet, api.url()+"/metrics", nil, nil, nil)
	require.Equal(t, http.StatusNotFound, code, "metrics are not on the API's address")

	// A key revoked through the API stops at once on this replica.
	out, err := e.ctl("keys", "revoke", "--api", api.url(), keyID(t, globex))
	require.NoError(t, err, out)
	code, _ = request(t, http.MethodGet, api.url()+"/v1/jobs", nil, bearer(globex), nil)
	require.Equal(t, http.StatusUnauthorized, code)
}

func keyID(t *testing.T, token string) string {
	t.Helper()
	k, err := auth.ParseKey(token)
	require.NoError(t, err)
	return k.ID
}

// TestAuditAndSecretsInLogs plants secrets — the bootstrap key, the
// database password and the http signing secret — runs the binaries, makes
// keys, cancels and retries, and then reads every captured log line: the
// audit lines are there with the key ids, and no secret is anywhere.
func TestAuditAndSecretsInLogs(t *testing.T) {
	const dbPassword = "PlantedDbPassw0rd"
	const signing = "PlantedSigningSecret42"
	e := newEnv(t)
	// The test cluster trusts local connections, so any password works:
	// it is there only to be looked for in the logs.
	for i, kv := range e.common {
		if strings.HasPrefix(kv, "FLASK_DATABASE_URL=postgres://postgres@") {
			e.common[i] = strings.Replace(kv, "postgres://postgres@", "postgres://postgres:"+dbPassword+"@", 1)
		}
	}
	routes := []string{"FLASK_HTTP_ROUTES=hook.call=http://127.0.0.1:9/hook", "FLASK_HTTP_SIGNING_SECRET=" + signing,
		"FLASK_LOG_LEVEL=debug"}
	api := e.start("flask-api", routes...)
	worker := e.start("flask-worker", routes...)

	tenantKey := e.createKey(t, api, "acme", "jobs:submit,jobs:manage,jobs:read")
	var j job.Job
	code, _ := request(t, http.MethodPost, api.url()+"/v1/jobs", `{"type":"demo.fail","payload":{"times":100},"max_attempts":1}`, bearer(tenantKey), &j)
	require.Equal(t, http.StatusCreated, code)
	waitState(t, api.url(), j.ID, job.StateFailed, 20*time.Second)
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs/"+j.ID+"/retry", nil, bearer(tenantKey), nil)
	require.Equal(t, http.StatusOK, code)
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs/"+j.ID+"/cancel", nil, bearer(tenantKey), nil)
	require.Contains(t, []int{http.StatusOK, http.StatusConflict}, code)
	// Failed authentications with the secrets in odd places.
	for _, hdr := range []string{"Bearer " + adminKey + "x", "Bearer " + dbPassword, adminKey} {
		request(t, http.MethodGet, api.url()+"/v1/jobs", nil, map[string]string{"Authorization": hdr}, nil)
	}
	out, err := e.ctl("keys", "revoke", "--api", api.url(), keyID(t, tenantKey))
	require.NoError(t, err, out)

	require.NoError(t, api.stop(t, 20*time.Second))
	require.NoError(t, worker.stop(t, 20*time.Second))
	logs := api.log.String() + worker.log.String()
	admin, err := auth.ParseKey(adminKey)
	require.NoError(t, err)
	tenant, err := auth.ParseKey(tenantKey)
	require.NoError(t, err)
	for name, secret := range map[string]string{
		"bootstrap key secret": admin.Secret, "tenant key secret": tenant.Secret,
		"database password": dbPassword, "signing secret": signing,
	} {
		require.NotContains(t, logs, secret, "the %s appears in a log", name)
	}
	for _, want := range []string{
		fmt.Sprintf(`msg="bootstrap API key created" audit=true key_id=%s`, admin.ID),
		`msg="api key created" audit=true`,
		`msg="api key revoked" audit=true`,
		`msg="job retried" audit=true`,
		"actor_key_id=" + tenant.ID,
		"key_id=" + tenant.ID,
	} {
		require.Contains(t, api.log.String(), want)
	}
}

// TestRateLimitAndQuota runs flask-api with a small rate limit and a small
// cap on waiting jobs: past them it answers 429 with a problem document.
func TestRateLimitAndQuota(t *testing.T) {
	e := newEnv(t)
	api := e.start("flask-api", "FLASK_RATE_LIMIT=0.001", "FLASK_RATE_BURST=3", "FLASK_TENANT_MAX_QUEUED=2")
	sub := e.createKey(t, api, "acme", "jobs:submit")
	body := `{"type":"demo.echo","run_at":"2999-01-01T00:00:00Z"}`
	codes := []int{}
	for range 4 {
		code, hdr := request(t, http.MethodPost, api.url()+"/v1/jobs", body, bearer(sub), nil)
		codes = append(codes, code)
		if code == http.StatusTooManyRequests && len(codes) == 4 {
			require.NotEmpty(t, hdr.Get("Retry-After"))
		}
	}
	require.Equal(t, []int{201, 201, 429, 429}, codes, "two fit under the cap; the third is refused by the cap, the fourth by the rate limit")
}
