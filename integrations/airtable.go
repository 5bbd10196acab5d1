package integrations

import (
	"net/http"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// airtableSilence is how long Airtable wants to hear nothing after a 429
// (https://airtable.com/developers/web/api/rate-limits): calls made sooner are refused too.
const airtableSilence = 30 * time.Second

// AirtableClassifier returns the Classifier for the Airtable Web API
// (https://api.airtable.com): a 429 is Throttled with a RetryAfter of at
// least 30 s, HasRetryAfter set, because Airtable refuses every call for 30
// s after one and sends no Retry-After to say so (https://airtable.com/developers/web/api/rate-limits). A larger
// Retry-After, should one ever come, is kept. Everything else is what
// [signal.HTTP] says.
//
// A nil clk means clock.Real.
func AirtableClassifier(clk clock.Clock) signal.Classifier {
	return throttleWait(signal.HTTP{Clock: clk}, airtableSilence)
}

// throttleWait returns a Classifier that says what base says, with the
// RetryAfter of a throttle raised to at least d and marked as sent: for
// upstreams that demand a set silence after a refusal whether or not they
// say so.
func throttleWait(base signal.HTTP, d time.Duration) signal.Classifier {
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		if s.Kind == signal.Throttled {
			raiseWait(&s, d)
		}
		return s, true
	}))
}

// raiseWait makes s wait at least d, as an upstream's word rather than a
// guess to be replaced by a backoff.
func raiseWait(s *signal.Signal, d time.Duration) {
	s.RetryAfter = max(s.RetryAfter, d)
	s.HasRetryAfter = true
}

// AirtableBaseKey returns the Airtable base a request is for, to key a
// limiter per base: Airtable allows 5 requests per second per base
// (https://airtable.com/developers/web/api/rate-limits). It is the first path segment that has the form of a base id,
// "app" and 14 letters or digits, as in /v0/{baseId}/{table} or
// /v0/meta/bases/{baseId}/tables; "" when there is none (listing bases,
// say), so that such requests share one limiter.
func AirtableBaseKey(req *http.Request) string {
	if req == nil || req.URL == nil {
		return ""
	}
	for seg := range strings.SplitSeq(req.URL.Path, "/") {
		if isAirtableBaseID(seg) {
			return seg
		}
	}
	return ""
}

func isAirtableBaseID(s string) bool {
	if len(s) != len("app")+14 || !strings.HasPrefix(s, "app") {
		return false
	}
	for i := len("app"); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
