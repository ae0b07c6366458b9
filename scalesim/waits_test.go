package scalesim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWaitHistogram(t *testing.T) {
	t.Parallel()
	// Buckets are contiguous and increasing; below 2^16 ms each is one ms,
	// above each is at most 2^-15 of its floor wide.
	prev := int64(-1)
	for _, v := range []int64{0, 1, 65535, 65536, 65537, 131071, 131072, 3_600_000, 604_800_000} {
		b := waitBucket(v)
		floor := waitFloor(b)
		require.LessOrEqual(t, floor, v, "v %d", v)
		require.Less(t, v, waitFloor(b+1), "v %d", v)
		require.GreaterOrEqual(t, waitFloor(b+1)-floor, int64(1))
		require.LessOrEqual(t, float64(waitFloor(b+1)-floor), float64(max(floor, 1<<15))/(1<<15))
		if v < 1<<16 {
			require.Equal(t, v, floor)
		}
		require.Greater(t, v, prev)
		prev = v
	}
	for b := range 300_000 {
		require.Equal(t, b, waitBucket(waitFloor(b)), "bucket %d", b)
	}

	// Nearest rank over 1 … 100 ms: p50 is 50, p95 95, p99 99, max 100.
	var h waitHistogram
	require.Equal(t, int64(0), h.quantile(0.5), "empty")
	for v := int64(100); v >= 1; v-- {
		h.add(v)
	}
	require.Equal(t, []int64{50, 95, 99, 100}, []int64{h.quantile(0.5), h.quantile(0.95), h.quantile(0.99), h.quantile(1)})
	// A long wait is reported at its bucket's floor, the maximum exactly.
	h.add(3_600_123)
	require.Equal(t, int64(3_600_123), h.quantile(1))
	require.InDelta(t, 3_600_123, h.quantile(0.999), 3_600_123.0/(1<<15))
}
