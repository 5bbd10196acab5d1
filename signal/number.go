package signal

import (
	"errors"
	"math"
	"strconv"
	"time"
)

// maxDuration is where durations computed from header values saturate: a
// value that large is kept (whoever acts on it caps it) but must not wrap
// around into a negative Duration.
const maxDuration = time.Duration(math.MaxInt64)

// splitDecimal checks that s is one of the plain decimal numbers rate-limit
// headers carry: an optional sign, digits and an optional fraction, with at
// least one digit. It returns the sign and the unsigned part. Exponents,
// hexadecimal, underscores, "NaN" and "Inf", which strconv.ParseFloat would
// accept, are rejected: no upstream sends them on purpose, and garbage must
// not be mistaken for a number.
func splitDecimal(s string) (neg bool, num string, ok bool) {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	n := decimalPrefix(s)
	if n == 0 || n != len(s) {
		return false, "", false
	}
	return neg, s, true
}

// decimalPrefix returns the length of the longest prefix of s made of digits
// and at most one '.', or 0 when that prefix holds no digit.
func decimalPrefix(s string) int {
	i, digits, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		if '0' <= c && c <= '9' {
			digits++
		} else if c == '.' && !dot {
			dot = true
		} else {
			break
		}
	}
	if digits == 0 {
		return 0
	}
	return i
}

// parseDecimal parses a plain decimal number (see splitDecimal) surrounded
// by optional white space. A well-formed number too large for a float64
// comes back as ±Inf with ok true; callers that store the value check
// finiteness.
func parseDecimal(s string) (f float64, ok bool) {
	s = trimOWS(s)
	if _, _, ok := splitDecimal(s); !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	// On a range error ParseFloat returns ±Inf (overflow) or ±0 (underflow),
	// which is the value wanted in both cases.
	return f, true
}

// parseDecimalDuration parses a plain decimal number of units, surrounded by
// optional white space, into a Duration: negative values give 0, values too
// large saturate.
func parseDecimalDuration(s string, unit time.Duration) (time.Duration, bool) {
	neg, num, ok := splitDecimal(trimOWS(s))
	if !ok {
		return 0, false
	}
	if neg {
		return 0, true
	}
	return decimalDuration(num, unit), true
}

// decimalDuration returns the unsigned decimal num (validated by the caller)
// times unit. Like time.ParseDuration, it is exact on the whole part and
// truncates the fraction to the nanosecond; unlike it, it saturates at
// maxDuration instead of failing.
func decimalDuration(num string, unit time.Duration) time.Duration {
	const limit = 1 << 63
	var whole uint64
	i := 0
	for ; i < len(num) && num[i] != '.'; i++ {
		if whole > limit/10 {
			return maxDuration
		}
		whole = whole*10 + uint64(num[i]-'0')
	}
	var frac uint64
	scale := 1.0
	if i < len(num) {
		for _, c := range []byte(num[i+1:]) {
			// Digits beyond what a uint64 holds change nothing at the
			// nanosecond, as in time.ParseDuration.
			if frac > (limit-1)/10 {
				break
			}
			y := frac*10 + uint64(c-'0')
			if y > limit {
				break
			}
			frac = y
			scale *= 10
		}
	}
	u := uint64(unit)
	if whole >= limit || whole > (limit-1)/u {
		return maxDuration
	}
	v := whole * u
	if frac > 0 {
		// At most unit more: no uint64 overflow.
		v += uint64(float64(frac) * (float64(u) / scale))
	}
	if v >= limit {
		return maxDuration
	}
	return time.Duration(v)
}

// finite reports whether f is a number a Quota may hold.
func finite(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// scaleDuration returns f units as a Duration, rounded to the nanosecond:
// zero for a negative f, maxDuration for one too large to represent.
func scaleDuration(f float64, unit time.Duration) time.Duration {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	ns := f * float64(unit)
	// float64(math.MaxInt64) is 2^63, one past the largest Duration; every
	// float64 below it converts without overflow.
	if ns >= float64(math.MaxInt64) {
		return maxDuration
	}
	return time.Duration(math.Round(ns))
}

// trimOWS removes the optional white space (RFC 9110: spaces and tabs)
// around a field value, without allocating.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
