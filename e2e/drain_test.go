package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
)

// drain runs `flask-worker drain` against the worker listening on addr, as
// the pod's preStop hook does.
func (e *env) drain(addr string, extra ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "flask-worker"), "drain")
	cmd.Env = append(append(append(os.Environ(), e.common...), "FLASK_HTTP_ADDR="+addr), extra...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDrainCommand is the preStop path: `flask-worker drain` returns once the
// running job finished, and the worker then exits by itself, cleanly.
func TestDrainCommand(t *testing.T) {
	e := newEnv(t)
	api := e.start("flask-api")
	w := e.start("flask-worker", "FLASK_SHUTDOWN_GRACE=10s")
	j := submit(t, api.url(), map[string]any{"type": "demo.sleep", "payload": map[string]int{"ms": 800}})
	waitState(t, api.url(), j.ID, job.StateRunning, 10*time.Second)

	out, err := e.drain(w.addr, "FLASK_SHUTDOWN_GRACE=10s")
	require.NoError(t, err, out)
	require.Contains(t, out, "drained")
	require.Equal(t, job.StateSucceeded, get(t, api.url(), j.ID).State, "drain returns after the in-flight job finished")
	select {
	case err := <-w.done:
		require.NoError(t, err, "a drained worker exits 0")
	case <-time.After(10 * time.Second):
		t.Fatal("worker still running after drain")
	}

	// Nothing listens any more: the command fails with one line.
	out, err = e.drain(w.addr)
	require.Error(t, err)
	require.Regexp(t, `^flask-worker: drain worker at http://127\.0\.0\.1:\d+/drain: .+\n$`, out)

	out, err = e.drain(w.addr, "FLASK_HTTP_ADDR=nonsense")
	require.Error(t, err)
	require.Equal(t, "flask-worker: FLASK_HTTP_ADDR=\"nonsense\": want host:port or :port\n", out)
}
