package integrations_test

import (
	"testing"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestTwilioClassifier(t *testing.T) {
	cases := []ruleCase{
		{
			name: "429 error 20429 is Throttled", status: 429,
			body: `{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}`,
			want: signal.Signal{Kind: signal.Throttled},
		},
		{name: "503", status: 503, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "400", status: 400, body: `{"code": 21211}`, want: signal.Signal{Kind: signal.Failed}},
		{name: "201", status: 201, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.TwilioClassifier, cases)
}
