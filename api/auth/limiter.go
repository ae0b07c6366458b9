package auth

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Default limits of failed authentications per client address, shared by
// the API and the dashboard's sign-in form: past the burst, an address waits
// for its allowance before any key is looked up.
const (
	DefaultFailureRate  = 5  // per second, once the burst is spent
	DefaultFailureBurst = 20 // at once
)

// MaxBuckets bounds a Limiter's buckets. The failures limiter is keyed by
// client address, which a client with many addresses (an IPv6 prefix)
// chooses: past the bound, buckets full again are dropped first, then any.
const MaxBuckets = 100000

// Limiter keeps one token bucket per key. Buckets idle long enough to be
// full again are dropped, so memory follows the keys in recent use; there
// are never more than MaxBuckets.
type Limiter struct {
	rate  rate.Limit
	burst int
	now   func() time.Time
	// idle is how long a bucket must be unused before it is dropped: by then
	// it has refilled, so dropping it changes nothing.
	idle time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewLimiter returns a Limiter of perSecond tokens a second, in bursts of
// up to burst, per key; now is its clock.
func NewLimiter(perSecond float64, burst int, now func() time.Time) *Limiter {
	idle := time.Duration(float64(burst)/perSecond*float64(time.Second)) + time.Minute
	return &Limiter{rate: rate.Limit(perSecond), burst: burst, now: now, idle: idle, buckets: map[string]*bucket{}}
}

func (l *Limiter) bucket(key string, now time.Time) *bucket {
	if now.Sub(l.lastSweep) > l.idle {
		for k, b := range l.buckets {
			if now.Sub(b.last) > l.idle {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= MaxBuckets {
			for k, b := range l.buckets {
				if b.lim.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
			// Make room for a tenth more at once, so that the scans above
			// cost O(1) per new bucket on average.
			for k := range l.buckets {
				if len(l.buckets) < MaxBuckets*9/10 {
					break
				}
				delete(l.buckets, k)
			}
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	return b
}

// Allow takes a token from key's bucket, or tells how long until one is there.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket(key, now)
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Peek tells whether key's bucket holds a token, without taking it.
func (l *Limiter) Peek(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return true, 0
	}
	now := l.now()
	if b.lim.TokensAt(now) >= 1 {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return false, d
}

// Size is the number of buckets held.
func (l *Limiter) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
