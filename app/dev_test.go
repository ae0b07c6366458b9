package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
)

// freeAddr returns a 127.0.0.1 address with a port free at the time of asking.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// authed sends a request with the API key.
func authed(t *testing.T, method, url, key string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func postJob(t *testing.T, base, key, body string) job.Job {
	t.Helper()
	resp := authed(t, http.MethodPost, base+"/v1/jobs", key, bytes.NewBufferString(body))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, string(b))
	var j job.Job
	require.NoError(t, json.Unmarshal(b, &j))
	return j
}

func getJob(t *testing.T, base, key, id string) job.Job {
	t.Helper()
	resp := authed(t, http.MethodGet, base+"/v1/jobs/"+id, key, nil)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var j job.Job
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&j))
	return j
}

// TestDevModeRunsJobsAndKeepsData runs the whole platform in one process,
// runs a job and a failing-then-succeeding job, restarts, and finds the data.
func TestDevModeRunsJobsAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	start := func() (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- RunDev(ctx, DevConfig{Addr: addr, DataDir: dir, Out: io.Discard}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
		require.Eventually(t, func() bool {
			resp, err := http.Get(base + "/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}, 10*time.Second, 20*time.Millisecond)
		return cancel, done
	}
	cancel, done := start()
	keyBytes, err := os.ReadFile(filepath.Join(dir, DevAPIKeyFile))
	require.NoError(t, err, "dev mode keeps its admin key in the data directory")
	key := strings.TrimSpace(string(keyBytes))
	resp := authed(t, http.MethodGet, base+"/v1/jobs", "flask_wrong", nil)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "dev mode requires a key too")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(base + "/jobs")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "the dashboard asks to sign in")
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login"))
	echo := postJob(t, base, key, `{"type":"demo.echo","payload":{"hello":"world"}}`)
	flaky := postJob(t, base, key, `{"type":"demo.fail","payload":{"times":1}}`)
	require.Eventually(t, func() bool { return getJob(t, base, key, echo.ID).State == job.StateSucceeded }, 10*time.Second, 20*time.Millisecond)
	got := getJob(t, base, key, echo.ID)
	require.JSONEq(t, `{"hello":"world"}`, string(got.Result))
	require.Eventually(t, func() bool { return getJob(t, base, key, flaky.ID).State == job.StateSucceeded }, 15*time.Second, 50*time.Millisecond)
	got = getJob(t, base, key, flaky.ID)
	require.Equal(t, 2, got.Attempt)
	require.Len(t, got.Errors, 1)
	require.Equal(t, 1, got.Errors[0].Attempt)

	cancel()
	require.NoError(t, <-done)

	cancel, done = start()
	defer func() { cancel(); <-done }()
	require.Equal(t, job.StateSucceeded, getJob(t, base, key, echo.ID).State, "data must survive a restart")
}
