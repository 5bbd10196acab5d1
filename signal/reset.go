package signal

import (
	"math"
	"net/http"
	"time"
)

// EpochThreshold is the smallest numeric reset value read as a Unix time
// (seconds since 1970) rather than as seconds from now, on any clock that
// reads 2001 or later, which is every real clock. 1e9 seconds is almost 32
// years, longer than any quota window, and as an instant it is September
// 2001, before any of these headers existed; so the two readings cannot be
// confused by a server that follows either convention.
//
// A clock that reads earlier (a [testing/synctest] bubble starts at
// 2000-01-01, Unix 946,684,800; a clock.Fake may start anywhere) would
// otherwise read the Unix times of a server sharing it as waits of
// decades. On a clock that reads between 1970 and 2001 the bound is half
// of now's Unix time instead: a Unix time a server sends is about now (a
// window ahead at most), while a delta, a window's length, is below half
// of now unless the clock reads within days of 1970; and there the two
// readings differ by now's Unix time, which is small (at Unix 0 they are
// the same). A clock before 1970 keeps 1e9. An upstream whose
// documentation says which form it sends can say so with
// [HTTP.XRateLimitReset].
const EpochThreshold = 1e9

// ResetForm says how a numeric X-RateLimit-Reset value is read. The
// header has no standard meaning: GitHub sends a Unix time, other vendors
// seconds from now.
type ResetForm uint8

const (
	// ResetAuto tells the two forms apart by size, against now: see
	// [EpochThreshold]. It is the zero value.
	ResetAuto ResetForm = iota
	// ResetUnix reads every numeric value as a Unix time in seconds, as
	// GitHub documents x-ratelimit-reset; a small one is an instant long
	// past, so a Reset of 0.
	ResetUnix
	// ResetSeconds reads every numeric value as seconds from now.
	ResetSeconds
)

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
// relative to now. A number is read as form says (see [ResetForm]; with
// ResetAuto, seconds from now unless it is at least epochThreshold(now),
// then a Unix time); a timestamp (RFC 3339, ISO 8601 to the minute as Jira
// sends it, or an HTTP-date) is absolute. A reset in the past gives 0.
func parseReset(v string, now time.Time, form ResetForm) (time.Duration, bool) {
	v = trimOWS(v)
	if f, ok := parseDecimal(v); ok {
		return resetFromNumber(f, now, form), true
	}
	if t, ok := parseTimestamp(v); ok {
		return until(t, now), true
	}
	return 0, false
}

// epochThreshold returns the smallest numeric reset read as a Unix time at
// now by ResetAuto: EpochThreshold, or half of now's Unix time on a clock
// that reads between 1970 and 2001.
func epochThreshold(now time.Time) float64 {
	if u := now.Unix(); u > 0 && u < EpochThreshold {
		return float64(u) / 2
	}
	return EpochThreshold
}

// resetFromNumber reads a numeric reset f, in seconds, as form says.
func resetFromNumber(f float64, now time.Time, form ResetForm) time.Duration {
	if math.IsNaN(f) || f <= 0 {
		return 0
	}
	switch form {
	case ResetSeconds:
		return scaleDuration(f, time.Second)
	case ResetUnix:
	default:
		if f < epochThreshold(now) {
			return scaleDuration(f, time.Second)
		}
	}
	if f >= maxEpoch {
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
