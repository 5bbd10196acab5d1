package signal

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

// HTTP is the built-in Classifier for HTTP upstreams. Its zero value is the
// default: 429 is Throttled; 500, 502, 503 and 504 are Overloaded; any other
// status of 400 or above is Failed; everything else is a Success.
//
// A transport error is Canceled when it wraps context.Canceled (the caller
// gave up, which says nothing about the upstream) and Overloaded otherwise:
// a timeout, context.DeadlineExceeded or a refused connection is what an
// upstream near its limits looks like from the client.
//
// Retry-After and the quota headers are read from every response, not only
// from refusals: the quota a 200 reports is what lets the limiter slow down
// before it is throttled. See [ParseRetryAfter] and [ParseQuota] for the
// forms understood. When a Throttled response carries no Retry-After but
// reports an exhausted quota with a reset, RetryAfter is that reset (the
// longest, when both the request and the token quota are exhausted), since
// that is when a retry can succeed.
//
// HTTP never reads or closes the response body. It holds no state, so it is
// safe for concurrent use, and it does not allocate for a response without
// rate-limit headers.
type HTTP struct {
	// Throttled lists the status codes that mean a rate limit refused the
	// call. nil means [DefaultThrottled]; an empty non-nil slice means
	// none. A status in both lists is Throttled.
	Throttled []int
	// Overloaded lists the status codes that mean the upstream could not
	// serve the call. nil means [DefaultOverloaded]; an empty non-nil slice
	// means none.
	Overloaded []int
	// Clock is what an HTTP-date or a Unix-time reset is measured against.
	// nil means clock.Real.
	Clock clock.Clock
	// XRateLimitReset says how a numeric X-RateLimit-Reset is read. The
	// zero value, [ResetAuto], tells a Unix time from seconds by size (see
	// [EpochThreshold]); an upstream that documents its form (GitHub: Unix
	// time) sets it. The standard fields (RateLimit t, RateLimit-Reset)
	// always use ResetAuto.
	XRateLimitReset ResetForm
}

var _ Classifier = HTTP{}

// DefaultThrottled returns the status codes HTTP treats as Throttled when
// its Throttled field is nil: 429 Too Many Requests. Each call returns a new
// slice, so a caller may append to it (Notion's 529, say) freely.
func DefaultThrottled() []int {
	return []int{http.StatusTooManyRequests}
}

// DefaultOverloaded returns the status codes HTTP treats as Overloaded when
// its Overloaded field is nil: 500, 502, 503 and 504. 501 Not Implemented
// and 505 HTTP Version Not Supported are left out: retrying them more
// slowly will not help. Each call returns a new slice.
func DefaultOverloaded() []int {
	return []int{
		http.StatusInternalServerError,
		http.StatusBadGateway,
		http.StatusServiceUnavailable,
		http.StatusGatewayTimeout,
	}
}

// Classify turns a round trip's result into a Signal. A nil response
// without an error, which no RoundTripper should return, is Failed: it is no
// evidence about capacity either way.
func (c HTTP) Classify(resp *http.Response, err error) Signal {
	var s Signal
	c.classify(resp, err, &s)
	return s
}

// classify is Classify into *s, which is the zero Signal.
func (c *HTTP) classify(resp *http.Response, err error, s *Signal) {
	if err != nil {
		if errors.Is(err, context.Canceled) {
			s.Kind = Canceled
			return
		}
		s.Kind = Overloaded
		return
	}
	if resp == nil {
		s.Kind = Failed
		return
	}
	s.Kind, s.Status = c.kind(resp.StatusCode), resp.StatusCode
	if hintless(resp.Header) {
		return
	}
	now := c.now()
	ra, hasRA := ParseRetryAfter(resp.Header, now)
	s.RetryAfter, s.HasRetryAfter = ra, hasRA
	s.Quota, s.TokenQuota = parseQuota(resp.Header, now, c.XRateLimitReset)
	if s.Kind == Throttled && !hasRA {
		s.RetryAfter = exhaustedReset(s.Quota, s.TokenQuota)
		s.HasRetryAfter = s.RetryAfter > 0
	}
}

// hintless reports whether h surely holds none of the headers Classify
// reads (Retry-After, Retry-After-Ms, RateLimit*, X-RateLimit*): for the
// usual response, a glance at a handful of keys is cheaper than a dozen
// lookups and a clock read. Any key of nine letters or more that starts
// with R or X, in either case, sends h to the parsers.
func hintless(h http.Header) bool {
	switch n := len(h); {
	case n == 0: // no need to start an iteration over an empty map
		return true
	case n > 16:
		return false
	}
	for k := range h {
		if len(k) >= 9 && (k[0]|0x20 == 'r' || k[0]|0x20 == 'x') {
			return false
		}
	}
	return true
}

func (c *HTTP) kind(code int) Kind {
	switch {
	case c.Throttled == nil && code == http.StatusTooManyRequests,
		slices.Contains(c.Throttled, code):
		return Throttled
	case c.Overloaded == nil && defaultOverloaded(code),
		slices.Contains(c.Overloaded, code):
		return Overloaded
	case code >= 400:
		return Failed
	}
	return Success
}

// defaultOverloaded matches DefaultOverloaded without building the slice.
func defaultOverloaded(code int) bool {
	switch code {
	case http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (c *HTTP) now() time.Time {
	if c.Clock == nil {
		return clock.Real.Now()
	}
	return c.Clock.Now()
}

// exhaustedReset returns the longer of the waits until the quotas that are
// used up free a unit ([Quota.UntilUnit]), or 0.
func exhaustedReset(requests, tokens Quota) time.Duration {
	return max(requests.UntilUnit(), tokens.UntilUnit())
}
