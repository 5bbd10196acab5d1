package dynlimit

import (
	"math"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// The batch keeps only the low 32 bits of its epoch; widen recovers the
// full epoch from the newest one the limiter has seen.
func TestWiden(t *testing.T) {
	const hi = 1 << 32
	tests := []struct {
		name string
		low  uint32
		ref  uint64
		want uint64
	}{
		{"same epoch", 7, 7, 7},
		{"older epoch", 3, 7, 3},
		{"epoch zero", 0, 0, 0},
		{"same epoch above 2^32", 5, 3*hi + 5, 3*hi + 5},
		{"older epoch above 2^32", 2, 3*hi + 5, 3*hi + 2},
		{"older epoch across a wrap of the low bits", math.MaxUint32, 3 * hi, 2*hi + math.MaxUint32},
		{"older epoch just across the wrap", math.MaxUint32 - 1, 3*hi + 1, 2*hi + math.MaxUint32 - 1},
		{"ref at 2^32", math.MaxUint32, hi, math.MaxUint32},
		{"largest epoch", math.MaxUint32, math.MaxUint64, math.MaxUint64},
		{"below the largest epoch", 0, math.MaxUint64, math.MaxUint64 - math.MaxUint32},
		// No epoch <= ref has these low bits: the batch is newer than ref,
		// which observeEpoch takes as "not older, leave it".
		{"newer than ref, no older candidate", 9, 7, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := widen(tt.low, tt.ref)
			if got != tt.want {
				t.Errorf("widen(%#x, %#x) = %#x, want %#x", tt.low, tt.ref, got, tt.want)
			}
			if uint32(got) != tt.low {
				t.Errorf("widen(%#x, %#x) = %#x: low bits changed", tt.low, tt.ref, got)
			}
		})
	}
}

// Every epoch within 2^32 below ref is recovered from its low bits.
func TestWidenRecoversRecentEpochs(t *testing.T) {
	for _, ref := range []uint64{0, 1, 1000, 1<<32 - 1, 1 << 32, 1<<32 + 1, 5<<32 + 12345, math.MaxUint64} {
		for _, back := range []uint64{0, 1, 2, 1000, 1<<31 + 7, 1<<32 - 1} {
			if back > ref {
				continue
			}
			e := ref - back
			if got := widen(uint32(e), ref); got != e {
				t.Errorf("widen(low bits of %#x, %#x) = %#x", e, ref, got)
			}
		}
	}
}

// noHints must agree with Quota.Known on every kind of field.
func TestNoHintsIsNotKnown(t *testing.T) {
	nan := math.NaN()
	for _, q := range []signal.Quota{
		{}, {Limit: 10}, {Limit: -1}, {Limit: nan}, {Remaining: 5}, {HasRemaining: true},
		{Reset: time.Second}, {Reset: -time.Second}, {Cost: 2}, {Cost: nan},
		{Limit: 10, Remaining: 3, HasRemaining: true, Reset: time.Minute, Cost: 1},
	} {
		if got, want := noHints(&q), !q.Known(); got != want {
			t.Errorf("noHints(%+v) = %v, want %v", q, got, want)
		}
	}
}
