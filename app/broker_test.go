package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/kelseyhightower/envconfig"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events/eventstest"
	sqsbroker "github.com/flaskhq/flask/events/sqs"
	"github.com/flaskhq/flask/job"
	"github.com/flaskhq/flask/relay"
	"github.com/flaskhq/flask/store"
	"github.com/flaskhq/flask/worker"
)

// TestBrokerEnvNames reads the broker settings the way the binaries do, by
// the names the Helm chart sets.
func TestBrokerEnvNames(t *testing.T) {
	t.Setenv("FLASK_DATABASE_URL", "sqlite:x.db")
	t.Setenv("FLASK_BROKER", "sqs")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("FLASK_SQS_QUEUE_PREFIX", "flask-prod")
	t.Setenv("FLASK_SQS_ENDPOINT", "http://127.0.0.1:4566")
	t.Setenv("FLASK_SQS_CREATE_QUEUES", "true")
	t.Setenv("FLASK_SQS_VISIBILITY_TIMEOUT", "2m")
	t.Setenv("FLASK_SQS_MAX_RECEIVE_COUNT", "9")
	var cfg WorkerConfig
	require.NoError(t, envconfig.Process("FLASK", &cfg))
	require.Equal(t, "sqs", cfg.Broker)
	require.Equal(t, "eu-west-1", cfg.AWSRegion)
	require.Equal(t, SQSConfig{QueuePrefix: "flask-prod", Endpoint: "http://127.0.0.1:4566", CreateQueues: true,
		VisibilityTimeout: 2 * time.Minute, MaxReceiveCount: 9}, cfg.SQS)
	require.NoError(t, cfg.Validate())

	for _, k := range []string{"FLASK_SQS_CREATE_QUEUES", "FLASK_SQS_VISIBILITY_TIMEOUT", "FLASK_SQS_MAX_RECEIVE_COUNT", "FLASK_SQS_QUEUE_PREFIX"} {
		t.Setenv(k, "") // restored after the test
		require.NoError(t, os.Unsetenv(k))
	}
	var def WorkerConfig
	require.NoError(t, envconfig.Process("FLASK", &def))
	require.Equal(t, SQSConfig{QueuePrefix: "flask", Endpoint: "http://127.0.0.1:4566", VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5}, def.SQS,
		"defaults: Terraform makes the queues, 30s lease, Terraform's maxReceiveCount")
}

func TestSQSConfigValidate(t *testing.T) {
	valid := func() WorkerConfig {
		c := validWorker()
		c.Broker, c.AWSRegion = "sqs", "eu-west-1"
		c.SQS = SQSConfig{QueuePrefix: "flask-prod", VisibilityTimeout: 30 * time.Second, MaxReceiveCount: 5}
		return c
	}
	ok := valid()
	require.NoError(t, ok.Validate())
	for _, c := range []struct {
		name, want string
		edit       func(*WorkerConfig)
	}{
		{"no region", "AWS_REGION is required when FLASK_BROKER=sqs", func(c *WorkerConfig) { c.AWSRegion = "" }},
		{"prefix with a dot", "FLASK_SQS_QUEUE_PREFIX", func(c *WorkerConfig) { c.SQS.QueuePrefix = "flask.prod" }},
		{"empty prefix", "FLASK_SQS_QUEUE_PREFIX", func(c *WorkerConfig) { c.SQS.QueuePrefix = "" }},
		{"endpoint without scheme", "FLASK_SQS_ENDPOINT", func(c *WorkerConfig) { c.SQS.Endpoint = "localhost:4566" }},
		{"fractional visibility", "FLASK_SQS_VISIBILITY_TIMEOUT", func(c *WorkerConfig) { c.SQS.VisibilityTimeout = 1500 * time.Millisecond }},
		{"visibility over 12h", "FLASK_SQS_VISIBILITY_TIMEOUT", func(c *WorkerConfig) { c.SQS.VisibilityTimeout = 13 * time.Hour }},
		{"receive count", "FLASK_SQS_MAX_RECEIVE_COUNT", func(c *WorkerConfig) { c.SQS.MaxReceiveCount = 0 }},
		{"unknown broker", "use nats or sqs", func(c *WorkerConfig) { c.Broker = "kafka" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid()
			c.edit(&cfg)
			require.ErrorContains(t, cfg.Validate(), c.want)
		})
	}
	// NATS settings do not matter on SQS, nor SQS ones on NATS.
	sqsOnly := valid()
	sqsOnly.NATS.AckWait = 0
	require.NoError(t, sqsOnly.Validate())
	natsOnly := validWorker()
	natsOnly.SQS.VisibilityTimeout = 0
	require.NoError(t, natsOnly.Validate())
}

// sqsCommon is a Common on the test emulator with its own queue prefix.
func sqsCommon(t *testing.T, dbURL string, create bool) Common {
	ep := eventstest.SQSEndpoint(t)
	// The binaries take credentials from the SDK's default chain.
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	var b [5]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return Common{DatabaseURL: dbURL, DBMaxConns: 1, DBFlushers: 1, Broker: "sqs", AWSRegion: "us-east-1",
		SQS: SQSConfig{QueuePrefix: "app" + hex.EncodeToString(b[:]), Endpoint: ep, CreateQueues: create,
			VisibilityTimeout: 5 * time.Second, MaxReceiveCount: 5},
		DemoTypes: true, LogLevel: "info", LogFormat: "text", Migrate: true}
}

// TestOpenBrokerSQS: the SQS broker behind the settings, and a queue
// Terraform did not make stopping start-up with its name.
func TestOpenBrokerSQS(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := sqsCommon(t, "sqlite:unused.db", false)
	_, err := OpenBroker(t.Context(), c, "test", log, "default", "mail")
	require.ErrorIs(t, err, sqsbroker.ErrNoQueue)
	require.ErrorContains(t, err, c.SQS.QueuePrefix+"-default")

	c.SQS.CreateQueues = true
	b, err := OpenBroker(t.Context(), c, "test", log, "default", "mail")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.IsType(t, &sqsbroker.Broker{}, b)
	require.Equal(t, 5*time.Second, b.AckWait())
	require.NoError(t, b.Ping(t.Context()))
}

// TestLongBackoffHeldByStore proves on SQS that a retry backoff far beyond
// SQS's 15-minute delay cap is honoured, without waiting for it: after the
// failed attempt SQS holds nothing for the job, the store holds it as
// retrying with its run_at two hours away, nothing is promoted a minute
// before that, and the relay publishes it once the (simulated) clock has
// passed it, when the second attempt runs and succeeds.
func TestLongBackoffHeldByStore(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }

	c := sqsCommon(t, "sqlite:"+filepath.Join(t.TempDir(), "flask.db"), true)
	st, err := store.Open(ctx, c.DatabaseURL, store.Config{MaxOpenConns: 1, Flushers: 1, Now: now}, log)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	b, err := OpenBroker(ctx, c, "test", log, "reports")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	const backoff = 2 * time.Hour
	var attempts atomic.Int32
	reg := worker.NewRegistry()
	require.NoError(t, reg.Register(job.Spec{Type: "report.build", Queue: "reports", MaxAttempts: 3, Timeout: 10 * time.Second,
		Backoff: job.Backoff{Base: backoff, Max: backoff, Min: backoff}},
		func(_ context.Context, j *job.Job) (json.RawMessage, error) {
			attempts.Add(1)
			if j.Attempt == 1 {
				return nil, errors.New("upstream down")
			}
			return json.RawMessage(`"built"`), nil
		}))
	pool, err := worker.New(worker.Config{Queues: map[string]int{"reports": 2}, FetchWait: 500 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond, WorkerTTL: time.Second, Now: now}, st, b, reg, log, prometheus.NewRegistry())
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- pool.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The relay's promotion is played by the test, step by step.
	rl, err := relay.New(relay.Config{Now: now}, st, b, log, prometheus.NewRegistry())
	require.NoError(t, err)

	res, entries, err := st.InsertJobs(ctx, []store.InsertParams{{Queue: "reports", Type: "report.build", MaxAttempts: 3, Timeout: 10 * time.Second}})
	require.NoError(t, err)
	id := res[0].Job.ID
	rl.Dispatch(ctx, entries)

	var j *job.Job
	require.Eventually(t, func() bool {
		j, err = st.GetJob(ctx, id)
		return err == nil && j.State == job.StateRetrying
	}, 10*time.Second, 10*time.Millisecond, "the first attempt did not fail into retrying")
	wait := j.RunAt.Sub(now())
	require.InDelta(t, backoff.Seconds(), wait.Seconds(), 60, "run_at is the backoff away")
	require.Greater(t, wait, 15*time.Minute, "longer than any SQS delay")

	// SQS holds nothing for the job: its message was deleted, none delayed.
	sq := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.SQS.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	url, err := sq.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(c.SQS.QueuePrefix + "-reports")})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		out, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl, AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
		if err != nil {
			return false
		}
		total := 0
		for _, v := range out.Attributes {
			n, _ := strconv.Atoi(v)
			total += n
		}
		return total == 0
	}, 5*time.Second, 20*time.Millisecond, "SQS still holds a message for the retrying job")

	// A minute before run_at nothing is due.
	skew.Store(int64(backoff - time.Minute))
	due, err := st.PromoteDue(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, due, "promoted before its backoff was over")
	j, err = st.GetJob(ctx, id)
	require.NoError(t, err)
	require.Equal(t, job.StateRetrying, j.State)

	// Once past it, the relay queues and publishes it, and it runs again.
	skew.Store(int64(backoff + time.Minute))
	due, err = st.PromoteDue(ctx, 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	require.Equal(t, id, due[0].JobID)
	rl.Dispatch(ctx, due)
	require.Eventually(t, func() bool {
		j, err = st.GetJob(ctx, id)
		return err == nil && j.State == job.StateSucceeded
	}, 10*time.Second, 10*time.Millisecond, "the second attempt did not run")
	require.Equal(t, 2, j.Attempt)
	require.EqualValues(t, 2, attempts.Load())
	require.JSONEq(t, `"built"`, string(j.Result))
}
