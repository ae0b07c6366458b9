package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzSubmitDecode feeds arbitrary bodies and Idempotency-Key headers to
// POST /v1/jobs and POST /v1/jobs/batch: the server must not panic, must
// answer 2xx or 4xx, and must answer JSON.
//
//	go test ./api -run '^$' -fuzz FuzzSubmitDecode -fuzztime 60s
func FuzzSubmitDecode(f *testing.F) {
	seeds := []struct {
		body, key string
		batch     bool
	}{
		{`{"type":"email.send"}`, "", false},
		{`{"type":"email.send","queue":"mail","payload":{"a":[1,2,{"b":null}]},"max_attempts":3,"timeout":"1m","run_at":"2026-11-26T10:00:00Z","idempotency_key":"k"}`, "k", false},
		{`{"type":"email.send","payload":"\ud83d\ude00 \ud800"}`, "", false},
		{`{"type":"report.build","max_attempts":1e400}`, `"quoted\"key"`, false},
		{`{"TYPE":"x","type":null}`, "", false},
		{"{\"type\":\"\xff\"}", "\x00", false},
		{`{"type":"email.send"}  trailing`, "", false},
		{`[]`, "", false},
		{``, "", false},
		{`{"jobs":[{"type":"email.send"},{"type":"nope","payload":[]},7]}`, "", true},
		{`{"jobs":null}`, "k", true},
	}
	for _, s := range seeds {
		f.Add(s.body, s.key, s.batch)
	}
	h := newHarness(f, Config{MaxBatch: 8, MaxPayloadBytes: 512, MaxBodyBytes: 4096, MaxBatchBodyBytes: 8192})
	h.noCheck = true
	f.Fuzz(func(t *testing.T, body, key string, batch bool) {
		path := "/v1/jobs"
		if batch {
			path = "/v1/jobs/batch"
		}
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+h.admin)
		if key != "" && !strings.ContainsAny(key, "\r\n") {
			r.Header.Set(IdempotencyKeyHeader, key)
		}
		w := httptest.NewRecorder()
		h.srv.ServeHTTP(w, r)
		if w.Code < 200 || w.Code >= 500 || (w.Code >= 300 && w.Code < 400) {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.String())
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("the answer is not JSON: %q", w.Body.String())
		}
		if w.Code >= 400 {
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != w.Code || p.Detail == "" {
				t.Fatalf("not a problem document: %s", w.Body.String())
			}
		}
	})
}
