package integrations

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// bodyPeekLimit bounds how much of a response body a rule reads: the error
// documents the rules look into are a few hundred bytes, and a rule must not
// buffer a large download just to classify it.
const bodyPeekLimit = 64 << 10

// gitHubSecondaryWait is what octokit's throttling plugin waits on a
// secondary rate limit sent without retry-after (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
const gitHubSecondaryWait = 60 * time.Second

// GitHubClassifier returns the Classifier for the GitHub REST API
// (https://api.github.com), which refuses with 403 as often as with 429,
// for its primary and its secondary limits alike (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api):
//
//   - 429 is Throttled.
//   - 403 is Throttled only when x-ratelimit-remaining is 0, when a
//     retry-after is sent, or when the body mentions a "secondary rate
//     limit" in any case (the first 64 KiB are read with [signal.PeekBody],
//     so the caller still reads all of it). Any other 403 is a permission
//     error: Failed, which leaves the rate alone.
//   - x-ratelimit-reset is always read as a Unix time, measured against
//     clk, as GitHub documents it, whatever clk reads: a reset an hour
//     ahead of a testing/synctest bubble's 2000-01-01 is an hour away
//     ([signal.ResetUnix]).
//   - A throttle waits what retry-after says. Without one, an exhausted
//     primary limit waits until x-ratelimit-reset plus one second, and
//     anything else, a secondary limit, 60 s: both as octokit's throttling
//     plugin does. HasRetryAfter is set then, so that the wait is taken as
//     said rather than replaced by a backoff.
//   - Everything else is what [signal.HTTP] says, quota headers included.
//
// A nil clk means clock.Real.
func GitHubClassifier(clk clock.Clock) signal.Classifier {
	// GitHub documents x-ratelimit-reset as the time the window resets, in
	// UTC epoch seconds:
	// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
	base := signal.HTTP{Clock: clk, XRateLimitReset: signal.ResetUnix}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		// signal.HTTP may have filled RetryAfter from an exhausted quota;
		// what matters here is whether GitHub sent one.
		_, sent := signal.ParseRetryAfter(resp.Header, readClock(clk))
		if resp.StatusCode == http.StatusForbidden && !gitHubLimited(resp, s.Quota, sent) {
			return s, true
		}
		s.Kind = signal.Throttled
		if !sent {
			s.RetryAfter = gitHubSecondaryWait
			if d, ok := gitHubPrimaryWait(s.Quota, resp.Header); ok {
				s.RetryAfter = d
			}
			s.HasRetryAfter = true
		}
		// A request refused for a rate limit, primary or secondary, was
		// not acted on: a POST (an issue, a comment) is safe to resend.
		s.Unprocessed = true
		return s, true
	}))
}

// gitHubLimited reports whether a 403 is a rate limit rather than a missing
// permission. q is its quota and sentRetryAfter whether it carries a usable
// retry-after; an unusable one still says "rate limit".
func gitHubLimited(resp *http.Response, q signal.Quota, sentRetryAfter bool) bool {
	if q.Exhausted() || sentRetryAfter || strings.TrimSpace(resp.Header.Get("Retry-After")) != "" {
		return true
	}
	// The body is looked at last: the headers settle the common cases
	// without touching it.
	body, _ := signal.PeekBody(resp, bodyPeekLimit)
	return containsFold(body, "secondary rate limit")
}

// gitHubPrimaryWait returns how long an exhausted primary limit lasts: until
// its reset plus one second, to allow for GitHub's clock being ahead of ours.
// A reset that is already past still waits that second. It reports false
// when the quota is not exhausted or no usable reset was sent.
func gitHubPrimaryWait(q signal.Quota, h http.Header) (time.Duration, bool) {
	if !q.Exhausted() {
		return 0, false
	}
	if q.Reset > 0 {
		return addSat(q.Reset, time.Second), true
	}
	// Reset is 0 both for a reset in the past and for a malformed one; only
	// the former is a reset at all.
	if _, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Ratelimit-Reset")), 10, 64); err == nil {
		return time.Second, true
	}
	return 0, false
}

// addSat returns d+e for non-negative durations, saturating instead of
// wrapping around: a reset may already be the largest Duration.
func addSat(d, e time.Duration) time.Duration {
	if d > math.MaxInt64-e {
		return math.MaxInt64
	}
	return d + e
}

// containsFold reports whether b contains s, ignoring ASCII case, without
// the copy a bytes.ToLower would make of up to bodyPeekLimit bytes.
func containsFold(b []byte, s string) bool {
	n := len(s)
	for i := 0; i+n <= len(b); i++ {
		if asciiEqualFold(b[i:i+n], s) {
			return true
		}
	}
	return n == 0
}

func asciiEqualFold(b []byte, s string) bool {
	for i := range len(s) {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
