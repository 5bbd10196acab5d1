package simtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// percentile selects what sorting would give, nearest rank.
func TestPercentile(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		ds := make([]time.Duration, n)
		for i := range ds {
			ds[i] = time.Duration(rng.IntN(50)) // many ties
		}
		sorted := slices.Sorted(slices.Values(ds))
		for _, p := range []float64{0, 0.01, 0.5, 0.9, 0.99, 1} {
			got := percentile(slices.Clone(ds), p)
			var want time.Duration
			if n > 0 {
				want = sorted[min(max(int(math.Ceil(p*float64(n)))-1, 0), n-1)]
			}
			if got != want {
				t.Fatalf("n=%d p=%v: %v, want %v", n, p, got, want)
			}
		}
	}
}
