package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostileBodies sends the kinds of input an attacker tries, with the
// server's default limits: each is refused with a 4xx problem naming the
// body, never a 5xx, and nothing is stored.
func TestHostileBodies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	h.noCheck = true // some bodies are not even UTF-8; the statuses are checked here
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	for _, c := range []struct {
		name, path, body string
		status           int
	}{
		{"malformed", "/v1/jobs", `{"type":`, 400},
		{"deeply nested payload", "/v1/jobs", `{"type":"email.send","payload":` + deep + `}`, 400},
		{"deeply nested batch", "/v1/jobs/batch", `{"jobs":` + deep + `}`, 400},
		{"huge body", "/v1/jobs", `{"type":"email.send","payload":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, 413},
		{"huge payload", "/v1/jobs", `{"type":"email.send","payload":"` + strings.Repeat("x", DefaultMaxPayloadBytes) + `"}`, 413},
		{"batch too long", "/v1/jobs/batch", `{"jobs":[` + strings.Repeat(`{"type":"email.send"},`, DefaultMaxBatch) + `{"type":"email.send"}]}`, 400},
		{"invalid UTF-8", "/v1/jobs", "{\"type\":\"email.send\",\"payload\":\"\xc3\x28\"}", 400},
		{"invalid UTF-8 in a batch", "/v1/jobs/batch", "{\"jobs\":[{\"type\":\"email.send\",\"queue\":\"\xff\"}]}", 400},
		{"duplicate key", "/v1/jobs", `{"type":"email.send","type":"report.build"}`, 400},
		{"duplicate key in a batch job", "/v1/jobs/batch", `{"jobs":[{"type":"email.send","queue":"a","queue":"b"}]}`, 400},
		{"duplicate jobs member", "/v1/jobs/batch", `{"jobs":[{"type":"email.send"}],"jobs":[{"type":"email.send"}]}`, 400},
		{"NUL escape", "/v1/jobs", `{"type":"email.send","payload":"\u0000"}`, 400},
		{"lone surrogate", "/v1/jobs", `{"type":"email.send","payload":"\ud800"}`, 400},
		{"huge number", "/v1/jobs", `{"type":"email.send","max_attempts":1` + strings.Repeat("0", 1000) + `}`, 422},
		{"byte order mark", "/v1/jobs", "\xef\xbb\xbf{\"type\":\"email.send\"}", 400},
	} {
		w := h.do(request{method: http.MethodPost, path: c.path, body: c.body})
		require.Equal(t, c.status, w.Code, "%s: %.300s", c.name, w.Body.String())
		p := decodeProblem(t, w, c.status)
		require.NotEmpty(t, p.Errors, c.name)
	}
	require.Zero(t, h.store.Len(), "nothing hostile was stored")
}
