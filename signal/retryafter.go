package signal

import (
	"net/http"
	"time"
)

// Header names in canonical form, so that lookups index the map directly:
// http.Header.Get would canonicalize the key on every call.
const (
	hdrRetryAfter   = "Retry-After"
	hdrRetryAfterMs = "Retry-After-Ms"
)

// ParseRetryAfter returns how long the response headers h ask the caller to
// wait, and whether they said anything usable.
//
// retry-after-ms (milliseconds, possibly fractional; sent by OpenAI and
// Anthropic) wins over Retry-After, because it is the more precise of the
// two when both are sent. Retry-After may be whole seconds, fractional
// seconds ("1.5") or an HTTP-date, which is measured from now.
//
// A negative value, or a date in the past, gives 0 and true: the upstream
// did say something, namely that there is no need to wait. A value too large
// for a Duration saturates at the largest one rather than wrapping around;
// capping it to something reasonable is the job of whoever acts on it. A
// malformed value gives 0 and false, never an error; a malformed
// retry-after-ms falls back to Retry-After.
func ParseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v, ok := first(h, hdrRetryAfterMs); ok {
		if d, ok := parseDecimalDuration(v, time.Millisecond); ok {
			return d, true
		}
	}
	v, ok := first(h, hdrRetryAfter)
	if !ok {
		return 0, false
	}
	if d, ok := parseDecimalDuration(v, time.Second); ok {
		return d, true
	}
	t, err := http.ParseTime(trimOWS(v))
	if err != nil {
		return 0, false
	}
	return until(t, now), true
}

// first returns the first value of the canonical header key. A field sent
// twice is a server bug; the first value is as good a guess as any.
func first(h http.Header, key string) (string, bool) {
	vs := h[key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// until returns the time from now to t, never negative. time.Time.Sub
// already saturates instead of overflowing.
func until(t, now time.Time) time.Duration {
	return max(t.Sub(now), 0)
}
