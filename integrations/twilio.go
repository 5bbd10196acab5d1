package integrations

import (
	"net/http"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// TwilioClassifier returns the Classifier for the Twilio REST API
// (https://api.twilio.com): a 429 (Twilio error 20429, too many concurrent
// requests) is Throttled; everything else is what [signal.HTTP] says.
//
// Twilio never processes a request it answers 20429 (https://www.twilio.com/docs/api/errors/20429), so such a
// call is safe to send again even when it is a POST, and its body need not
// be read to tell. Twilio sends no rate-limit headers: its limit is on
// concurrency, which the integration caps as well (Twilio documents a concurrency cap, not a rate).
//
// A nil clk means clock.Real.
func TwilioClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{Clock: clk}
	return signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		return unprocessed(base.Classify(resp, err), http.StatusTooManyRequests)
	})
}
