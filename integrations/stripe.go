package integrations

import (
	"net/http"
	"strings"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// StripeClassifier returns the Classifier for the Stripe API
// (https://api.stripe.com), where the Stripe-Should-Retry header decides
// (https://docs.stripe.com/rate-limits), as it does for stripe-go:
//
//   - "true" makes an error retryable: a 429 stays Throttled, any other
//     error is Overloaded (retried, but no evidence of a rate limit).
//   - "false" makes it Failed: not retried, and the rate is left alone.
//   - Without the header, [signal.HTTP] decides. A bare 429 is then
//     Throttled: stripe-go does not retry it, but it is still Stripe's rate
//     or concurrency limiter refusing the call, and the limiter should slow
//     down. Whether the Transport retries it is its own decision (by
//     method and Idempotency-Key).
//
// A nil clk means clock.Real.
func StripeClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{Clock: clk}
	return signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		s := base.Classify(resp, err)
		if err != nil || resp == nil {
			return s
		}
		s = applyShouldRetry(s, resp.Header, "Stripe-Should-Retry")
		// Stripe-Should-Retry: true says a retry is safe
		// (https://docs.stripe.com/error-low-level#server-errors), POST or not.
		if s.Kind == signal.Throttled || s.Kind == signal.Overloaded {
			if vs := resp.Header["Stripe-Should-Retry"]; len(vs) > 0 && strings.EqualFold(strings.TrimSpace(vs[0]), "true") {
				s.Unprocessed = true
			}
		}
		return s
	})
}
