package integrations

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// OpenAIClassifier returns the Classifier for the OpenAI API
// (https://api.openai.com), following https://platform.openai.com/docs/guides/rate-limits and openai-python's retry
// rules:
//
//   - A 429 whose JSON error has code (or type) "insufficient_quota" is
//     Failed, with no RetryAfter and no quota hints: the account is out of
//     credit, which neither a retry nor a lower rate cures, and the quota
//     headers of such a response must not pause the limiter either (trap
//     4). The first 64 KiB of a 429's body are read with [signal.PeekBody],
//     so the caller still reads all of it.
//   - Any other 429 (code "rate_limit_exceeded") is Throttled.
//   - 408, 409 and every 5xx are Overloaded: worth a retry, as the SDK
//     retries them, but no evidence of a rate limit.
//   - x-should-retry, "true" or "false", overrides the status of an error
//     response, as in the SDKs: "false" makes it Failed, so the Transport
//     does not retry it; "true" makes a 4xx that would be Failed Overloaded,
//     so that it does. insufficient_quota wins over "true": retrying it
//     only spends the retry budget.
//   - retry-after-ms, retry-after and the request and token quotas of the
//     x-ratelimit-*-requests and x-ratelimit-*-tokens headers (resets as
//     duration strings) are read by [signal.HTTP] into RetryAfter, Quota
//     and TokenQuota.
//
// A nil clk means clock.Real.
func OpenAIClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{
		Clock: clk,
		Overloaded: append(signal.DefaultOverloaded(),
			http.StatusRequestTimeout, http.StatusConflict),
	}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		if resp.StatusCode == http.StatusTooManyRequests && openAIInsufficientQuota(resp) {
			return signal.Signal{Kind: signal.Failed, Status: resp.StatusCode}, true
		}
		s := base.Classify(resp, nil)
		if resp.StatusCode >= 500 {
			s.Kind = signal.Overloaded
		}
		// OpenAI does not act on a request it refuses for its rate limits
		// (https://platform.openai.com/docs/guides/rate-limits): a POST
		// is as safe to resend as a GET.
		return unprocessed(applyShouldRetry(s, resp.Header, "X-Should-Retry"), http.StatusTooManyRequests), true
	}))
}

// unprocessed marks s [signal.Signal.Unprocessed] when it is a throttle of
// one of the given statuses that the upstream answered as such, not one a
// burst of overloads made (those may have been acted on).
func unprocessed(s signal.Signal, statuses ...int) signal.Signal {
	if s.Kind == signal.Throttled && !s.FromOverloads && slices.Contains(statuses, s.Status) {
		s.Unprocessed = true
	}
	return s
}

// openAIInsufficientQuota reports whether resp's body is OpenAI's error for
// an account out of credit:
// {"error": {"code": "insufficient_quota", "type": "insufficient_quota", ...}}.
func openAIInsufficientQuota(resp *http.Response) bool {
	body, _ := signal.PeekBody(resp, bodyPeekLimit)
	var doc struct {
		Error struct {
			Code string `json:"code"`
			Type string `json:"type"`
		} `json:"error"`
	}
	// A field of another type (a numeric code from a proxy) is skipped and
	// the rest still decoded; invalid JSON decodes nothing.
	_ = json.Unmarshal(body, &doc)
	return doc.Error.Code == "insufficient_quota" || doc.Error.Type == "insufficient_quota"
}

// applyShouldRetry lets a header that says whether to retry (OpenAI's and
// Anthropic's x-should-retry, Stripe's Stripe-Should-Retry) override the
// status of an error response: "false" makes it Failed, which neither
// retries nor changes the rate; "true" makes a response that would be
// Failed Overloaded, retryable without being read as a rate limit, and
// leaves a throttle a throttle. Other values, and successes, are left alone:
// a header cannot turn an answer into an error. key is canonical.
func applyShouldRetry(s signal.Signal, h http.Header, key string) signal.Signal {
	if s.Status < 400 {
		return s
	}
	vs := h[key]
	if len(vs) == 0 {
		return s
	}
	switch v := strings.TrimSpace(vs[0]); {
	case strings.EqualFold(v, "false"):
		s.Kind = signal.Failed
	case strings.EqualFold(v, "true"):
		if s.Kind != signal.Throttled {
			s.Kind = signal.Overloaded
		}
	}
	return s
}
