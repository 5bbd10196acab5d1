package redisbucket

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// An instant goes to the script as nanoseconds from another (nsArg), which
// the script reads into a double as strconv.ParseFloat does, and comes back
// as that double (addSpan): an instant centuries ahead stays where it was,
// to the double's precision, instead of saturating at 292 years or
// wrapping to 1734; and once rounded it goes back and forth unchanged.
func TestInstantRoundTrip(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 123, time.UTC)
	maxTime := time.Unix(maxUnix, 999_999_999).UTC()
	for _, to := range []time.Time{
		from,
		from.Add(time.Hour),
		from.Add(-time.Hour),
		from.Add(1<<62 + 12345),
		from.Add(math.MaxInt64),
		from.Add(math.MaxInt64).Add(time.Hour + 777),
		from.Add(math.MaxInt64).Add(math.MaxInt64),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(1_000_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		arg := nsArg(to, from)
		d, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			t.Fatalf("nsArg(%v) = %q: %v", to, arg, err)
		}
		got := addSpan(from, d, 0)
		// A double holds an offset to 16 digits: 2µs for 292 years,
		// proportionally more beyond.
		tol := time.Duration(math.Abs(d)*1.2e-16) + 1
		if diff := got.Sub(to); diff < -tol || diff > tol {
			t.Errorf("%v: nsArg %s, back as %v, off by %v", to, arg, got, diff)
		}
		// Measured from another base, as replies are (the call's now).
		base := 3.6e12
		if again := addSpan(from.Add(time.Duration(base)), d, base); !again.Equal(got) {
			t.Errorf("%v: from the call's now, back as %v, not %v", to, again, got)
		}
		for range 3 {
			d2, _ := strconv.ParseFloat(nsArg(got, from), 64)
			if d2 != d {
				t.Errorf("%v: sent again as %v, not %v", to, d2, d)
			}
			got = addSpan(from, d2, 0)
		}
	}
	// time.Time's own end, and beyond it, saturate at the end.
	for _, d := range []float64{float64(maxTime.Unix()) * 1e9, 1e300, math.Inf(1), math.NaN()} {
		if got := addSpan(from, d, 0); got.Before(maxTime.Add(-time.Hour)) {
			t.Errorf("addSpan(%g) = %v, want about %v", d, got, maxTime)
		}
	}
	// Far back saturates 292 years back: as past as any instant.
	for _, d := range []float64{-1 << 63, -1e300, math.Inf(-1)} {
		if got := addSpan(from, d, 0); !got.Equal(from.Add(math.MinInt64)) {
			t.Errorf("addSpan(%g) = %v, want %v", d, got, from.Add(math.MinInt64))
		}
	}
}
