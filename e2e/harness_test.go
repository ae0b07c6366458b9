package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events/eventstest"
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

// The brokers an environment can run on.
const (
	brokerNATS = "nats"
	brokerSQS  = "sqs"
)

// brokers lists both, for the tests whose behaviour depends on the broker.
var brokers = []string{brokerNATS, brokerSQS}

// env is one isolated Flask deployment: its own database and broker (an
// embedded NATS server, or its own queues on the SQS emulator that
// scripts/with-sqs.sh started).
type env struct {
	t      *testing.T
	broker string
	dbURL  string
	common []string
}

// newEnv is a deployment on NATS.
func newEnv(t *testing.T, extra ...string) *env {
	t.Helper()
	return newEnvOn(t, brokerNATS, extra...)
}

// newEnvOn is a deployment on broker, with extra settings for every binary.
func newEnvOn(t *testing.T, broker string, extra ...string) *env {
	t.Helper()
	dbURL := storetest.PostgresDB(t)
	e := &env{t: t, broker: broker, dbURL: dbURL}
	e.common = []string{
		"FLASK_DATABASE_URL=" + e.dbURL,
		"FLASK_LOG_FORMAT=text",
		"FLASK_LOG_LEVEL=info",
		// Every request of the tests authenticates: flask-api makes this
		// admin key at start-up, flaskctl and request send it.
		"FLASK_BOOTSTRAP_API_KEY=" + adminKey,
		"FLASK_API_KEY=" + adminKey,
		// flask-api's metrics listener; flask-worker ignores it.
		"FLASK_METRICS_ADDR=127.0.0.1:0",
		// The load tests submit from one key faster than the default limit;
		// TestRateLimitAndQuota sets its own.
		"FLASK_RATE_LIMIT=-1",
	}
	switch broker {
	case brokerNATS:
		ns, err := natsbroker.RunEmbedded(natsbroker.EmbeddedConfig{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: -1},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.NoError(t, err)
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		e.common = append(e.common, "FLASK_NATS_URL="+ns.ClientURL())
	case brokerSQS:
		var b [5]byte
		_, err := rand.Read(b[:])
		require.NoError(t, err)
		e.common = append(e.common,
			"FLASK_BROKER=sqs",
			"FLASK_SQS_ENDPOINT="+eventstest.SQSEndpoint(t),
			"FLASK_SQS_QUEUE_PREFIX=e2e"+hex.EncodeToString(b[:]),
			"FLASK_SQS_CREATE_QUEUES=true",
			"AWS_REGION=us-east-1",
			// The emulator takes any credentials; the binaries read them
			// through the AWS SDK's default chain, as in production.
			"AWS_ACCESS_KEY_ID=test",
			"AWS_SECRET_ACCESS_KEY=test",
		)
	default:
		t.Fatalf("unknown broker %q", broker)
	}
	e.common = append(e.common, extra...)
	out, err := e.ctl("migrate")
	require.NoError(t, err, out)
	return e
}

// ackWait is the setting of the broker's lease (AckWait) for d.
func ackWait(broker string, d time.Duration) string {
	if broker == brokerSQS {
		return "FLASK_SQS_VISIBILITY_TIMEOUT=" + d.String()
	}
	return "FLASK_NATS_ACK_WAIT=" + d.String()
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
	req.Header.Set("Authorization", "Bearer "+adminKey)
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
