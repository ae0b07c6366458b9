package scalesim

import (
	"math"
	"math/bits"
)

// waitHistogram counts queue waits (ms) in fixed memory whatever the number
// of jobs: every ms below 2^16 (65.5 s) has its own bucket, longer waits
// share buckets 2^-15 of their value wide (0.11 s at an hour). Quantiles
// are nearest-rank, exact below 65.5 s; the maximum is kept exactly.
type waitHistogram struct {
	counts []uint32
	n      int
	max    int64
}

const waitExactBits = 16

// waitBucket is the bucket of a wait of v ms.
func waitBucket(v int64) int {
	if v < 1<<waitExactBits {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - waitExactBits
	return 1<<waitExactBits + (shift-1)<<(waitExactBits-1) + int(v>>shift) - 1<<(waitExactBits-1)
}

// waitFloor is the smallest wait of bucket i.
func waitFloor(i int) int64 {
	if i < 1<<waitExactBits {
		return int64(i)
	}
	i -= 1 << waitExactBits
	shift := i>>(waitExactBits-1) + 1
	return (int64(i&(1<<(waitExactBits-1)-1)) + 1<<(waitExactBits-1)) << shift
}

func (h *waitHistogram) add(v int64) {
	v = max(v, 0)
	b := waitBucket(v)
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]uint32, b+1-len(h.counts))...)
	}
	h.counts[b]++
	h.n++
	h.max = max(h.max, v)
}

// quantile is the nearest-rank p-quantile (p in (0, 1]): the smallest wait
// at least p of the waits do not exceed; 0 without waits.
func (h *waitHistogram) quantile(p float64) int64 {
	if h.n == 0 {
		return 0
	}
	if p >= 1 {
		return h.max
	}
	rank := max(int(math.Ceil(p*float64(h.n))), 1)
	seen := 0
	for i, c := range h.counts {
		if seen += int(c); seen >= rank {
			return min(waitFloor(i), h.max)
		}
	}
	return h.max
}
