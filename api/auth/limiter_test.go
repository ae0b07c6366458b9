package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiterRefillsAndForgetsIdleKeys(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	l := NewLimiter(10, 1, func() time.Time { return now })
	ok, _ := l.Allow("k")
	require.True(t, ok)
	ok, wait := l.Allow("k")
	require.False(t, ok)
	require.Equal(t, 100*time.Millisecond, wait)
	ok, wait = l.Peek("k")
	require.False(t, ok, "peek sees the empty bucket")
	require.Equal(t, 100*time.Millisecond, wait)
	ok, _ = l.Peek("never-seen")
	require.True(t, ok)
	require.Equal(t, 1, l.Size(), "peek makes no bucket")
	now = now.Add(100 * time.Millisecond)
	ok, _ = l.Allow("k")
	require.True(t, ok, "a token came back")
	for i := range 100 {
		l.Allow(fmt.Sprint("key-", i))
	}
	require.Equal(t, 101, l.Size())
	now = now.Add(l.idle + time.Second)
	l.Allow("fresh")
	require.Equal(t, 1, l.Size(), "idle buckets, full again, are dropped")
}

func TestLimiterIsBoundedUnderManyAddresses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	l := NewLimiter(DefaultFailureRate, DefaultFailureBurst, func() time.Time { return now })
	// One failure from each of many addresses within one sweep interval.
	for i := range 250000 {
		l.Allow(fmt.Sprintf("2001:db8::%x", i))
	}
	require.LessOrEqual(t, l.Size(), MaxBuckets, "an attacker with many addresses cannot grow the table without bound")

	// A full table makes room for many at once: not a scan of it per new address.
	l = NewLimiter(DefaultFailureRate, DefaultFailureBurst, func() time.Time { return now })
	for i := range MaxBuckets {
		l.Allow(fmt.Sprintf("2001:db8::%x", i))
	}
	require.Equal(t, MaxBuckets, l.Size())
	l.Allow("2001:db8:1::1")
	require.LessOrEqual(t, l.Size(), MaxBuckets*9/10+1)
}
