package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/job"
)

// listAll pages through GET /v1/jobs and returns every job.
func listAll(t *testing.T, api string, query string) []job.Job {
	t.Helper()
	var all []job.Job
	cursor := ""
	for {
		var page struct {
			Jobs       []job.Job `json:"jobs"`
			NextCursor *string   `json:"next_cursor"`
		}
		u := api + "/v1/jobs?limit=1000&" + query
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		code, _ := request(t, http.MethodGet, u, nil, nil, &page)
		require.Equal(t, http.StatusOK, code)
		all = append(all, page.Jobs...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
}

// TestThousandJobsSucceed submits 1,000 jobs over HTTP — half one by one from
// concurrent clients, half in batches — and checks that every one succeeds
// exactly once with two workers draining the queue.
func TestThousandJobsSucceed(t *testing.T) {
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) { testThousandJobsSucceed(t, broker) })
	}
}

func testThousandJobsSucceed(t *testing.T, broker string) {
	e := newEnvOn(t, broker)
	api := e.start("flask-api")
	e.start("flask-worker", "FLASK_QUEUES=default:50")
	e.start("flask-worker", "FLASK_QUEUES=default:50")

	ids := make(chan string, 1000)
	var wg sync.WaitGroup
	for c := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				j := submit(t, api.url(), map[string]any{"type": "demo.echo", "payload": map[string]int{"client": c, "n": i}})
				ids <- j.ID
			}
		}()
	}
	for b := range 2 {
		var batch struct{ Jobs []map[string]any }
		for i := range 250 {
			batch.Jobs = append(batch.Jobs, map[string]any{"type": "demo.echo", "payload": map[string]int{"batch": b, "n": i}})
		}
		var out struct {
			Jobs []job.Job `json:"jobs"`
		}
		code, _ := request(t, http.MethodPost, api.url()+"/v1/jobs/batch", map[string]any{"jobs": batch.Jobs}, nil, &out)
		require.Equal(t, http.StatusCreated, code)
		require.Len(t, out.Jobs, 250)
		for _, j := range out.Jobs {
			ids <- j.ID
		}
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	require.Len(t, want, 1000, "every submission must create a distinct job")

	require.Eventually(t, func() bool {
		return len(listAll(t, api.url(), "state=succeeded")) == 1000
	}, 60*time.Second, 200*time.Millisecond)
	for _, j := range listAll(t, api.url(), "") {
		require.True(t, want[j.ID], "unexpected job %s", j.ID)
		require.Equal(t, job.StateSucceeded, j.State)
		require.Equal(t, 1, j.Attempt, "job %s ran more than once", j.ID)
		require.Equal(t, string(j.Payload), string(j.Result), "echo returns its payload")
	}
}

// TestWorkerKilledMidJob kills a worker with SIGKILL while it runs a job: the
// job is redelivered after the ack deadline and succeeds on another worker,
// with the lost attempt recorded.
func TestWorkerKilledMidJob(t *testing.T) {
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) { testWorkerKilledMidJob(t, broker) })
	}
}

func testWorkerKilledMidJob(t *testing.T, broker string) {
	e := newEnvOn(t, broker, ackWait(broker, 2*time.Second), "FLASK_HEARTBEAT_INTERVAL=200ms", "FLASK_WORKER_TTL=1s")
	api := e.start("flask-api")
	a := e.start("flask-worker", "FLASK_WORKER_ID=worker-a")
	j := submit(t, api.url(), map[string]any{"type": "demo.sleep", "payload": map[string]int{"ms": 1500}})
	running := waitState(t, api.url(), j.ID, job.StateRunning, 10*time.Second)
	require.Equal(t, "worker-a", running.WorkerID)
	a.kill(t)

	e.start("flask-worker", "FLASK_WORKER_ID=worker-b")
	done := waitState(t, api.url(), j.ID, job.StateSucceeded, 30*time.Second)
	require.Equal(t, "worker-b", done.WorkerID)
	require.Equal(t, 2, done.Attempt)
	require.Len(t, done.Errors, 1)
	require.Contains(t, done.Errors[0].Error, "worker lost")
	require.Equal(t, "worker-a", done.Errors[0].WorkerID)
}

// TestGracefulShutdown sends SIGTERM to a worker running a job: the job
// finishes within the grace period and the worker exits 0. With a grace
// period shorter than the job, the job is handed back and another worker
// completes it without counting the interrupted attempt.
func TestGracefulShutdown(t *testing.T) {
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) { testGracefulShutdown(t, broker) })
	}
}

func testGracefulShutdown(t *testing.T, broker string) {
	e := newEnvOn(t, broker)
	api := e.start("flask-api")

	w := e.start("flask-worker", "FLASK_SHUTDOWN_GRACE=10s")
	j := submit(t, api.url(), map[string]any{"type": "demo.sleep", "payload": map[string]int{"ms": 800}})
	waitState(t, api.url(), j.ID, job.StateRunning, 10*time.Second)
	require.NoError(t, w.stop(t, 15*time.Second), "worker must exit 0 after draining")
	done := get(t, api.url(), j.ID)
	require.Equal(t, job.StateSucceeded, done.State, "the in-flight job finishes before exit")

	w = e.start("flask-worker", "FLASK_SHUTDOWN_GRACE=200ms")
	j = submit(t, api.url(), map[string]any{"type": "demo.sleep", "payload": map[string]int{"ms": 3000}})
	waitState(t, api.url(), j.ID, job.StateRunning, 10*time.Second)
	require.NoError(t, w.stop(t, 15*time.Second))
	back := get(t, api.url(), j.ID)
	require.Equal(t, job.StateQueued, back.State, "an unfinished job is handed back")
	require.Equal(t, 0, back.Attempt, "a handed-back attempt does not count")

	e.start("flask-worker")
	done = waitState(t, api.url(), j.ID, job.StateSucceeded, 20*time.Second)
	require.Equal(t, 1, done.Attempt)
}

// TestRetryWithBackoff runs a job that fails twice: each failure is recorded
// as retrying, and the next attempt starts only after its backoff (about a
// second for the demo types), held by the store and published again by the
// relay — on SQS as on NATS.
func TestRetryWithBackoff(t *testing.T) {
	for _, broker := range brokers {
		t.Run(broker, func(t *testing.T) { testRetryWithBackoff(t, broker) })
	}
}

func testRetryWithBackoff(t *testing.T, broker string) {
	e := newEnvOn(t, broker)
	api := e.start("flask-api")
	e.start("flask-worker")
	j := submit(t, api.url(), map[string]any{"type": "demo.fail", "payload": map[string]int{"times": 2}})
	done := waitState(t, api.url(), j.ID, job.StateSucceeded, 30*time.Second)
	require.Equal(t, 3, done.Attempt)
	require.Len(t, done.Errors, 2)
	for i, ae := range done.Errors {
		require.Equal(t, i+1, ae.Attempt)
		require.Contains(t, ae.Error, "demo failure")
	}
	// The demo backoff is at least 800ms: no attempt started sooner.
	require.GreaterOrEqual(t, done.Errors[1].At.Sub(done.Errors[0].At), 800*time.Millisecond, "second attempt before its backoff")
	require.GreaterOrEqual(t, done.StartedAt.Sub(done.Errors[1].At), 800*time.Millisecond, "third attempt before its backoff")
}

// TestIdempotentResubmission sends the same idempotency key twice: one job.
func TestIdempotentResubmission(t *testing.T) {
	e := newEnv(t)
	api := e.start("flask-api")
	body := map[string]any{"type": "demo.echo", "payload": 1}
	hdr := map[string]string{"Idempotency-Key": "order-42"}
	var first, second job.Job
	code, h := request(t, http.MethodPost, api.url()+"/v1/jobs", body, hdr, &first)
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, "/v1/jobs/"+first.ID, h.Get("Location"))
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs", body, hdr, &second)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, first.ID, second.ID)
	require.Len(t, listAll(t, api.url(), ""), 1)
}

// TestBadInput checks each kind of bad request gets a problem document naming
// the field at fault, and that a job accepted before is untouched.
func TestBadInput(t *testing.T) {
	e := newEnv(t, "FLASK_MAX_PAYLOAD_BYTES=1024", "FLASK_MAX_BODY_BYTES=4096")
	api := e.start("flask-api")
	good := submit(t, api.url(), map[string]any{"type": "demo.echo", "payload": "keep me"})

	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"malformed JSON", `{"type": "demo.echo",`, 400, ""},
		{"unknown field", `{"type": "demo.echo", "colour": "red"}`, 400, "colour"},
		{"trailing data", `{"type": "demo.echo"} {}`, 400, ""},
		{"unknown type", `{"type": "no.such.type"}`, 422, "type"},
		{"bad queue", `{"type": "demo.echo", "queue": "Bad Queue"}`, 422, "queue"},
		{"bad timeout", `{"type": "demo.echo", "timeout": "soon"}`, 400, "timeout"},
		{"payload too large", `{"type": "demo.echo", "payload": "` + strings.Repeat("x", 2000) + `"}`, 413, "payload"},
		{"body too large", `{"type": "demo.echo", "payload": "` + strings.Repeat("x", 5000) + `"}`, 413, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p struct {
				Status int `json:"status"`
				Title  string
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			code, h := request(t, http.MethodPost, api.url()+"/v1/jobs", c.body, nil, &p)
			require.Equal(t, c.status, code)
			require.Equal(t, "application/problem+json", h.Get("Content-Type"))
			require.Equal(t, c.status, p.Status)
			if c.field != "" {
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field)
				}
				require.Contains(t, fields, c.field)
			}
		})
	}
	code, h := request(t, http.MethodGet, api.url()+"/v1/jobs/0190b6d2-0000-7000-8000-000000000000", nil, nil, nil)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "application/problem+json", h.Get("Content-Type"))
	require.Equal(t, good.ID, get(t, api.url(), good.ID).ID, "a bad request loses nothing accepted")
	require.Len(t, listAll(t, api.url(), ""), 1)
}

// TestCancelRetryAndSchedule covers a running job cancelled through its
// context, a failed job retried by hand, and a scheduled job that waits.
func TestCancelRetryAndSchedule(t *testing.T) {
	e := newEnv(t, "FLASK_HEARTBEAT_INTERVAL=200ms", "FLASK_WORKER_TTL=2s")
	api := e.start("flask-api")
	e.start("flask-worker")

	long := submit(t, api.url(), map[string]any{"type": "demo.sleep", "payload": map[string]int{"ms": 60000}})
	waitState(t, api.url(), long.ID, job.StateRunning, 10*time.Second)
	var cancelled job.Job
	code, _ := request(t, http.MethodPost, api.url()+"/v1/jobs/"+long.ID+"/cancel", nil, nil, &cancelled)
	require.Equal(t, http.StatusOK, code)
	waitState(t, api.url(), long.ID, job.StateCancelled, 10*time.Second)
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs/"+long.ID+"/cancel", nil, nil, nil)
	require.Equal(t, http.StatusConflict, code, "a cancelled job cannot be cancelled again")

	bad := submit(t, api.url(), map[string]any{"type": "demo.fail", "payload": map[string]any{"times": 5, "final": true}})
	failed := waitState(t, api.url(), bad.ID, job.StateFailed, 10*time.Second)
	require.Equal(t, 1, failed.Attempt, "a final error is not retried")
	var retried job.Job
	code, _ = request(t, http.MethodPost, api.url()+"/v1/jobs/"+bad.ID+"/retry", nil, nil, &retried)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, job.StateQueued, retried.State)
	again := waitState(t, api.url(), bad.ID, job.StateFailed, 10*time.Second)
	require.Equal(t, 2, again.Attempt)
	require.Len(t, again.Errors, 2)

	at := time.Now().Add(1500 * time.Millisecond).UTC()
	later := submit(t, api.url(), map[string]any{"type": "demo.echo", "run_at": at.Format(time.RFC3339Nano)})
	require.Equal(t, job.StateScheduled, later.State)
	done := waitState(t, api.url(), later.ID, job.StateSucceeded, 15*time.Second)
	require.False(t, done.StartedAt.Before(at), "a scheduled job must not start before run_at")
}

// TestInvalidConfigExits checks a bad setting stops start-up with one line and exit 1.
func TestInvalidConfigExits(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ bin, env, want string }{
		{"flask-worker", "FLASK_QUEUES=Bad Queue", "FLASK_QUEUES"},
		{"flask-api", "FLASK_BROKER=kafka", "FLASK_BROKER"},
		{"flask-api", "FLASK_DATABASE_URL=", "FLASK_DATABASE_URL"},
	} {
		out, err := e.run(c.bin, c.env)
		require.Error(t, err, "%s with %s must fail", c.bin, c.env)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 1, "one line of error, got %q", out)
		require.Contains(t, lines[0], c.want)
	}
	// SQS without a region (AWS_REGION emptied in case the machine sets it).
	out, err := e.run("flask-worker", "FLASK_BROKER=sqs", "AWS_REGION=")
	require.Error(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 1, "one line of error, got %q", out)
	require.Contains(t, out, "AWS_REGION is required when FLASK_BROKER=sqs")

	out, err = e.ctl("jobs", "get")
	require.Error(t, err)
	require.NotEmpty(t, strings.TrimSpace(out))
}
