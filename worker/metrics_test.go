package worker

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// A broker error is counted once, in flask_broker_consume_errors_total;
// flask_worker_errors_total counts the store's errors only, so a panel or
// a sum over both does not see broker errors twice.
func TestBrokerErrorsCountedOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, map[string]int{"mail": 2})
	require.NoError(t, err)
	for _, op := range []string{"fetch", "ack", "nak", "extend"} {
		m.brokerError("mail", op)
	}
	m.errors.WithLabelValues("claim").Inc()
	require.Equal(t, 4.0, sumOf(t, reg, "flask_broker_consume_errors_total"))
	require.Equal(t, 1.0, sumOf(t, reg, "flask_worker_errors_total"))
}

// sumOf sums every series of a counter family.
func sumOf(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
