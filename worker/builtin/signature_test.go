package builtin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flaskhq/flask/worker/builtin"
)

func ExampleSign() {
	// The values of VerifySignature's documentation.
	at := time.Date(2025, 11, 26, 0, 0, 0, 0, time.UTC)
	fmt.Println(builtin.Sign([]byte("whsec_example"), []byte(`{"order_id":42}`), at))
	// Output: t=1764115200,v1=86b0afe68926582f14b9dd49fa2b159d17f7c78cee2c91e5501b3b7acbc8b1da
}

func ExampleVerifySignature() {
	secret := []byte("whsec_example")
	body := []byte(`{"order_id":42}`)
	header := "t=1764115200,v1=86b0afe68926582f14b9dd49fa2b159d17f7c78cee2c91e5501b3b7acbc8b1da"
	received := time.Unix(1764115200, 0).Add(30 * time.Second)
	fmt.Println(builtin.VerifySignature(secret, header, body, received, 5*time.Minute))
	// Output: <nil>
}

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	secret := []byte("topsecret")
	body := []byte(`{"a":1}`)
	at := time.Unix(1_800_000_000, 0)
	good := builtin.Sign(secret, body, at)
	_, goodSig, _ := strings.Cut(good, ",v1=")
	other := builtin.Sign([]byte("old secret"), body, at)
	_, otherSig, _ := strings.Cut(other, ",v1=")

	require.NoError(t, builtin.VerifySignature(secret, good, body, at, time.Minute))
	require.NoError(t, builtin.VerifySignature(secret, good, body, at.Add(-time.Minute), time.Minute), "tolerance is inclusive")
	require.NoError(t, builtin.VerifySignature(secret, "v1="+goodSig+", t=1800000000", body, at, 0), "order and spaces do not matter")
	require.NoError(t, builtin.VerifySignature(secret, "t=1800000000,v1="+otherSig+",v1="+goodSig, body, at, 0), "any v1 may match (rotation)")
	require.NoError(t, builtin.VerifySignature(secret, good+",v2=future", body, at, 0), "unknown schemes are ignored")

	bad := map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   string
	}{
		"tampered body":    {secret, good, []byte(`{"a":2}`), at, "no signature matches"},
		"wrong secret":     {[]byte("nope"), good, body, at, "no signature matches"},
		"empty secret":     {nil, good, body, at, "no secret"},
		"too old":          {secret, good, body, at.Add(5*time.Minute + time.Second), "more than 5m0s from now"},
		"from the future":  {secret, good, body, at.Add(-6 * time.Minute), "more than 5m0s from now"},
		"other timestamp":  {secret, "t=1800000001,v1=" + goodSig, body, at, "no signature matches"},
		"empty header":     {secret, "", body, at, "malformed"},
		"no timestamp":     {secret, "v1=" + goodSig, body, at, "no timestamp"},
		"no v1":            {secret, "t=1800000000", body, at, "no v1"},
		"two timestamps":   {secret, "t=1800000000,t=1800000000,v1=" + goodSig, body, at, "twice"},
		"bad timestamp":    {secret, "t=soon,v1=" + goodSig, body, at, "not Unix seconds"},
		"huge timestamp":   {secret, "t=-9223372036854775808,v1=" + goodSig, body, at, "from now"},
		"short signature":  {secret, "t=1800000000,v1=abcd", body, at, "not a hex"},
		"not hex":          {secret, "t=1800000000,v1=" + strings.Repeat("z", 64), body, at, "not a hex"},
		"no equals":        {secret, "t=1800000000,garbage", body, at, "malformed"},
		"only other v1":    {secret, "t=1800000000,v1=" + otherSig, body, at, "no signature matches"},
		"upper-case key t": {secret, "T=1800000000,v1=" + goodSig, body, at, "no timestamp"},
	}
	for name, c := range bad {
		err := builtin.VerifySignature(c.secret, c.header, c.body, c.now, 0)
		require.ErrorIs(t, err, builtin.ErrBadSignature, name)
		require.ErrorContains(t, err, c.want, name)
	}
}
