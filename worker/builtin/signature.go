package builtin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultSignatureTolerance is how far a signature's timestamp may be from
// the receiver's clock when VerifySignature is given no tolerance.
const DefaultSignatureTolerance = 5 * time.Minute

// ErrBadSignature is wrapped by every error VerifySignature returns.
var ErrBadSignature = errors.New("bad signature")

// Sign returns the Flask-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a Flask-Signature header against the exact request
// body a receiver got. It returns nil when one v1 signature matches and the
// timestamp lies within tolerance of now (DefaultSignatureTolerance when
// tolerance is 0 or less); otherwise an error wrapping ErrBadSignature.
//
// The scheme, for receivers in any language: with the secret "whsec_example"
// and the body {"order_id":42} sent at 2025-11-26T00:00:00Z, the header reads
//
//	Flask-Signature: t=1764115200,v1=86b0afe68926582f14b9dd49fa2b159d17f7c78cee2c91e5501b3b7acbc8b1da
//
// where t is the sending time in Unix seconds and v1 is the lower-case hex
// HMAC-SHA256, keyed with the shared secret, of the bytes of t in decimal,
// a '.', and the raw request body, unparsed. To verify: split the header on
// ',' and each part on the first '='; compute the HMAC over t + "." + body;
// compare it with every v1 value in constant time (several may appear while
// a secret is rotated); reject when none matches or when t is more than a
// few minutes from your clock, which limits replays. Ignore unknown keys, so
// that later schemes (v2=...) can be added. Deduplicate redeliveries with
// the Idempotency-Key header.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrBadSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed header part %q", ErrBadSignature, truncate(part, 32))
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: timestamp given twice", ErrBadSignature)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 is not a hex SHA-256 HMAC", ErrBadSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" {
		return fmt.Errorf("%w: no timestamp (t=)", ErrBadSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrBadSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrBadSignature, truncate(ts, 32))
	}
	// Compare in seconds, on the side that cannot overflow for any t.
	nowSec, tol := now.Unix(), int64(tolerance/time.Second)
	if sec < nowSec-tol || sec > nowSec+tol {
		return fmt.Errorf("%w: timestamp %d is more than %s from now", ErrBadSignature, sec, tolerance)
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no signature matches the body", ErrBadSignature)
}

// truncate shortens s to at most n bytes, cutting on a rune boundary and
// marking the cut with "…".
func truncate(s string, n int) string {
	const ellipsis = "…"
	if len(s) <= n {
		return s
	}
	if n < len(ellipsis) {
		return ""
	}
	n -= len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}
