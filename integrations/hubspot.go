package integrations

import (
	"encoding/json"
	"net/http"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Canonical names of HubSpot's rate-limit headers.
const (
	hdrHubSpotMax            = "X-Hubspot-Ratelimit-Max"
	hdrHubSpotRemaining      = "X-Hubspot-Ratelimit-Remaining"
	hdrHubSpotInterval       = "X-Hubspot-Ratelimit-Interval-Milliseconds"
	hdrHubSpotDailyRemaining = "X-Hubspot-Ratelimit-Daily-Remaining"
)

// HubSpotClassifier returns the Classifier for the HubSpot API
// (https://api.hubapi.com):
//
//   - A 429 whose JSON body has policyName "DAILY" is Failed: the daily
//     cap lasts until the next day (midnight in the account's time zone,
//     which the client cannot know), so the call is not retried and the
//     rate is left alone; the caller sees the 429 at once instead of
//     hammering HubSpot for hours. With no policyName in the body, an
//     X-HubSpot-RateLimit-Daily-Remaining of 0 means the same.
//   - Any other 429 (policyName "SECONDLY", "TEN_SECONDLY_ROLLING"...) is
//     Throttled. The first 64 KiB of a 429's body are read with
//     [signal.PeekBody], so the caller still reads all of it.
//   - X-HubSpot-RateLimit-Max, -Remaining and -Interval-Milliseconds are
//     the request quota, and win over any generic quota header. HubSpot
//     does not say when its window started, so the whole interval is taken
//     as the Reset: an upper bound, which paces a little below the limit.
//     A throttle without Retry-After waits that Reset when the quota is
//     exhausted.
//   - Everything else is what [signal.HTTP] says.
//
// A nil clk means clock.Real.
func HubSpotClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{Clock: clk}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		if q := hubSpotQuota(resp.Header); q.Known() {
			s.Quota = q
		}
		if resp.StatusCode == http.StatusTooManyRequests && hubSpotDaily(resp) {
			s.Kind = signal.Failed
			return s, true
		}
		waitForExhausted(&s)
		return s, true
	}))
}

// hubSpotQuota reads HubSpot's interval quota headers.
func hubSpotQuota(h http.Header) signal.Quota {
	var q signal.Quota
	if f, ok := quotaNumber(headerValue(h, hdrHubSpotMax)); ok && f >= 0 {
		q.Limit = f
	}
	if f, ok := quotaNumber(headerValue(h, hdrHubSpotRemaining)); ok {
		q.Remaining, q.HasRemaining = max(f, 0), true
	}
	if f, ok := quotaNumber(headerValue(h, hdrHubSpotInterval)); ok {
		q.Reset = secondsDuration(f / 1000)
	}
	return q
}

// hubSpotDaily reports whether a 429 is HubSpot's daily cap.
func hubSpotDaily(resp *http.Response) bool {
	body, _ := signal.PeekBody(resp, bodyPeekLimit)
	var doc struct {
		PolicyName string `json:"policyName"`
	}
	_ = json.Unmarshal(body, &doc) // as in openAIInsufficientQuota
	if doc.PolicyName != "" {
		return doc.PolicyName == "DAILY"
	}
	f, ok := quotaNumber(headerValue(resp.Header, hdrHubSpotDailyRemaining))
	return ok && f <= 0
}
