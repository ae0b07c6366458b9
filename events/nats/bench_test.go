package nats_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/events"
)

// benchMessages returns n messages with ids prefix-<start+i>.
func benchMessages(prefix string, start, n int) []events.Message {
	msgs := make([]events.Message, n)
	for i := range msgs {
		id := prefix + "-" + strconv.Itoa(start+i)
		msgs[i] = events.Message{ID: id, JobID: id, Queue: "bench", Type: "email.send", Trace: map[string]string{
			"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		}}
	}
	return msgs
}

// BenchmarkPublish measures Publish per message (ns/op is per message), in
// batches and as many concurrent single-message calls. The embedded server
// shares the CPUs with the client.
func BenchmarkPublish(b *testing.B) {
	s := runServer(b, b.TempDir(), -1)
	for _, batch := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			br := newBroker(b, isolatedConfig(b, s.ClientURL()))
			prefix := token(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				n := min(batch, b.N-i)
				if err := br.Publish(b.Context(), benchMessages(prefix, i, n)...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
	b.Run("parallel/batch=1", func(b *testing.B) {
		br := newBroker(b, isolatedConfig(b, s.ClientURL()))
		prefix := token(b)
		b.ReportAllocs()
		b.SetParallelism(16) // like many API handlers at once
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			p := token(b)
			for i := 0; pb.Next(); i++ {
				if err := br.Publish(b.Context(), benchMessages(prefix+p, i, 1)...); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

// BenchmarkFetchAck measures fetching and acking one message (ns/op is per
// message) with fetches of up to max. Messages are published untimed in
// chunks of 1000, a backlog like that of workers that keep up; with a
// backlog of hundreds of thousands the server's file store makes each
// single-message fetch several times slower.
func BenchmarkFetchAck(b *testing.B) {
	const chunk = 1000
	s := runServer(b, b.TempDir(), -1)
	for _, max := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("max=%d", max), func(b *testing.B) {
			br := newBroker(b, isolatedConfig(b, s.ClientURL()))
			prefix := token(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += chunk {
				n := min(chunk, b.N-i)
				b.StopTimer()
				require.NoError(b, br.Publish(b.Context(), benchMessages(prefix, i, n)...))
				b.StartTimer()
				for got := 0; got < n; {
					ds, err := br.Fetch(b.Context(), "bench", max, 5*time.Second)
					if err != nil {
						b.Fatal(err)
					}
					if len(ds) == 0 {
						b.Fatalf("queue ran dry at %d of %d", i+got, b.N)
					}
					for _, d := range ds {
						if err := d.Ack(b.Context()); err != nil {
							b.Fatal(err)
						}
					}
					got += len(ds)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
