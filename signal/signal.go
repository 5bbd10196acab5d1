package signal

import (
	"math"
	"strconv"
	"time"
)

// Kind says what a call's outcome means for the upstream's capacity. The
// zero Kind is Success, so the zero Signal reports a plain success.
type Kind uint8

const (
	// Success means the call went through: evidence that the current rate is
	// sustainable.
	Success Kind = iota
	// Throttled means the upstream refused the call because of a rate limit
	// (HTTP 429, or a provider-specific equivalent). Policies slow down.
	Throttled
	// Overloaded means the upstream could not serve the call (HTTP 502, 503, 504,
	// a transport error or a timeout). One is not evidence of a rate limit;
	// a burst of them may be, which is a classifier's decision.
	Overloaded
	// Failed means the call failed for a reason that says nothing about capacity
	// (HTTP 400, 401, 404...). Policies leave the rate alone.
	Failed
	// Canceled means the caller gave up before the upstream answered. No evidence
	// either way; the permit is simply released.
	Canceled
)

// NumKinds is the number of defined Kinds, for tables indexed by Kind.
const NumKinds = int(Canceled) + 1

var kindNames = [...]string{"success", "throttled", "overloaded", "failed", "canceled"}

// String returns the lower-case name of k, as used in logs and metric
// attributes.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Signal is what one call taught the limiter. The zero value is a success
// with no hints.
type Signal struct {
	// Kind classifies the outcome.
	Kind Kind
	// RetryAfter is how long the upstream asked the caller to wait before
	// the next call, already parsed from whatever form it was sent in. It
	// is kept as sent: capping an absurd value is the job of whoever acts on
	// it (see [Signal.CapPauses]).
	RetryAfter time.Duration
	// HasRetryAfter reports that the upstream did send a Retry-After, so
	// that a RetryAfter of 0 means "retry at once" rather than "not said". A
	// RetryAfter > 0 counts as sent whatever this says.
	HasRetryAfter bool
	// FromOverloads reports a Throttled signal that [Burst] made of an
	// Overloaded one, the last of a burst: the upstream is failing rather
	// than pacing, which a circuit breaker counts as an overload.
	FromOverloads bool
	// Unprocessed reports that the upstream guarantees it did not act on the
	// request: a rate-limit refusal of an API that documents it as such
	// (OpenAI, Slack, Twilio's 20429, GitHub's rate limits, Notion's 429),
	// or Stripe's Stripe-Should-Retry: true. Such a request is safe to send
	// again whatever its method: httpadapter.Transport retries a POST for
	// it. The generic classifier never sets it.
	Unprocessed bool
	// PauseCapped reports that [Signal.CapPauses] lowered RetryAfter or a
	// quota's Reset: the upstream asked for a longer pause than the one
	// acted on.
	PauseCapped bool
	// Quota holds what the upstream said about its request quota, if
	// anything. The limiter paces by it.
	Quota Quota
	// TokenQuota holds what an upstream that also counts tokens (LLM APIs)
	// said about that quota, in tokens.
	TokenQuota Quota
	// Status is the HTTP status code, for observers; 0 when there was no
	// response.
	Status int
}

// CapPauses returns s with RetryAfter, Quota.Reset and TokenQuota.Reset
// each at most max, and PauseCapped set when it lowered any of them. These
// are the pauses an upstream can impose on a limiter (a cooldown until the
// Retry-After or an exhausted quota's reset, pacing until a quota's reset);
// a limiter caps them so that no header, absurd or hostile, locks it for
// longer than max. A max <= 0 caps nothing.
func (s Signal) CapPauses(max time.Duration) Signal {
	if max <= 0 {
		return s
	}
	if s.RetryAfter > max {
		s.RetryAfter, s.PauseCapped = max, true
	}
	if s.Quota.Reset > max {
		s.Quota.Reset, s.PauseCapped = max, true
	}
	if s.TokenQuota.Reset > max {
		s.TokenQuota.Reset, s.PauseCapped = max, true
	}
	return s
}

// Quota is what an upstream reported about its quota window. A field that
// the upstream did not report is zero, except Remaining, whose zero is
// meaningful and which is valid only when HasRemaining is true.
type Quota struct {
	// Limit is the number of units the window allows; 0 when unknown.
	Limit float64
	// Remaining is the number of units left in the current window; valid
	// only when HasRemaining is true.
	Remaining float64
	// HasRemaining reports whether Remaining was sent.
	HasRemaining bool
	// Reset is the time until the window frees; 0 when unknown.
	Reset time.Duration
	// Cost is the number of units this call consumed; 0 when unknown.
	Cost float64
	// Refills reports that the upstream refills the quota continuously, as
	// a token bucket of Limit units does, and that Reset is the time until
	// it is full again: OpenAI's x-ratelimit-*-requests and -tokens,
	// Anthropic's anthropic-ratelimit-* and Shopify's leaky bucket. false
	// means a window that frees all its units at once at Reset (GitHub's
	// X-RateLimit-*, the IETF fields). See policy.Pace for how each is
	// spent.
	Refills bool
}

// Known reports whether q carries any hint at all.
func (q Quota) Known() bool {
	return q.Limit > 0 || q.HasRemaining || q.Reset > 0 || q.Cost > 0
}

// Exhausted reports whether the upstream said no unit is left in the
// current window.
func (q Quota) Exhausted() bool {
	return q.HasRemaining && q.Remaining <= 0
}

// UntilUnit returns how long until q, exhausted, frees a unit again: Reset
// for a window, which frees its units at once; for a quota that refills
// (Refills) and states its Limit, the time until one unit is left: the
// Limit - Remaining units missing refill in Reset, and 1 - Remaining of them
// are needed (one when none is left, two for an overdraft of one),
// Reset × (1 - Remaining) / (Limit - Remaining).
// It returns 0 when q is not exhausted or says nothing of its reset.
func (q Quota) UntilUnit() time.Duration {
	if !q.Exhausted() || q.Reset <= 0 {
		return 0
	}
	if !q.Refills || q.Limit <= 0 {
		return q.Reset
	}
	// Remaining is at most 0 here, so the divisor is at least Limit, > 0,
	// and the ratio at most 1.
	d := float64(q.Reset) * ((1 - q.Remaining) / (q.Limit - q.Remaining))
	if math.IsNaN(d) { // an infinite overdraft: the whole reset
		return q.Reset
	}
	if d >= math.MaxInt64 { // float64(MaxInt64) is 2^63, one past the largest Duration
		return math.MaxInt64
	}
	return time.Duration(d)
}
