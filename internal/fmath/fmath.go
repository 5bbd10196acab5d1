package fmath

import "math"

// Min is math.Min(x, y) with the common comparisons inlined: only equal
// operands (where a zero's sign matters) and NaNs take math.Min's own
// path, so the result is math.Min's in every case. math.Min itself is not
// inlined: in the policy step and the refill, the call showed in profiles.
func Min(x, y float64) float64 {
	switch {
	case x < y:
		return x
	case y < x:
		return y
	}
	return math.Min(x, y)
}
