package simtest

import (
	"net/http"
	"strconv"
	"time"
)

// hdrs writes a reply's status and headers into one reused http.Response,
// without allocating: each header keeps its own one-element slice, and
// numbers come from a table of their decimal forms.
type hdrs struct {
	retryAfter, limit, remaining, reset []string
	// what the header map holds now, so that an answer without headers,
	// the usual one, deletes nothing
	hasRetryAfter, hasQuota bool
}

func newHdrs() hdrs {
	return hdrs{
		retryAfter: make([]string, 1), limit: make([]string, 1),
		remaining: make([]string, 1), reset: make([]string, 1),
	}
}

func (s *hdrs) set(resp *http.Response, r reply) {
	h := resp.Header
	resp.StatusCode = r.status
	switch {
	case r.retryAfter > 0:
		s.retryAfter[0] = itoa(ceilSeconds(r.retryAfter))
		h["Retry-After"] = s.retryAfter
		s.hasRetryAfter = true
	case s.hasRetryAfter:
		delete(h, "Retry-After")
		s.hasRetryAfter = false
	}
	switch {
	case r.headers:
		s.limit[0] = itoa(r.limit)
		s.remaining[0] = itoa(r.remaining)
		s.reset[0] = itoa(ceilSeconds(r.reset))
		h["X-Ratelimit-Limit"] = s.limit
		h["X-Ratelimit-Remaining"] = s.remaining
		h["X-Ratelimit-Reset"] = s.reset
		s.hasQuota = true
	case s.hasQuota:
		delete(h, "X-Ratelimit-Limit")
		delete(h, "X-Ratelimit-Remaining")
		delete(h, "X-Ratelimit-Reset")
		s.hasQuota = false
	}
}

// ceilSeconds rounds d up to whole seconds, as an upstream that sends
// integer seconds must to be safe.
func ceilSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}

var smallInts = func() []string {
	s := make([]string, 4096)
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func itoa(n int) string {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return strconv.Itoa(n)
}
