package signal

import (
	"net/http"
	"time"
)

// Canonical names of the quota headers; see first.
const (
	hdrRateLimit          = "Ratelimit"
	hdrRateLimitPolicy    = "Ratelimit-Policy"
	hdrRateLimitLimit     = "Ratelimit-Limit"
	hdrRateLimitRemaining = "Ratelimit-Remaining"
	hdrRateLimitReset     = "Ratelimit-Reset"

	hdrXLimit     = "X-Ratelimit-Limit"
	hdrXRemaining = "X-Ratelimit-Remaining"
	hdrXReset     = "X-Ratelimit-Reset"
	hdrXUsed      = "X-Ratelimit-Used"

	hdrLimitRequests     = "X-Ratelimit-Limit-Requests"
	hdrRemainingRequests = "X-Ratelimit-Remaining-Requests"
	hdrResetRequests     = "X-Ratelimit-Reset-Requests"
	hdrLimitTokens       = "X-Ratelimit-Limit-Tokens"
	hdrRemainingTokens   = "X-Ratelimit-Remaining-Tokens"
	hdrResetTokens       = "X-Ratelimit-Reset-Tokens"
)

// ParseQuota reads what the response headers h say about the upstream's
// request quota and, for APIs that also count tokens, its token quota.
// Reset values are turned into a time from now.
//
// The request quota comes from the first of these forms that reports
// anything, each taken whole (fields are never mixed across forms, which
// may describe different windows):
//
//  1. The IETF fields of draft-ietf-httpapi-ratelimit-headers-11:
//     RateLimit: "default";r=50;t=30 and RateLimit-Policy: "default";q=100;w=60.
//     r is Remaining and t the seconds until the quota frees; the policy of
//     the same name (a String or a Token) gives Limit, and its qu parameter
//     the unit: only "requests" (the default, also spelt "request") counts,
//     so a "content-bytes" or "concurrent-requests" item is skipped. Of
//     several items, the most constraining wins: the lowest Remaining, then
//     the longest Reset.
//  2. The -07 dictionary RateLimit: limit=100, remaining=50, reset=30, then
//     the separate RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset
//     of drafts up to -06.
//  3. X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (GitHub
//     and many others). When Remaining is missing but X-RateLimit-Used is
//     sent, Remaining is Limit minus Used; Used is not a per-call Cost, so
//     Cost stays 0.
//  4. OpenAI's x-ratelimit-limit-requests, x-ratelimit-remaining-requests
//     and x-ratelimit-reset-requests, whose resets are duration strings read
//     by [ParseResetDuration]. OpenAI refills its limits continuously and
//     the reset is the time until the limit is full again, so the Quota
//     has Refills set: from any upstream that sends these headers (an
//     OpenAI-compatible API too), read as OpenAI documents them. One whose
//     resets are fixed windows needs a classifier that clears Refills.
//  5. A RateLimit-Policy sent without any of the above, when it holds a
//     single request policy: its q as Limit.
//
// The token quota comes from OpenAI's x-ratelimit-limit-tokens,
// x-ratelimit-remaining-tokens and x-ratelimit-reset-tokens, and Refills
// too.
//
// A numeric reset in forms 1 to 3 is seconds from now, unless it is at
// least [EpochThreshold] (1e9), in which case it is a Unix time in seconds,
// as GitHub sends. The bound is measured against now, not the calendar:
// when now reads before 2001 (a testing/synctest bubble, a clock.Fake) it
// is half of now's Unix time, so that a Unix time sent by a server on the
// same clock is still read as one. [HTTP.XRateLimitReset] fixes the form of
// X-RateLimit-Reset for an upstream that documents it. A reset may also be
// an RFC 3339 or ISO 8601 timestamp with a zone, to the second or to the
// minute (Jira's 2026-11-27T14:30Z), or an HTTP-date. A reset in the past
// gives a Reset of 0.
//
// Malformed values are ignored field by field: the field stays unset, and a
// form left with nothing gives way to the next. Numbers are plain decimals;
// NaN, infinities, exponents, hexadecimal and counts too large for a float64
// are malformed, while a reset too far ahead saturates at the largest
// Duration. A negative Remaining reads as 0 (an overdrawn quota), a negative
// Limit is ignored, and of a limit header listing several policies
// ("100, 100;w=60"), as early drafts allowed, only the first element is
// read. ParseQuota never fails and never sets Cost: none of these headers
// says what a single call cost.
func ParseQuota(h http.Header, now time.Time) (requests, tokens Quota) {
	return parseQuota(h, now, ResetAuto)
}

// parseQuota is ParseQuota with X-RateLimit-Reset read as xReset says.
func parseQuota(h http.Header, now time.Time, xReset ResetForm) (requests, tokens Quota) {
	return requestQuota(h, now, xReset), refilling(splitQuota(h, hdrLimitTokens, hdrRemainingTokens, hdrResetTokens, "", durationReset(now)))
}

// refilling marks q, read from OpenAI's headers, as a quota that refills
// continuously, as OpenAI's guide (https://platform.openai.com/docs/guides/rate-limits)
// says: its reset is the time until it is full again.
func refilling(q Quota) Quota {
	q.Refills = q.Known()
	return q
}

func requestQuota(h http.Header, now time.Time, xReset ResetForm) Quota {
	if q, ok := parseRateLimitList(h, now); ok {
		return q
	}
	if q, ok := parseRateLimitDict(h, now); ok {
		return q
	}
	if q := splitQuota(h, hdrRateLimitLimit, hdrRateLimitRemaining, hdrRateLimitReset, "", numericReset(now, ResetAuto)); q.Known() {
		return q
	}
	if q := splitQuota(h, hdrXLimit, hdrXRemaining, hdrXReset, hdrXUsed, numericReset(now, xReset)); q.Known() {
		return q
	}
	if q := splitQuota(h, hdrLimitRequests, hdrRemainingRequests, hdrResetRequests, "", durationReset(now)); q.Known() {
		return refilling(q)
	}
	return policyOnly(h)
}

// resetParser reads one reset header value.
type resetParser struct {
	now      time.Time
	form     ResetForm // how a number is read
	duration bool      // OpenAI's duration strings rather than numbers or dates
}

func numericReset(now time.Time, form ResetForm) resetParser {
	return resetParser{now: now, form: form}
}
func durationReset(now time.Time) resetParser { return resetParser{now: now, duration: true} }

func (p resetParser) parse(v string) (time.Duration, bool) {
	if p.duration {
		return ParseResetDuration(v)
	}
	return parseReset(v, p.now, p.form)
}

// splitQuota reads a quota sent as one header per field. used is the name of
// a header holding the units used so far, or "".
func splitQuota(h http.Header, limit, remaining, reset, used string, rp resetParser) Quota {
	var q Quota
	if l, ok := limitHeader(h, limit); ok {
		q.Limit = l
	}
	if r, ok := numberHeader(h, remaining); ok {
		q.setRemaining(r)
	} else if used != "" && q.Limit > 0 {
		if u, ok := numberHeader(h, used); ok {
			q.setRemaining(q.Limit - u)
		}
	}
	if v, ok := first(h, reset); ok {
		if d, ok := rp.parse(v); ok {
			q.Reset = d
		}
	}
	return q
}

// numberHeader returns the value of a numeric header, which must be a finite
// plain decimal.
func numberHeader(h http.Header, key string) (float64, bool) {
	v, ok := first(h, key)
	if !ok {
		return 0, false
	}
	f, ok := parseDecimal(v)
	if !ok || !finite(f) {
		return 0, false
	}
	return f, true
}

// limitHeader returns the value of a limit header. Early drafts let it list
// several policies ("100, 100;w=60, 1000;w=3600"), the first being the one
// that applies now; some servers still send that, so only the first element
// is read.
func limitHeader(h http.Header, key string) (float64, bool) {
	v, ok := first(h, key)
	if !ok {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] == ',' || v[i] == ';' {
			v = v[:i]
			break
		}
	}
	f, ok := parseDecimal(v)
	if !ok || !finite(f) || f < 0 {
		return 0, false
	}
	return f, true
}

// setRemaining records r, floored at zero: an upstream that overdraws a
// quota reports a negative remainder, which for pacing means none left.
func (q *Quota) setRemaining(r float64) {
	q.Remaining = max(r, 0)
	q.HasRemaining = true
}
