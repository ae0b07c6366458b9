package web

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits of failed sign-ins per client address: the same as the API's on
// failed authentications, so that the sign-in form is no cheaper a way to
// make the server look keys up.
const (
	loginFailureRate  = 5  // per second, once the burst is spent
	loginFailureBurst = 20 // at once
	// maxLoginAddrs bounds the addresses remembered. Past it, addresses
	// whose allowance has refilled are forgotten first, then any.
	maxLoginAddrs = 10000
)

// failureLimiter counts failed sign-ins per client address.
type failureLimiter struct {
	now func() time.Time

	mu    sync.Mutex
	addrs map[string]*rate.Limiter
}

func newFailureLimiter(now func() time.Time) *failureLimiter {
	return &failureLimiter{now: now, addrs: map[string]*rate.Limiter{}}
}

// blocked tells whether addr has used up its failed sign-ins, and how long
// until it may try again.
func (l *failureLimiter) blocked(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.addrs[addr]
	if !ok {
		return false, 0
	}
	now := l.now()
	if lim.TokensAt(now) >= 1 {
		return false, 0
	}
	r := lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return true, d
}

// fail records a failed sign-in from addr.
func (l *failureLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim, ok := l.addrs[addr]
	if !ok {
		if len(l.addrs) >= maxLoginAddrs {
			for a, e := range l.addrs {
				if e.TokensAt(now) >= loginFailureBurst {
					delete(l.addrs, a)
				}
			}
			// Make room for a tenth more at once, so that the scans above
			// cost O(1) per new address on average.
			for a := range l.addrs {
				if len(l.addrs) < maxLoginAddrs*9/10 {
					break
				}
				delete(l.addrs, a)
			}
		}
		lim = rate.NewLimiter(loginFailureRate, loginFailureBurst)
		l.addrs[addr] = lim
	}
	lim.AllowN(now, 1)
}

// size is the number of addresses remembered.
func (l *failureLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

// clientAddr is the address the request came from, without the port. Behind
// a proxy it is the proxy's: forwarded headers are not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
