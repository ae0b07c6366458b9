package job

import (
	"math"
	"time"
)

// Backoff is an exponential backoff with full jitter: the delay before attempt
// n+1 is drawn uniformly from [Min, min(Max, Base·2^(n-1))].
type Backoff struct {
	// Base is the ceiling of the first delay.
	Base time.Duration
	// Max caps the ceiling of every delay.
	Max time.Duration
	// Min is a floor under every delay (0 for pure full jitter).
	Min time.Duration
}

// DefaultBackoff is used by job types that set none: up to 1s, 2s, 4s … capped at 1h.
var DefaultBackoff = Backoff{Base: time.Second, Max: time.Hour}

// Delay returns the wait after the given failed attempt (1-based). rnd must be
// a number in [0, 1), such as rand.Float64().
func (b Backoff) Delay(attempt int, rnd float64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	ceiling := float64(b.Base) * math.Pow(2, float64(attempt-1))
	if ceiling > float64(b.Max) || math.IsInf(ceiling, 0) {
		ceiling = float64(b.Max)
	}
	floor := float64(b.Min)
	if ceiling < floor {
		ceiling = floor
	}
	return time.Duration(floor + rnd*(ceiling-floor))
}
