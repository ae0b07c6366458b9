package nats_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events"
	"github.com/flaskhq/flask/events/eventstest"
	flasknats "github.com/flaskhq/flask/events/nats"
)

// runServer starts an embedded server on dir and shuts it down when the
// test ends.
func runServer(t testing.TB, dir string, port int) *server.Server {
	t.Helper()
	s, err := flasknats.RunEmbedded(flasknats.EmbeddedConfig{StoreDir: dir, Port: port}, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// token returns a random name part, so that brokers sharing a server use
// their own stream and subjects.
func token(t testing.TB) string {
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// isolatedConfig is a config with its own stream and subject prefix.
func isolatedConfig(t testing.TB, url string) flasknats.Config {
	id := token(t)
	return flasknats.Config{
		URL:           url,
		Stream:        "TEST_" + id,
		SubjectPrefix: "test." + id,
		AckWait:       time.Second,
		ReconnectWait: 50 * time.Millisecond,
	}
}

func newBroker(t testing.TB, cfg flasknats.Config) *flasknats.Broker {
	t.Helper()
	b, err := flasknats.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	s := runServer(t, t.TempDir(), -1)
	var configs sync.Map // *flasknats.Broker -> flasknats.Config
	eventstest.Run(t,
		func(t *testing.T) eventstest.Broker {
			cfg := isolatedConfig(t, s.ClientURL())
			b := newBroker(t, cfg)
			configs.Store(b, cfg)
			return b
		},
		eventstest.WithPeer(func(t *testing.T, b eventstest.Broker) eventstest.Broker {
			cfg, ok := configs.Load(b)
			require.True(t, ok)
			return newBroker(t, cfg.(flasknats.Config))
		}),
	)
}

// jsClient opens a plain JetStream client to inspect the server.
func jsClient(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := natsgo.Connect(url, natsgo.Timeout(10*time.Second))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func TestStreamAndConsumerAsDocumented(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	ctx := t.Context()
	js := jsClient(t, s.ClientURL())

	// Defaults, except the AckWait.
	b := newBroker(t, flasknats.Config{URL: s.ClientURL(), AckWait: 7 * time.Second})
	_, err := b.Fetch(ctx, "emails", 1, 0)
	require.NoError(t, err)

	st, err := js.Stream(ctx, flasknats.DefaultStream)
	require.NoError(t, err)
	sc := st.CachedInfo().Config
	require.Equal(t, []string{"flask.jobs.>"}, sc.Subjects)
	require.Equal(t, jetstream.WorkQueuePolicy, sc.Retention)
	require.Equal(t, jetstream.FileStorage, sc.Storage)
	require.Equal(t, jetstream.DiscardOld, sc.Discard)
	require.Equal(t, 2*time.Minute, sc.Duplicates)
	require.Equal(t, 1, sc.Replicas)
	require.Zero(t, sc.MaxAge)
	require.EqualValues(t, -1, sc.MaxMsgs)
	require.EqualValues(t, -1, sc.MaxBytes)

	c, err := js.Consumer(ctx, flasknats.DefaultStream, "flask-emails")
	require.NoError(t, err)
	cc := c.CachedInfo().Config
	require.Equal(t, "flask-emails", cc.Durable)
	require.Equal(t, "flask.jobs.emails", cc.FilterSubject)
	require.Equal(t, jetstream.AckExplicitPolicy, cc.AckPolicy)
	require.Equal(t, 7*time.Second, cc.AckWait)
	require.Empty(t, cc.BackOff, "BackOff would replace AckWait")
	require.Equal(t, -1, cc.MaxDeliver)
	require.Equal(t, flasknats.DefaultMaxAckPending, cc.MaxAckPending)
	require.Equal(t, "flask.jobs.emails", cc.FilterSubject)
}

func TestCustomStreamSettingsApplied(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	ctx := t.Context()
	js := jsClient(t, s.ClientURL())

	cfg := isolatedConfig(t, s.ClientURL())
	cfg.DuplicateWindow = 90 * time.Second
	cfg.MaxBytes = 1 << 20
	cfg.MaxMsgSize = 4096
	cfg.MaxAckPending = 50
	b := newBroker(t, cfg)
	_, err := b.Fetch(ctx, "q", 1, 0)
	require.NoError(t, err)

	st, err := js.Stream(ctx, cfg.Stream)
	require.NoError(t, err)
	sc := st.CachedInfo().Config
	require.Equal(t, 90*time.Second, sc.Duplicates)
	require.EqualValues(t, 1<<20, sc.MaxBytes)
	require.EqualValues(t, 4096, sc.MaxMsgSize)

	c, err := js.Consumer(ctx, cfg.Stream, flasknats.ConsumerName("q"))
	require.NoError(t, err)
	require.Equal(t, 50, c.CachedInfo().Config.MaxAckPending)
}

// TestConsumerBackOffRemoved checks that a consumer someone gave a BackOff
// list gets its plain AckWait back.
func TestConsumerBackOffRemoved(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	ctx := t.Context()
	js := jsClient(t, s.ClientURL())
	cfg := isolatedConfig(t, s.ClientURL())
	b := newBroker(t, cfg)

	_, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       flasknats.ConsumerName("q"),
		FilterSubject: cfg.SubjectPrefix + ".q",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		BackOff:       []time.Duration{5 * time.Second, time.Minute},
		MaxDeliver:    5,
	})
	require.NoError(t, err)

	_, err = b.Fetch(ctx, "q", 1, 0)
	require.NoError(t, err)
	c, err := js.Consumer(ctx, cfg.Stream, flasknats.ConsumerName("q"))
	require.NoError(t, err)
	cc := c.CachedInfo().Config
	require.Empty(t, cc.BackOff)
	require.Equal(t, cfg.AckWait, cc.AckWait)
	require.Equal(t, -1, cc.MaxDeliver)
}

func TestRestartKeepsUnackedMessage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := runServer(t, dir, -1)
	port := s.Addr().(*net.TCPAddr).Port
	ctx := t.Context()

	cfg := isolatedConfig(t, s.ClientURL())
	b := newBroker(t, cfg)
	m := events.Message{ID: token(t), JobID: token(t), Queue: "q", Type: "t"}
	require.NoError(t, b.Publish(ctx, m))
	ds, err := b.Fetch(ctx, "q", 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	// Not acked: the worker is still on it when the server goes down.

	s.Shutdown()
	s.WaitForShutdown()
	runServer(t, dir, port)

	var got []events.Delivery
	require.Eventually(t, func() bool {
		ds, err := b.Fetch(ctx, "q", 1, time.Second)
		if err != nil {
			return false // still reconnecting
		}
		got = ds
		return len(ds) == 1
	}, 15*time.Second, 10*time.Millisecond)
	require.Equal(t, m, got[0].Message())
	require.GreaterOrEqual(t, got[0].NumDelivered(), 2)
	require.NoError(t, got[0].Ack(ctx))

	// The publish path is back too.
	m2 := events.Message{ID: token(t), JobID: token(t), Queue: "q", Type: "t"}
	require.NoError(t, b.Publish(ctx, m2))
	ds, err = b.Fetch(ctx, "q", 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, m2, ds[0].Message())
	require.NoError(t, ds[0].Ack(ctx))
}

func TestPing(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	b := newBroker(t, isolatedConfig(t, s.ClientURL()))
	require.NoError(t, b.Ping(t.Context()))

	s.Shutdown()
	s.WaitForShutdown()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	require.Error(t, b.Ping(ctx))

	require.NoError(t, b.Close())
	require.ErrorIs(t, b.Ping(t.Context()), events.ErrClosed)
	require.NoError(t, b.Close(), "a second Close returns the first one's result")
}

func TestPublishRejectsBadInput(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	b := newBroker(t, isolatedConfig(t, s.ClientURL()))
	ctx := t.Context()

	for _, q := range []string{"", "a.b", "a*", "a>", "a b", strings.Repeat("x", 201)} {
		err := b.Publish(ctx, events.Message{ID: token(t), JobID: "j", Queue: q, Type: "t"})
		require.ErrorContains(t, err, "invalid queue name", "queue %q", q)
		_, err = b.Fetch(ctx, q, 1, 0)
		require.ErrorContains(t, err, "invalid queue name", "queue %q", q)
	}
	// A bad message in a batch publishes nothing.
	good := events.Message{ID: token(t), JobID: "j", Queue: "q", Type: "t"}
	err := b.Publish(ctx, good, events.Message{ID: token(t), JobID: "bad", Queue: "no.dots"})
	require.ErrorContains(t, err, "publish job bad")
	ds, err := b.Fetch(ctx, "q", 10, 200*time.Millisecond)
	require.NoError(t, err)
	require.Empty(t, ds)

	_, err = b.Fetch(ctx, "q", 0, time.Second)
	require.ErrorContains(t, err, "max 0 must be positive")
}

// TestTraceKeysOutsideHeaders checks that trace entries that cannot be
// headers still travel, in the body.
func TestTraceKeysOutsideHeaders(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	b := newBroker(t, isolatedConfig(t, s.ClientURL()))
	ctx := t.Context()
	m := events.Message{ID: token(t), JobID: "j", Queue: "q", Type: "t", Trace: map[string]string{
		"with space": "v1", "Nats-Msg-Id": "spoof", "Status": "404", "traceparent": "  padded  ",
	}}
	require.NoError(t, b.Publish(ctx, m))
	ds, err := b.Fetch(ctx, "q", 1, 5*time.Second)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, m, ds[0].Message())
	require.NoError(t, ds[0].Ack(ctx))
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  flasknats.Config
		want string
	}{
		{flasknats.Config{SubjectPrefix: "a..b"}, "SubjectPrefix"},
		{flasknats.Config{SubjectPrefix: "a.*"}, "SubjectPrefix"},
		{flasknats.Config{Stream: "A.B"}, "Stream"},
		{flasknats.Config{AckWait: 100 * time.Millisecond}, "AckWait"},
		{flasknats.Config{Replicas: 7}, "Replicas"},
		{flasknats.Config{TLSCertFile: "c.pem"}, "TLSKeyFile"},
		{flasknats.Config{CredentialsFile: "a", NKeySeedFile: "b"}, "not both"},
	} {
		_, err := flasknats.New(t.Context(), tc.cfg, nil)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestConfigLogValueMasksSecrets(t *testing.T) {
	t.Parallel()
	cfg := flasknats.Config{URL: "nats://alice:s3cret@h1:4222,nats://tok3n@h2:4222"}
	v := cfg.LogValue().String()
	require.NotContains(t, v, "s3cret")
	require.NotContains(t, v, "tok3n")
	require.Contains(t, v, "alice")
}

func TestNewFailsWithoutServer(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	_, err = flasknats.New(t.Context(), flasknats.Config{URL: "nats://" + addr, ConnectTimeout: 200 * time.Millisecond}, nil)
	require.ErrorContains(t, err, "connect to nats")
}

func TestEmbeddedMonitorPort(t *testing.T) {
	t.Parallel()
	s, err := flasknats.RunEmbedded(flasknats.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1, MonitorPort: -1}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })

	addr := s.MonitorAddr()
	require.NotNil(t, addr, "monitoring is on")
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://%s/jsz", addr), nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	off := runServer(t, t.TempDir(), -1)
	require.Nil(t, off.MonitorAddr(), "monitoring is off by default")
}

func TestEmbeddedPortTaken(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	port := s.Addr().(*net.TCPAddr).Port
	_, err := flasknats.RunEmbedded(flasknats.EmbeddedConfig{StoreDir: t.TempDir(), Port: port, ReadyTimeout: time.Second}, nil)
	require.Error(t, err)
}

// TestCloseDuringFetch checks that Close ends a long poll with ErrClosed.
func TestCloseDuringFetch(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	cfg := isolatedConfig(t, s.ClientURL())
	b := newBroker(t, cfg)
	_, err := b.Fetch(t.Context(), "q", 1, 0) // create the consumer
	require.NoError(t, err)
	c, err := jsClient(t, s.ClientURL()).Consumer(t.Context(), cfg.Stream, flasknats.ConsumerName("q"))
	require.NoError(t, err)

	errc := make(chan error, 1)
	go func() {
		_, err := b.Fetch(context.Background(), "q", 10, 30*time.Second)
		errc <- err
	}()
	require.Eventually(t, func() bool {
		info, err := c.Info(t.Context())
		return err == nil && info.NumWaiting > 0
	}, 5*time.Second, 5*time.Millisecond, "the long poll never reached the server")
	require.NoError(t, b.Close())
	select {
	case err := <-errc:
		require.True(t, errors.Is(err, events.ErrClosed), "got %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("fetch still running after Close")
	}
}

// TestPublishCreatesMissingConsumer: a publisher makes sure the queue's
// consumer exists, so that its backlog is visible (KEDA reads the
// consumer's pending count) before any worker ever ran; a consumer a worker
// created with its own settings is left alone.
func TestPublishCreatesMissingConsumer(t *testing.T) {
	t.Parallel()
	s := runServer(t, t.TempDir(), -1)
	ctx := t.Context()
	js := jsClient(t, s.ClientURL())
	pub := newBroker(t, flasknats.Config{URL: s.ClientURL(), AckWait: 5 * time.Second})
	require.NoError(t, pub.Publish(ctx,
		events.Message{ID: "m1", JobID: "j1", Queue: "reports", Type: "t"},
		events.Message{ID: "m2", JobID: "j2", Queue: "reports", Type: "t"}))
	c, err := js.Consumer(ctx, flasknats.DefaultStream, "flask-reports")
	require.NoError(t, err, "the consumer exists before any Fetch")
	info, err := c.Info(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, info.NumPending, "the backlog is visible on the consumer")

	// A worker's settings win: its consumer is not overwritten by a publisher.
	w := newBroker(t, flasknats.Config{URL: s.ClientURL(), AckWait: 9 * time.Second})
	_, err = w.Fetch(ctx, "mail", 1, 0)
	require.NoError(t, err)
	pub2 := newBroker(t, flasknats.Config{URL: s.ClientURL(), AckWait: 3 * time.Second})
	require.NoError(t, pub2.Publish(ctx, events.Message{ID: "m3", JobID: "j3", Queue: "mail", Type: "t"}))
	c, err = js.Consumer(ctx, flasknats.DefaultStream, "flask-mail")
	require.NoError(t, err)
	require.Equal(t, 9*time.Second, c.CachedInfo().Config.AckWait)
}
