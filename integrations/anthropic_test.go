package integrations_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestAnthropicClassifier(t *testing.T) {
	at := func(d time.Duration) string { return ruleT0.Add(d).Format(time.RFC3339) }
	cases := []ruleCase{
		{
			name: "429 with retry-after", status: 429,
			header: []string{"retry-after", "5"}, body: `{"type":"error","error":{"type":"rate_limit_error"}}`,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 5 * time.Second, HasRetryAfter: true},
		},
		{name: "529 is Throttled", status: 529, body: `{"type":"error","error":{"type":"overloaded_error"}}`, want: signal.Signal{Kind: signal.Throttled}},
		{name: "529 with retry-after", status: 529, header: []string{"retry-after", "3"}, want: signal.Signal{Kind: signal.Throttled, RetryAfter: 3 * time.Second, HasRetryAfter: true}},
		{
			name: "200 carries both quotas", status: 200,
			header: []string{
				"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49", "anthropic-ratelimit-requests-reset", at(30 * time.Second),
				"anthropic-ratelimit-tokens-limit", "40000", "anthropic-ratelimit-tokens-remaining", "39000", "anthropic-ratelimit-tokens-reset", at(time.Minute),
			},
			want: signal.Signal{
				Quota:      signal.Quota{Limit: 50, Remaining: 49, HasRemaining: true, Reset: 30 * time.Second, Refills: true},
				TokenQuota: signal.Quota{Limit: 40000, Remaining: 39000, HasRemaining: true, Reset: time.Minute, Refills: true},
			},
		},
		{
			name: "429 without retry-after waits for the later exhausted reset", status: 429,
			header: []string{
				"anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", at(20 * time.Second),
				"anthropic-ratelimit-tokens-remaining", "0", "anthropic-ratelimit-tokens-reset", at(45 * time.Second),
			},
			want: signal.Signal{
				Kind: signal.Throttled, RetryAfter: 45 * time.Second, HasRetryAfter: true,
				Quota:      signal.Quota{HasRemaining: true, Reset: 20 * time.Second, Refills: true},
				TokenQuota: signal.Quota{HasRemaining: true, Reset: 45 * time.Second, Refills: true},
			},
		},
		{
			name: "429 retry-after wins over the reset", status: 429,
			header: []string{"retry-after", "2", "anthropic-ratelimit-tokens-remaining", "0", "anthropic-ratelimit-tokens-reset", at(45 * time.Second)},
			want: signal.Signal{
				Kind: signal.Throttled, RetryAfter: 2 * time.Second, HasRetryAfter: true,
				TokenQuota: signal.Quota{HasRemaining: true, Reset: 45 * time.Second, Refills: true},
			},
		},
		{
			name: "429 with a quota left waits for nothing in particular", status: 429,
			header: []string{"anthropic-ratelimit-requests-remaining", "3", "anthropic-ratelimit-requests-reset", at(20 * time.Second)},
			want:   signal.Signal{Kind: signal.Throttled, Quota: signal.Quota{Remaining: 3, HasRemaining: true, Reset: 20 * time.Second, Refills: true}},
		},
		{
			name: "Anthropic headers win over generic ones", status: 200,
			header: []string{"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "1", "anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "40"},
			want:   signal.Signal{Quota: signal.Quota{Limit: 50, Remaining: 40, HasRemaining: true, Refills: true}},
		},
		{
			name: "generic headers when Anthropic sends none", status: 200,
			header: []string{"X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "1"},
			// Generic headers are a window, as signal.HTTP reads them.
			want: signal.Signal{Quota: signal.Quota{Limit: 10, Remaining: 1, HasRemaining: true}},
		},
		{
			name: "malformed headers are ignored", status: 200,
			header: []string{
				"anthropic-ratelimit-requests-limit", "fifty", "anthropic-ratelimit-requests-remaining", "NaN", "anthropic-ratelimit-requests-reset", "tomorrow",
				"anthropic-ratelimit-tokens-limit", "1e5", "anthropic-ratelimit-tokens-remaining", "Inf", "anthropic-ratelimit-tokens-reset", "2026-11-27 14:01:00",
			},
			want: signal.Signal{},
		},
		{
			name: "negative remaining is none left, negative limit ignored, past reset 0", status: 200,
			header: []string{"anthropic-ratelimit-requests-limit", "-5", "anthropic-ratelimit-requests-remaining", "-3", "anthropic-ratelimit-requests-reset", at(-time.Minute)},
			want:   signal.Signal{Quota: signal.Quota{HasRemaining: true, Refills: true}},
		},
		{
			name: "fractional seconds and offsets in the reset", status: 200,
			header: []string{
				"anthropic-ratelimit-requests-remaining", "7", "anthropic-ratelimit-requests-reset", "2026-11-27T14:00:30.5Z",
				"anthropic-ratelimit-tokens-remaining", " 100 ", "anthropic-ratelimit-tokens-reset", "2026-11-27T15:01:00+01:00",
			},
			want: signal.Signal{
				Quota:      signal.Quota{Remaining: 7, HasRemaining: true, Reset: 30500 * time.Millisecond, Refills: true},
				TokenQuota: signal.Quota{Remaining: 100, HasRemaining: true, Reset: time.Minute, Refills: true},
			},
		},
		{name: "x-should-retry false on a 529", status: 529, header: []string{"x-should-retry", "false"}, want: signal.Signal{Kind: signal.Failed}},
		{name: "x-should-retry true on a 409", status: 409, header: []string{"x-should-retry", "true"}, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "500", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "400", status: 400, want: signal.Signal{Kind: signal.Failed}},
	}
	runRuleCases(t, integrations.AnthropicClassifier, cases)
}

// FuzzAnthropicHeaders checks that any values in Anthropic's rate-limit
// headers give sane quotas and waits: no panic, no NaN or infinity, nothing
// negative.
func FuzzAnthropicHeaders(f *testing.F) {
	f.Add("50", "49", "2026-11-27T14:00:30Z", "40000", "0", "2026-11-27T14:01:00.25+01:00")
	f.Add("-1", "-1", "2026-11-27T13:00:00Z", "1e9", "NaN", "Inf")
	f.Add("", " 7 ", "tomorrow", "0x10", "1_000", "9999-12-31T23:59:59Z")
	f.Add("179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		".5", "0001-01-01T00:00:00Z", "+3.", "-0", "2026-11-27T14:00:00-23:59")
	f.Fuzz(func(t *testing.T, reqLimit, reqRemaining, reqReset, tokLimit, tokRemaining, tokReset string) {
		h := http.Header{
			"Anthropic-Ratelimit-Requests-Limit":     {reqLimit},
			"Anthropic-Ratelimit-Requests-Remaining": {reqRemaining},
			"Anthropic-Ratelimit-Requests-Reset":     {reqReset},
			"Anthropic-Ratelimit-Tokens-Limit":       {tokLimit},
			"Anthropic-Ratelimit-Tokens-Remaining":   {tokRemaining},
			"Anthropic-Ratelimit-Tokens-Reset":       {tokReset},
		}
		requests, tokens := integrations.ParseAnthropicQuota(h, ruleT0)
		checkFuzzQuota(t, "requests", requests)
		checkFuzzQuota(t, "tokens", tokens)

		for _, status := range []int{200, 429, 529} {
			resp := &http.Response{StatusCode: status, Header: h, Body: http.NoBody}
			s := integrations.AnthropicClassifier(clock.NewFake(ruleT0)).Classify(resp, nil)
			if s.RetryAfter < 0 {
				t.Errorf("status %d: RetryAfter = %v, want >= 0", status, s.RetryAfter)
			}
			checkFuzzQuota(t, "classified requests", s.Quota)
			checkFuzzQuota(t, "classified tokens", s.TokenQuota)
		}
	})
}

// checkFuzzQuota fails when q holds a value no parser should produce.
func checkFuzzQuota(t *testing.T, what string, q signal.Quota) {
	t.Helper()
	for _, v := range []float64{q.Limit, q.Remaining, q.Cost} {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("%s quota %+v: a count is negative, NaN or infinite", what, q)
		}
	}
	if q.Reset < 0 {
		t.Fatalf("%s quota %+v: negative Reset", what, q)
	}
	if !q.HasRemaining && q.Remaining != 0 {
		t.Fatalf("%s quota %+v: Remaining set without HasRemaining", what, q)
	}
}
