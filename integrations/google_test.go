package integrations_test

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestGoogleClassifier(t *testing.T) {
	throttled := signal.Signal{Kind: signal.Throttled, RetryAfter: 30 * time.Second, HasRetryAfter: true}
	cases := []ruleCase{
		{
			name: "429 waits at least 30s", status: 429,
			body: `{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}`,
			want: throttled,
		},
		{name: "a shorter Retry-After is raised to 30s", status: 429, header: []string{"Retry-After", "5"}, want: throttled},
		{
			name: "a longer Retry-After is kept", status: 429, header: []string{"Retry-After", "60"},
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true},
		},
		{name: "500 waits at least 1s", status: 500, want: signal.Signal{Kind: signal.Overloaded, RetryAfter: time.Second, HasRetryAfter: true}},
		{name: "503 waits at least 1s", status: 503, want: signal.Signal{Kind: signal.Overloaded, RetryAfter: time.Second, HasRetryAfter: true}},
		{
			name: "503 with a longer Retry-After", status: 503, header: []string{"Retry-After", "10"},
			want: signal.Signal{Kind: signal.Overloaded, RetryAfter: 10 * time.Second, HasRetryAfter: true},
		},
		{name: "502 has no set wait", status: 502, want: signal.Signal{Kind: signal.Overloaded}},
		{
			name: "403 userRateLimitExceeded is a throttle", status: 403,
			body: `{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}`,
			want: throttled,
		},
		{
			name: "403 rateLimitExceeded is a throttle", status: 403,
			body: `{"error":{"errors":[{"domain":"global","reason":"sharingRateLimitExceeded"},{"domain":"usageLimits","reason":"rateLimitExceeded"}],"code":403}}`,
			want: throttled,
		},
		{name: "403 RESOURCE_EXHAUSTED is a throttle", status: 403, body: `{"error":{"code":403,"status":"RESOURCE_EXHAUSTED"}}`, want: throttled},
		{
			name: "403 dailyLimitExceeded is Failed", status: 403,
			body: `{"error":{"errors":[{"domain":"usageLimits","reason":"dailyLimitExceeded"}],"code":403}}`,
			want: signal.Signal{Kind: signal.Failed},
		},
		{
			name: "403 permission denied is Failed", status: 403,
			body: `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`,
			want: signal.Signal{Kind: signal.Failed},
		},
		{name: "403 that is not JSON is Failed", status: 403, body: `<html>Forbidden rateLimitExceeded</html>`, want: signal.Signal{Kind: signal.Failed}},
		{name: "404", status: 404, want: signal.Signal{Kind: signal.Failed}},
		{name: "200", status: 200, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.GoogleClassifier, cases)
}
