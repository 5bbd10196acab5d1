package simtest

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// instant builds the very Time that Epoch.Add does, and between computes
// what Sub does, over offsets from nothing to centuries and both signs.
func TestInstantAndBetween(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ds := []time.Duration{0, 1, time.Second - 1, time.Second, time.Hour, -1, -time.Second - 1, math.MaxInt64, math.MinInt64 + 1}
	for range 20000 {
		a, b := time.Duration(rng.Int64()), time.Duration(rng.Int64())
		ds = append(ds, time.Duration(rng.Int64N(int64(24*time.Hour))), a-b)
	}
	for _, d := range ds {
		if got, want := instant(d), Epoch.Add(d); got != want {
			t.Fatalf("instant(%d) = %#v, want Epoch.Add's %#v", d, got, want)
		}
	}
	for i := 1; i < len(ds); i++ {
		a, b := Epoch.Add(ds[i-1]), Epoch.Add(ds[i])
		if got, want := between(a, b), a.Sub(b); got != want {
			t.Fatalf("between(%v, %v) = %d, want Sub's %d", a, b, got, want)
		}
		if got, want := between(b, a), b.Sub(a); got != want {
			t.Fatalf("between(%v, %v) = %d, want Sub's %d", b, a, got, want)
		}
	}
}
