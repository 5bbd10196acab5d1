package integrations

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

const hdrShopifyCallLimit = "X-Shopify-Shop-Api-Call-Limit"

// shopifyBucketDrain is how long a Shopify REST bucket takes to leak from
// full to empty: Shopify's page (https://shopify.dev/docs/api/usage/rate-limits) gives a bucket of 40 leaking 2 requests per second.
// Larger plans' buckets are bigger and leak proportionally faster (80 at 4/s,
// 400 at 20/s: Shopify's docs, unverified), so the leak rate is taken as the
// bucket size over this.
const shopifyBucketDrain = 20 * time.Second

// ShopifyClassifier returns the Classifier for the Shopify REST Admin API
// (https://{shop}.myshopify.com/admin/api/...): a 429 is Throttled, waiting
// what Retry-After says (read by [signal.HTTP]); the
// X-Shopify-Shop-Api-Call-Limit header of every response is the request
// quota, read by [ParseShopifyCallLimit], and wins over any generic quota
// header. Everything else is what signal.HTTP says.
//
// A nil clk means clock.Real.
func ShopifyClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{Clock: clk}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		if q, ok := ParseShopifyCallLimit(headerValue(resp.Header, hdrShopifyCallLimit)); ok {
			s.Quota = q
		}
		return s, true
	}))
}

// ParseShopifyCallLimit reads Shopify's X-Shopify-Shop-Api-Call-Limit
// header, "used/size" of the app's leaky bucket, as a Quota: "32/40" is
// Limit 40, Remaining 8 and a Reset of 16 s, the time the bucket takes to
// empty at 2 requests per second (the leak rate is the size over 20 s: see
// shopifyBucketDrain). The bucket leaks continuously, so the Quota has
// Refills set. It reports false for anything other than two decimal
// integers around a slash (spaces allowed) with a size above 0.
//
// Paced by such a quota (see policy.Pace), a limiter is not slowed while
// the bucket is at most half full; above that it spends the free room and
// what leaks until the bucket is empty, Limit / Reset, which falls toward
// the leak rate as the bucket fills. A full bucket ("40/40") is an
// exhausted quota: the next call waits for one call to leak out, half a
// second, not for the bucket to drain.
func ParseShopifyCallLimit(v string) (signal.Quota, bool) {
	usedStr, sizeStr, ok := strings.Cut(v, "/")
	if !ok {
		return signal.Quota{}, false
	}
	used, ok := wholeNumber(usedStr)
	if !ok {
		return signal.Quota{}, false
	}
	size, ok := wholeNumber(sizeStr)
	if !ok || size <= 0 {
		return signal.Quota{}, false
	}
	leak := size / shopifyBucketDrain.Seconds()
	return signal.Quota{
		Limit:        size,
		Remaining:    max(size-used, 0), // counts are never negative; an overdraft (41/40) waits a call's leak, not two
		HasRemaining: true,
		Reset:        secondsDuration(used / leak),
		Refills:      true,
	}, true
}

// wholeNumber parses a count of digits within optional spaces, as a finite
// float64.
func wholeNumber(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if !allDigits(s) {
		return 0, false
	}
	return quotaNumber(s)
}

// secondsDuration returns f seconds as a Duration: 0 for a negative or NaN
// f, the largest Duration for one too large to represent.
func secondsDuration(f float64) time.Duration {
	ns := f * float64(time.Second)
	switch {
	case math.IsNaN(ns) || ns <= 0:
		return 0
	case ns >= math.MaxInt64: // float64(MaxInt64) is 2^63, one past the largest Duration
		return math.MaxInt64
	}
	return time.Duration(math.Round(ns))
}
