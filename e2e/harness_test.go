package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	natsbroker "github.com/flaskhq/flask/events/nats"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/store/storetest"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flask-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/flask-api", "../cmd/flask-worker", "../cmd/flaskctl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	storetest.ClosePostgres()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one isolated Flask deployment: its own database and NATS server.
type env struct {
	t      *testing.T
	dbURL  string
	nats   *server.Server
	common []string
}

func newEnv(t *testing.T, extra ...string) *env {
	t.Helper()
	dbURL := storetest.PostgresDB(t)
	ns, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: -1},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	e := &env{t: t, dbURL: dbURL, nats: ns}
	e.common = append([]string{
		"FLASK_DATABASE_URL=" + e.dbURL,
		"FLASK_NATS_URL=" + ns.ClientURL(),
		"FLASK_LOG_FORMAT=text",
		"FLASK_LOG_LEVEL=info",
	}, extra...)
	out, err := e.ctl("migrate")
	require.NoError(t, err, out)
	return e
}

// ctl runs flaskctl with the environment's settings.
func (e *env) ctl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "flaskctl"), args...)
	cmd.Env = append(os.Environ(), e.common...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// proc is a running Flask binary.
type proc struct {
	cmd  *exec.Cmd
	addr string
	log  *bytes.Buffer
	done chan error
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// start runs a binary with the environment's settings plus extra, waits for
// its /readyz, and kills it at the end of the test.
func (e *env) start(bin string, extra ...string) *proc {
	e.t.Helper()
	addr := freePort(e.t)
	p := &proc{addr: addr, log: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(binDir, bin))
	p.cmd.Env = append(append(append(os.Environ(), e.common...), "FLASK_HTTP_ADDR="+addr), extra...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	require.NoError(e.t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	e.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() {
			e.t.Logf("--- %s log:\n%s", bin, p.log.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.done:
			e.t.Fatalf("%s exited before it was ready: %v\n%s", bin, err, p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s not ready after 15s:\n%s", bin, p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) url() string { return "http://" + p.addr }

// kill sends SIGKILL and waits for the process to go.
func (p *proc) kill(t *testing.T) {
	require.NoError(t, p.cmd.Process.Kill())
	<-p.done
}

// stop sends SIGTERM and returns the exit error once it is gone.
func (p *proc) stop(t *testing.T, within time.Duration) error {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		return err
	case <-time.After(within):
		t.Fatalf("process did not exit within %s after SIGTERM", within)
		return nil
	}
}

// request sends a JSON request and decodes the JSON answer into out (if not nil).
func request(t *testing.T, method, u string, body any, hdr map[string]string, out any) (int, http.Header) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, r)
	require.NoError(t, err)
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode, resp.Header
}

func submit(t *testing.T, api string, body any) job.Job {
	t.Helper()
	var j job.Job
	code, _ := request(t, http.MethodPost, api+"/v1/jobs", body, nil, &j)
	require.Equal(t, http.StatusCreated, code)
	return j
}

func get(t *testing.T, api, id string) job.Job {
	t.Helper()
	var j job.Job
	code, _ := request(t, http.MethodGet, api+"/v1/jobs/"+id, nil, nil, &j)
	require.Equal(t, http.StatusOK, code)
	return j
}

// waitState polls a job until it reaches want, failing on another terminal state.
func waitState(t *testing.T, api, id string, want job.State, within time.Duration) job.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := get(t, api, id)
		if j.State == want {
			return j
		}
		if j.State.Terminal() && j.State != want {
			t.Fatalf("job %s reached %s, want %s: %+v", id, j.State, want, j)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %s, want %s", id, j.State, within, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// run runs a binary to completion with extra settings and returns its output.
func (e *env) run(bin string, extra ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, bin))
	cmd.Env = append(append(append(os.Environ(), e.common...), "FLASK_HTTP_ADDR="+freePort(e.t)), extra...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		e.t.Fatalf("%s did not exit", bin)
	}
	return string(out), err
}
