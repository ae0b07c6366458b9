package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// proc is a child process the driver started. It is stopped by PID, and
// dies with the driver (Pdeathsig) should the driver be killed outright.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // the exit error, set before done is closed
	stdin   io.WriteCloser
	stopped bool
}

// startProc starts path with args and env (on top of a minimal base
// environment), its output going to logPath.
func startProc(name, path string, args, env []string, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// baseEnv is the environment children inherit: enough to run, nothing of
// the caller's FLASK_* settings.
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PATH", "HOME", "TMPDIR", "GOMAXPROCS", "GOGC", "GOMEMLIMIT":
			out = append(out, kv)
		}
	}
	return out
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then SIGKILLs. It returns the exit
// error of a process that did not stop cleanly.
func (p *proc) stop(grace time.Duration) error {
	if p == nil || p.cmd.Process == nil || p.stopped {
		return nil
	}
	p.stopped = true
	t := time.NewTimer(grace)
	defer t.Stop()
	if p.stdin != nil {
		// Closing stdin asks it to stop; a signal is for one that does not.
		_ = p.stdin.Close()
		select {
		case <-p.done:
		case <-t.C:
			t.Reset(grace)
		}
	}
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s (pid %d) did not stop within %s and was killed", p.name, p.pid(), grace)
	}
	var ee *exec.ExitError
	if p.err != nil && !(errors.As(p.err, &ee) && ee.ExitCode() == 0) {
		return fmt.Errorf("%s (pid %d) exited: %w", p.name, p.pid(), p.err)
	}
	return nil
}

// logTail returns the last lines of the process's output, for errors.
func (p *proc) logTail(lines int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// freeAddr returns a free 127.0.0.1 port. Another process may take it
// before it is used; on this single-user bench host that does not happen.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls url until it answers 200, the process exits, or within passes.
func waitReady(ctx context.Context, p *proc, url string, within time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready: %v\n%s", p.name, p.err, p.logTail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready at %s after %s\n%s", p.name, url, within, p.logTail(20))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// startNATS starts the driver itself as a NATS JetStream server (the nats
// subcommand) storing into dir, and returns it with its client URL. The
// server stops when its stdin closes.
func startNATS(self, dir, logPath string) (*proc, string, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, "", fmt.Errorf("start nats: %w", err)
	}
	cmd := exec.Command(self, "nats", "-dir", dir)
	cmd.Env = baseEnv()
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start nats: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start nats: %w", err)
	}
	p := &proc{name: "nats", cmd: cmd, logPath: logPath, done: make(chan struct{}), stdin: stdin}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, "", fmt.Errorf("start nats: %w", err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), natsURLPrefix); ok {
				urlc <- u
			}
		}
	}()
	go func() {
		// Wait closes stdout; the scanner above then ends.
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	select {
	case u := <-urlc:
		return p, u, nil
	case <-p.done:
		return nil, "", fmt.Errorf("nats exited at start: %v\n%s", p.err, p.logTail(20))
	case <-time.After(20 * time.Second):
		_ = p.stop(5 * time.Second)
		return nil, "", errors.New("nats did not report its URL within 20s")
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
