package integrations

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Google's minimum waits (https://cloud.google.com/service-usage/docs/troubleshooting): at least 30 s after a 429, at least 1 s
// after a 500 or 503.
const (
	googleThrottleWait = 30 * time.Second
	googleServerWait   = time.Second
)

// GoogleClassifier returns the Classifier for Google APIs
// (*.googleapis.com):
//
//   - A 429 is Throttled with a RetryAfter of at least 30 s, HasRetryAfter
//     set (Google: wait at least 30 s).
//   - A 403 whose JSON error gives the reason rateLimitExceeded or
//     userRateLimitExceeded, or the status RESOURCE_EXHAUSTED, is a rate
//     limit too and treated as a 429: older APIs (Drive, Calendar) answer
//     their per-user limits so, per their error guides (not on that page).
//     The first 64 KiB of a 403's body are read with [signal.PeekBody],
//     so the caller still reads all of it. Other 403s, dailyLimitExceeded
//     among them, are Failed.
//   - A 500 or 503 is Overloaded with a RetryAfter of at least 1 s,
//     HasRetryAfter set (Google: wait at least 1 s).
//   - Everything else is what [signal.HTTP] says.
//
// A nil clk means clock.Real.
func GoogleClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{Clock: clk}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		if resp.StatusCode == http.StatusForbidden && googleRateLimited(resp) {
			s.Kind = signal.Throttled
		}
		switch {
		case s.Kind == signal.Throttled:
			raiseWait(&s, googleThrottleWait)
		case resp.StatusCode == http.StatusInternalServerError, resp.StatusCode == http.StatusServiceUnavailable:
			raiseWait(&s, googleServerWait)
		}
		return s, true
	}))
}

// googleRateLimited reports whether a 403's body is Google's error for a
// rate limit:
// {"error": {"errors": [{"reason": "userRateLimitExceeded"}], "status": "..."}}.
func googleRateLimited(resp *http.Response) bool {
	body, _ := signal.PeekBody(resp, bodyPeekLimit)
	var doc struct {
		Error struct {
			Status string `json:"status"`
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &doc) // as in openAIInsufficientQuota
	if doc.Error.Status == "RESOURCE_EXHAUSTED" {
		return true
	}
	for _, e := range doc.Error.Errors {
		if e.Reason == "rateLimitExceeded" || e.Reason == "userRateLimitExceeded" {
			return true
		}
	}
	return false
}
