package integrations_test

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestHubSpotClassifier(t *testing.T) {
	const (
		secondly = `{"status":"error","message":"You have reached your secondly limit.","errorType":"RATE_LIMIT","correlationId":"c1","policyName":"SECONDLY","groupName":"publicapi:oauth:1:1"}`
		daily    = `{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","correlationId":"c2","policyName":"DAILY"}`
	)
	exhausted := []string{"X-HubSpot-RateLimit-Max", "100", "X-HubSpot-RateLimit-Remaining", "0", "X-HubSpot-RateLimit-Interval-Milliseconds", "10000"}
	exhaustedQuota := signal.Quota{Limit: 100, HasRemaining: true, Reset: 10 * time.Second}
	cases := []ruleCase{
		{
			name: "429 SECONDLY waits out the interval", status: 429, header: exhausted, body: secondly,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 10 * time.Second, HasRetryAfter: true, Quota: exhaustedQuota},
		},
		{name: "429 DAILY is final", status: 429, header: exhausted, body: daily, want: signal.Signal{Kind: signal.Failed, Quota: exhaustedQuota}},
		{
			name: "429 TEN_SECONDLY_ROLLING is a throttle", status: 429,
			body: `{"status":"error","policyName":"TEN_SECONDLY_ROLLING"}`,
			want: signal.Signal{Kind: signal.Throttled},
		},
		{
			name: "429 Retry-After wins over the interval", status: 429, header: append([]string{"Retry-After", "3"}, exhausted...), body: secondly,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 3 * time.Second, HasRetryAfter: true, Quota: exhaustedQuota},
		},
		{name: "429 without a body, daily remaining 0, is final", status: 429, header: []string{"X-HubSpot-RateLimit-Daily-Remaining", "0"}, want: signal.Signal{Kind: signal.Failed}},
		{name: "429 without a body, daily remaining left, is a throttle", status: 429, header: []string{"X-HubSpot-RateLimit-Daily-Remaining", "5"}, want: signal.Signal{Kind: signal.Throttled}},
		{name: "429 SECONDLY with daily remaining 0: the body says", status: 429, header: []string{"X-HubSpot-RateLimit-Daily-Remaining", "0"}, body: secondly, want: signal.Signal{Kind: signal.Throttled}},
		{name: "429 with a body that is not JSON", status: 429, body: "Too Many Requests", want: signal.Signal{Kind: signal.Throttled}},
		{
			name: "200 carries the interval quota", status: 200,
			header: []string{"X-HubSpot-RateLimit-Max", "190", "X-HubSpot-RateLimit-Remaining", "189", "X-HubSpot-RateLimit-Interval-Milliseconds", "10000", "X-HubSpot-RateLimit-Daily", "1000000"},
			want:   signal.Signal{Quota: signal.Quota{Limit: 190, Remaining: 189, HasRemaining: true, Reset: 10 * time.Second}},
		},
		{
			name: "HubSpot headers win over generic ones", status: 200,
			header: []string{"X-RateLimit-Limit", "5", "X-RateLimit-Remaining", "1", "X-HubSpot-RateLimit-Remaining", "50"},
			want:   signal.Signal{Quota: signal.Quota{Remaining: 50, HasRemaining: true}},
		},
		{
			name: "malformed headers are ignored", status: 200,
			header: []string{"X-HubSpot-RateLimit-Max", "-100", "X-HubSpot-RateLimit-Remaining", "many", "X-HubSpot-RateLimit-Interval-Milliseconds", "1e4"},
			want:   signal.Signal{},
		},
		{
			name: "a negative interval is no reset", status: 200,
			header: []string{"X-HubSpot-RateLimit-Remaining", "5", "X-HubSpot-RateLimit-Interval-Milliseconds", "-10000"},
			want:   signal.Signal{Quota: signal.Quota{Remaining: 5, HasRemaining: true}},
		},
		{name: "500", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "401", status: 401, want: signal.Signal{Kind: signal.Failed}},
	}
	runRuleCases(t, integrations.HubSpotClassifier, cases)
}
