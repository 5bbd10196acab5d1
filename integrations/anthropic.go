package integrations

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// status529 is the nonstandard "service overloaded" status that Anthropic
// and Notion send.
const status529 = 529

// Canonical names of the Anthropic rate-limit headers, as
// https://docs.anthropic.com/en/api/rate-limits names them: unverified
// against a live response, they are read only when sent.
const (
	hdrAnthropicRequestsLimit     = "Anthropic-Ratelimit-Requests-Limit"
	hdrAnthropicRequestsRemaining = "Anthropic-Ratelimit-Requests-Remaining"
	hdrAnthropicRequestsReset     = "Anthropic-Ratelimit-Requests-Reset"
	hdrAnthropicTokensLimit       = "Anthropic-Ratelimit-Tokens-Limit"
	hdrAnthropicTokensRemaining   = "Anthropic-Ratelimit-Tokens-Remaining"
	hdrAnthropicTokensReset       = "Anthropic-Ratelimit-Tokens-Reset"
)

// AnthropicClassifier returns the Classifier for the Anthropic API
// (https://api.anthropic.com):
//
//   - 429 and 529 are Throttled: both are what Anthropic's page lists as its
//     throttle responses. 529 counts as a server status, so a policy that
//     learns a ceiling from throttles does not learn one from it.
//   - retry-after (and retry-after-ms) is read by [signal.HTTP].
//   - The request and token quotas come from the anthropic-ratelimit-*
//     headers, read by [ParseAnthropicQuota]; when they are sent they win
//     over any generic quota header. They refill continuously: a throttle
//     without retry-after waits until the exhausted quota has refilled a
//     unit, the longer of the two waits when both are.
//   - x-should-retry overrides the status as for [OpenAIClassifier]:
//     Anthropic's SDKs share OpenAI's retry rules.
//
// A nil clk means clock.Real; resets are measured against it.
func AnthropicClassifier(clk clock.Clock) signal.Classifier {
	base := signal.HTTP{
		Clock:     clk,
		Throttled: append(signal.DefaultThrottled(), status529),
	}
	return signal.Chain(base, signal.RuleFunc(func(resp *http.Response, err error) (signal.Signal, bool) {
		if err != nil || resp == nil {
			return signal.Signal{}, false
		}
		s := base.Classify(resp, nil)
		requests, tokens := ParseAnthropicQuota(resp.Header, readClock(clk))
		if requests.Known() {
			s.Quota = requests
		}
		if tokens.Known() {
			s.TokenQuota = tokens
		}
		waitForExhausted(&s)
		return applyShouldRetry(s, resp.Header, "X-Should-Retry"), true
	}))
}

// ParseAnthropicQuota reads Anthropic's rate-limit headers into the request
// quota (anthropic-ratelimit-requests-limit, -remaining and -reset) and the
// token quota (anthropic-ratelimit-tokens-limit, -remaining and -reset,
// which Anthropic documents as the most restrictive of its input and output
// token limits in effect). A reset is an RFC 3339 time, turned into the
// time from now; one in the past gives 0. Anthropic's page
// (https://docs.anthropic.com/en/api/rate-limits) describes a token bucket
// whose capacity is replenished continuously and a reset as the time the
// limit is fully replenished, so both quotas have Refills set.
//
// Like [signal.ParseQuota], it never fails: a malformed field is left
// unset. Counts are plain decimals, never NaN or infinite; a negative limit
// is ignored and a negative remainder reads as 0 (an overdrawn quota).
func ParseAnthropicQuota(h http.Header, now time.Time) (requests, tokens signal.Quota) {
	requests = headerQuota(h, hdrAnthropicRequestsLimit, hdrAnthropicRequestsRemaining, hdrAnthropicRequestsReset, now)
	tokens = headerQuota(h, hdrAnthropicTokensLimit, hdrAnthropicTokensRemaining, hdrAnthropicTokensReset, now)
	// Anthropic refills its limits continuously (a token bucket), and the
	// reset is when a limit is full again.
	requests.Refills, tokens.Refills = requests.Known(), tokens.Known()
	return requests, tokens
}

// headerQuota reads a quota sent as one header per field, the reset as an
// RFC 3339 time. Keys are canonical; reset may be "" when none is sent.
func headerQuota(h http.Header, limit, remaining, reset string, now time.Time) signal.Quota {
	var q signal.Quota
	if f, ok := quotaNumber(headerValue(h, limit)); ok && f >= 0 {
		q.Limit = f
	}
	if f, ok := quotaNumber(headerValue(h, remaining)); ok {
		q.Remaining, q.HasRemaining = max(f, 0), true
	}
	if v := strings.TrimSpace(headerValue(h, reset)); v != "" {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			q.Reset = max(t.Sub(now), 0)
		}
	}
	return q
}

// headerValue returns the first value of the canonical header key, or "".
// Indexing the map skips the canonicalization http.Header.Get does on every
// call.
func headerValue(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// quotaNumber parses a count sent in a quota header: a plain decimal,
// optionally signed, within optional spaces. Exponents, hexadecimal,
// underscores, "NaN" and "Inf", which strconv.ParseFloat would take, are
// malformed, as is a number too large for a float64.
func quotaNumber(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	digits := v
	if digits != "" && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	seen, dot := false, false
	for i := range len(digits) {
		switch c := digits[i]; {
		case '0' <= c && c <= '9':
			seen = true
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if !seen {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// waitForExhausted gives a throttle that came without a Retry-After the
// wait its exhausted quotas imply: the longer of the waits until each frees
// a unit ([signal.Quota.UntilUnit]), when a retry can succeed. signal.HTTP does the same for the headers it
// reads; rules that add quotas from vendor headers call this afterwards.
func waitForExhausted(s *signal.Signal) {
	if s.Kind != signal.Throttled || s.HasRetryAfter || s.RetryAfter > 0 {
		return
	}
	if d := max(s.Quota.UntilUnit(), s.TokenQuota.UntilUnit()); d > 0 {
		s.RetryAfter, s.HasRetryAfter = d, true
	}
}

// readClock reads clk, where nil means clock.Real.
func readClock(clk clock.Clock) time.Time {
	if clk == nil {
		return clock.Real.Now()
	}
	return clk.Now()
}
