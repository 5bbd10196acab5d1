package integrations_test

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestStripeClassifier(t *testing.T) {
	cases := []ruleCase{
		{name: "bare 429 slows down", status: 429, body: `{"error":{"type":"rate_limit_error"}}`, want: signal.Signal{Kind: signal.Throttled}},
		{name: "429 with should-retry true", status: 429, header: []string{"Stripe-Should-Retry", "true"}, want: signal.Signal{Kind: signal.Throttled}},
		{
			name: "429 with should-retry false is final", status: 429, header: []string{"Stripe-Should-Retry", "false", "Retry-After", "1"},
			want: signal.Signal{Kind: signal.Failed, RetryAfter: time.Second, HasRetryAfter: true},
		},
		{name: "409 lock_timeout with should-retry true", status: 409, header: []string{"Stripe-Should-Retry", "true"}, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "402 with should-retry True", status: 402, header: []string{"Stripe-Should-Retry", "True"}, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "500 with should-retry false", status: 500, header: []string{"Stripe-Should-Retry", "false"}, want: signal.Signal{Kind: signal.Failed}},
		{name: "500 without the header", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "409 without the header", status: 409, want: signal.Signal{Kind: signal.Failed}},
		{name: "malformed header is ignored", status: 409, header: []string{"Stripe-Should-Retry", "yes"}, want: signal.Signal{Kind: signal.Failed}},
		{name: "a success stays one", status: 200, header: []string{"Stripe-Should-Retry", "true"}, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.StripeClassifier, cases)
}
