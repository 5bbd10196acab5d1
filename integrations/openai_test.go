package integrations_test

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestOpenAIClassifier(t *testing.T) {
	const (
		insufficient = `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`
		rateLimited  = `{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM).","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`
	)
	quotaHeaders := []string{
		"x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "120ms",
		"x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "6m0s",
	}
	// OpenAI's quotas refill continuously: a reset is the time until full.
	requests := signal.Quota{Limit: 500, HasRemaining: true, Reset: 120 * time.Millisecond, Refills: true}
	tokens := signal.Quota{Limit: 30000, HasRemaining: true, Reset: 6 * time.Minute, Refills: true}
	cases := []ruleCase{
		{
			name: "insufficient_quota is final, hints dropped", status: 429,
			header: append([]string{"Retry-After", "20"}, quotaHeaders...), body: insufficient,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "insufficient_quota as the type only", status: 429,
			body: `{"error":{"type":"insufficient_quota","code":null}}`,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "insufficient_quota type beside a numeric code", status: 429,
			body: `{"error":{"code":429,"type":"insufficient_quota"}}`,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "insufficient_quota wins over x-should-retry true", status: 429,
			header: []string{"x-should-retry", "true"}, body: insufficient,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "rate_limit_exceeded with retry-after-ms and quotas", status: 429,
			header: append([]string{"retry-after-ms", "1500", "retry-after", "2"}, quotaHeaders...), body: rateLimited,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 1500 * time.Millisecond, HasRetryAfter: true, Quota: requests, TokenQuota: tokens},
		},
		{
			// Until one unit has refilled, not until full: the tokens' 6 min
			// for 30,000 is 12 ms a token, the requests' 120 ms for 500 is
			// 240 µs a request.
			name: "rate_limit_exceeded without retry-after waits for the longer refill of a unit", status: 429,
			header: quotaHeaders, body: rateLimited,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 12 * time.Millisecond, HasRetryAfter: true, Quota: requests, TokenQuota: tokens},
		},
		{name: "429 without a body", status: 429, want: signal.Signal{Kind: signal.Throttled}},
		{name: "429 with a truncated body", status: 429, body: `{"error":{"code":"insufficient_quota"`, want: signal.Signal{Kind: signal.Throttled}},
		{name: "429 with a string error", status: 429, body: `{"error":"insufficient_quota"}`, want: signal.Signal{Kind: signal.Throttled}},
		{
			name: "x-should-retry false stops a throttle", status: 429,
			header: []string{"x-should-retry", "false", "retry-after", "1"}, body: rateLimited,
			want: signal.Signal{Kind: signal.Failed, RetryAfter: time.Second, HasRetryAfter: true},
		},
		{name: "x-should-retry false on a 503", status: 503, header: []string{"x-should-retry", "false"}, want: signal.Signal{Kind: signal.Failed}},
		{name: "x-should-retry true on a 400", status: 400, header: []string{"x-should-retry", "true"}, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "x-should-retry TRUE with spaces on a 404", status: 404, header: []string{"x-should-retry", " TRUE "}, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "x-should-retry malformed is ignored", status: 400, header: []string{"x-should-retry", "maybe"}, want: signal.Signal{Kind: signal.Failed}},
		{name: "x-should-retry false on a success is ignored", status: 200, header: []string{"x-should-retry", "false"}, want: signal.Signal{Kind: signal.Success}},
		{name: "408", status: 408, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "409", status: 409, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "500", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "501 is 5xx too", status: 501, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "520 is 5xx too", status: 520, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "400", status: 400, body: `{"error":{"code":"invalid_request_error"}}`, want: signal.Signal{Kind: signal.Failed}},
		{name: "401", status: 401, want: signal.Signal{Kind: signal.Failed}},
		{
			name: "200 carries both quotas", status: 200,
			header: []string{"x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "499", "x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "29000", "x-ratelimit-reset-tokens", "2s"},
			want: signal.Signal{
				Quota:      signal.Quota{Limit: 500, Remaining: 499, HasRemaining: true, Refills: true},
				TokenQuota: signal.Quota{Limit: 30000, Remaining: 29000, HasRemaining: true, Reset: 2 * time.Second, Refills: true},
			},
		},
		{
			name: "malformed quota headers are ignored", status: 200,
			header: []string{"x-ratelimit-remaining-requests", "lots", "x-ratelimit-reset-tokens", "soon"},
			want:   signal.Signal{},
		},
	}
	runRuleCases(t, integrations.OpenAIClassifier, cases)
}
