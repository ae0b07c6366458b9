package job

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 10 * time.Second}
	require.Equal(t, time.Duration(0), b.Delay(1, 0))
	require.Equal(t, 500*time.Millisecond, b.Delay(1, 0.5))
	require.Equal(t, 2*time.Second, b.Delay(3, 0.5), "ceiling doubles per attempt: 4s at attempt 3")
	require.Equal(t, 5*time.Second, b.Delay(20, 0.5), "capped at Max")
	require.Equal(t, 5*time.Second, b.Delay(5000, 0.5), "no overflow on huge attempts")
	floor := Backoff{Base: time.Second, Max: time.Second, Min: 800 * time.Millisecond}
	require.Equal(t, 800*time.Millisecond, floor.Delay(1, 0))
	require.Equal(t, 900*time.Millisecond, floor.Delay(7, 0.5))
}

func TestDurationJSON(t *testing.T) {
	var d Duration
	require.NoError(t, json.Unmarshal([]byte(`"1m30s"`), &d))
	require.Equal(t, Duration(90*time.Second), d)
	out, err := json.Marshal(d)
	require.NoError(t, err)
	require.Equal(t, `"1m30s"`, string(out))
	require.Error(t, json.Unmarshal([]byte(`90`), &d))
	require.Error(t, json.Unmarshal([]byte(`"soon"`), &d))
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"default", "mail-2", "a_b", "0"} {
		require.NoError(t, ValidateQueue(ok), ok)
	}
	for _, bad := range []string{"", "Mail", "a.b", "-x", "a b", strings.Repeat("q", MaxQueueLen+1)} {
		require.Error(t, ValidateQueue(bad), bad)
	}
	for _, ok := range []string{"demo.sleep", "Email:send", "a-b_c.d"} {
		require.NoError(t, ValidateType(ok), ok)
	}
	for _, bad := range []string{"", ".x", "a b", "a/b", strings.Repeat("t", MaxTypeLen+1)} {
		require.Error(t, ValidateType(bad), bad)
	}
	require.NoError(t, ValidateIdempotencyKey("order-42"))
	require.Error(t, ValidateIdempotencyKey("a\nb"))
	require.Error(t, ValidateIdempotencyKey(strings.Repeat("k", MaxIdempotencyKeyLen+1)))
}

func TestParseSpecsAndCatalog(t *testing.T) {
	specs, err := ParseSpecs(" email.send:queue=mail:max_attempts=5:timeout=30s:backoff_base=2s:backoff_max=1m:concurrency=3 , report.build ,")
	require.NoError(t, err)
	require.Len(t, specs, 2)
	require.Equal(t, Spec{Type: "email.send", Queue: "mail", MaxAttempts: 5, Timeout: 30 * time.Second,
		Backoff: Backoff{Base: 2 * time.Second, Max: time.Minute}, Concurrency: 3}, specs[0])
	cat, err := NewCatalog(specs...)
	require.NoError(t, err)
	got, ok := cat.Lookup("report.build")
	require.True(t, ok)
	require.Equal(t, Spec{Type: "report.build", Queue: DefaultQueue, MaxAttempts: DefaultMaxAttempts, Timeout: DefaultTimeout, Backoff: DefaultBackoff}, got)
	require.Equal(t, []string{"email.send", "report.build"}, cat.Types())
	_, ok = cat.Lookup("nope")
	require.False(t, ok)
	require.Error(t, cat.Add(Spec{Type: "email.send"}), "a type defined twice")

	for _, bad := range []string{"x:queue", "x:colour=red", "x:max_attempts=0", "x:timeout=-1s", "x:timeout=soon", "bad type", "x:queue=Bad", "x:concurrency=0"} {
		_, err := ParseSpecs(bad)
		require.Error(t, err, bad)
	}
}
