package redisbucket

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// An instant goes to the script as nanoseconds from another (nsArg) and
// comes back as a float of them (addNanos): both ways, an instant centuries
// ahead stays where it was, to a millisecond, instead of saturating at 292
// years or wrapping to 1734.
func TestInstantRoundTrip(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 123, time.UTC)
	maxTime := time.Unix(maxUnix, 999_999_999).UTC()
	for _, to := range []time.Time{
		from,
		from.Add(time.Hour),
		from.Add(-time.Hour),
		from.Add(math.MaxInt64),
		from.Add(math.MaxInt64).Add(time.Hour),
		from.Add(math.MaxInt64).Add(math.MaxInt64),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1_000_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		arg := nsArg(to, from)
		d, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			t.Fatalf("nsArg(%v) = %q: %v", to, arg, err)
		}
		got := addNanos(from, d)
		// A double holds an offset to 16 digits: a millisecond for 292 years,
		// proportionally more beyond.
		tol := max(time.Millisecond, time.Duration(math.Abs(d)*1e-15))
		if diff := got.Sub(to); diff < -tol || diff > tol {
			t.Errorf("%v: nsArg %s, back as %v, off by %v", to, arg, got, diff)
		}
	}
	// time.Time's own end, and beyond it, saturate at the end.
	for _, d := range []float64{float64(maxTime.Unix()) * 1e9, 1e300, math.Inf(1), math.NaN()} {
		if got := addNanos(from, d); got.Before(maxTime.Add(-time.Hour)) {
			t.Errorf("addNanos(%g) = %v, want about %v", d, got, maxTime)
		}
	}
	// Far back saturates 292 years back: as past as any instant.
	for _, d := range []float64{-1 << 63, -1e300, math.Inf(-1)} {
		if got := addNanos(from, d); !got.Equal(from.Add(math.MinInt64)) {
			t.Errorf("addNanos(%g) = %v, want %v", d, got, from.Add(math.MinInt64))
		}
	}
}
