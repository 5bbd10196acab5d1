package integrations_test

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestNotionClassifier(t *testing.T) {
	cases := []ruleCase{
		{
			name: "429 rate_limited with Retry-After", status: 429,
			header: []string{"Retry-After", "2"}, body: `{"object":"error","status":429,"code":"rate_limited"}`,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 2 * time.Second, HasRetryAfter: true},
		},
		{
			name: "529 service_overload is Throttled", status: 529,
			body: `{"object":"error","status":529,"code":"service_overload"}`,
			want: signal.Signal{Kind: signal.Throttled},
		},
		{name: "529 with Retry-After", status: 529, header: []string{"Retry-After", "10"}, want: signal.Signal{Kind: signal.Throttled, RetryAfter: 10 * time.Second, HasRetryAfter: true}},
		{name: "malformed Retry-After is ignored", status: 429, header: []string{"Retry-After", "two"}, want: signal.Signal{Kind: signal.Throttled}},
		{name: "503", status: 503, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "400", status: 400, body: `{"code":"validation_error"}`, want: signal.Signal{Kind: signal.Failed}},
		{name: "200", status: 200, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.NotionClassifier, cases)
}
