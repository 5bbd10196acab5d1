package integrations_test

import (
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestZapierClassifier(t *testing.T) {
	cooldown := signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true}
	cases := []ruleCase{
		{name: "429 means a 60s cooldown", status: 429, want: cooldown},
		{name: "a shorter Retry-After is raised to 60s", status: 429, header: []string{"Retry-After", "10"}, want: cooldown},
		{
			name: "a longer Retry-After is kept", status: 429, header: []string{"Retry-After", "90"},
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 90 * time.Second, HasRetryAfter: true},
		},
		{name: "malformed Retry-After: 60s", status: 429, header: []string{"Retry-After", "-"}, want: cooldown},
		{name: "500", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "403", status: 403, want: signal.Signal{Kind: signal.Failed}},
		{name: "200", status: 200, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.ZapierClassifier, cases)
}
