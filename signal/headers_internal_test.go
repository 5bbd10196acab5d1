package signal

import (
	"net/http"
	"testing"
)

// The header names are looked up by indexing the map, which only works with
// the canonical form net/http stores them in.
func TestHeaderNamesAreCanonical(t *testing.T) {
	for _, name := range []string{
		hdrRetryAfter, hdrRetryAfterMs,
		hdrRateLimit, hdrRateLimitPolicy, hdrRateLimitLimit, hdrRateLimitRemaining, hdrRateLimitReset,
		hdrXLimit, hdrXRemaining, hdrXReset, hdrXUsed,
		hdrLimitRequests, hdrRemainingRequests, hdrResetRequests,
		hdrLimitTokens, hdrRemainingTokens, hdrResetTokens,
	} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical: net/http stores it as %q", name, c)
		}
	}
}
