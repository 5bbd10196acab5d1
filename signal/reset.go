package signal

import (
	"math"
	"net/http"
	"time"
)

// EpochThreshold is the smallest numeric reset value read as a Unix time
// (seconds since 1970) rather than as seconds from now. 1e9 seconds is
// almost 32 years, longer than any quota window, and as an instant it is
// September 2001, before any of these headers existed; so the two readings
// cannot be confused by a server that follows either convention.
const EpochThreshold = 1e9

// maxEpoch bounds the Unix times handed to time.Unix, whose arithmetic
// would overflow near math.MaxInt64; an instant 31 million years away is
// maxDuration from any realistic now anyway.
const maxEpoch = 1e15

// ParseResetDuration parses the duration strings OpenAI sends in its
// x-ratelimit-reset-requests and x-ratelimit-reset-tokens headers.
//
// It accepts what time.ParseDuration accepts ("1s", "6m0s", "12ms",
// "1.5s", "1m30.5s", "300µs"), plus "d" for 24-hour days, and a bare number
// ("20", "0.5"), which is seconds. Surrounding spaces are ignored. A
// negative duration gives 0 and true, and one too long for a Duration
// saturates at the largest one instead of failing as time.ParseDuration
// would. Anything else gives 0 and false.
func ParseResetDuration(s string) (time.Duration, bool) {
	s = trimOWS(s)
	if d, ok := parseDecimalDuration(s, time.Second); ok {
		return d, true
	}
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "" {
		return 0, false
	}
	var total time.Duration
	for s != "" {
		n := decimalPrefix(s)
		if n == 0 {
			return 0, false
		}
		num := s[:n]
		s = s[n:]
		j := 0
		for j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9') {
			j++
		}
		unit, ok := durationUnit(s[:j])
		if !ok {
			return 0, false
		}
		s = s[j:]
		d := decimalDuration(num, unit)
		if total > maxDuration-d {
			total = maxDuration
		} else {
			total += d
		}
	}
	if neg {
		return 0, true
	}
	return total, true
}

func durationUnit(u string) (time.Duration, bool) {
	switch u {
	case "ns":
		return time.Nanosecond, true
	case "us", "µs", "μs": // U+00B5 and U+03BC, as time.ParseDuration
		return time.Microsecond, true
	case "ms":
		return time.Millisecond, true
	case "s":
		return time.Second, true
	case "m":
		return time.Minute, true
	case "h":
		return time.Hour, true
	case "d":
		return 24 * time.Hour, true
	}
	return 0, false
}

// parseReset reads a reset header value as a time until the quota frees,
// relative to now. A number is seconds from now, or a Unix time when it is
// at least EpochThreshold; a timestamp (RFC 3339, ISO 8601 to the minute as
// Jira sends it, or an HTTP-date) is absolute. A reset in the past gives 0.
func parseReset(v string, now time.Time) (time.Duration, bool) {
	v = trimOWS(v)
	if f, ok := parseDecimal(v); ok {
		return resetFromNumber(f, now), true
	}
	if t, ok := parseTimestamp(v); ok {
		return until(t, now), true
	}
	return 0, false
}

// resetFromNumber applies the EpochThreshold rule to a numeric reset.
func resetFromNumber(f float64, now time.Time) time.Duration {
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f < EpochThreshold:
		return scaleDuration(f, time.Second)
	case f >= maxEpoch:
		return maxDuration
	}
	sec, frac := math.Modf(f)
	return until(time.Unix(int64(sec), int64(frac*1e9)), now)
}

// timestampLayouts are the absolute forms seen in reset headers. time.Parse
// accepts fractional seconds after the seconds field even when the layout
// does not show them.
var timestampLayouts = [...]string{
	time.RFC3339,               // 2026-11-27T14:30:00Z, Anthropic
	"2006-01-02T15:04Z07:00",   // 2026-11-27T14:30Z, Jira
	"2006-01-02T15:04:05Z0700", // ISO 8601 basic offsets: +0100
	"2006-01-02T15:04Z0700",
}

// parseTimestamp parses an absolute reset time. A timestamp without a zone
// is rejected: it would be in the server's local time, which the client
// cannot know.
func parseTimestamp(v string) (time.Time, bool) {
	if len(v) >= 10 && v[4] == '-' {
		for _, layout := range timestampLayouts {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	return t, err == nil
}
