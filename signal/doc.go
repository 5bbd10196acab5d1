// Package signal describes what one call to an upstream taught the limiter:
// whether it went through, was throttled, found the upstream overloaded or
// failed for a reason that says nothing about capacity; how long the upstream
// asked to be left alone; and what it said about its quota.
//
// A [Signal] is transport-neutral: the limiter and its policies never see an
// HTTP response. A [Classifier] turns a response (or a transport error) into
// a Signal; callers that do not use net/http build Signals themselves.
//
// # Classifiers
//
// [HTTP] is the built-in classifier, and its zero value the default: 429 is
// Throttled, 500, 502, 503 and 504 are Overloaded, other statuses of 400 and
// above are Failed, and a transport error is Overloaded unless it is
// context.Canceled. It reads Retry-After and the quota headers of every
// response, successes included, since those are what let the limiter slow
// down before it is refused. The status sets are fields, for upstreams that
// throttle with something other than 429.
//
// [Burst] wraps a classifier and turns the n-th Overloaded outcome within a
// window into Throttled, so that a burst of 503s slows the rate while a lone
// 500 does not.
//
// [Chain] combines provider-specific [Rule]s with a fallback classifier; the
// first rule that recognizes a response decides. [PeekBody] lets a rule read
// the start of a body (an error code, "secondary rate limit") without taking
// it from the caller. See the Chain example for GitHub's 403s.
//
// # Header parsers
//
// The parsers are exported for callers that classify responses themselves.
// None of them fails: a malformed value is ignored, as if it had not been
// sent.
//
//   - [ParseRetryAfter]: retry-after-ms, then Retry-After as seconds
//     (whole or fractional) or an HTTP-date.
//   - [ParseQuota]: the request quota from, in order of precedence, the IETF
//     RateLimit and RateLimit-Policy fields (draft -11, via Structured
//     Fields), the -07 RateLimit dictionary and the RateLimit-Limit,
//     -Remaining, -Reset headers of earlier drafts, X-RateLimit-Limit,
//     -Remaining, -Reset (GitHub and most others), and OpenAI's
//     x-ratelimit-*-requests; the token quota from OpenAI's
//     x-ratelimit-*-tokens.
//   - [ParseResetDuration]: OpenAI's reset durations ("6m0s", "12ms", "20").
//
// # How a reset is read
//
// "Reset" means different things to different upstreams, and every Quota
// holds it the same way: as the time from now until the quota frees. A
// numeric reset is seconds from now (the IETF t parameter, RateLimit-Reset,
// most X-RateLimit-Reset), unless it is at least [EpochThreshold], 1e9: no
// window lasts 31 years, so such a value is a Unix time in seconds (GitHub's
// x-ratelimit-reset) and the reset is that instant minus now. The bound is
// read against the clock, not the calendar: on a clock that reads before
// 2001, as a testing/synctest bubble (2000-01-01) or a clock.Fake may, it
// is half of now's Unix time, so that code tested on such a clock sees the
// Unix times of its fake upstream as the instants they are. An upstream
// that documents the form of its X-RateLimit-Reset says so through
// [HTTP.XRateLimitReset] ([ResetUnix], [ResetSeconds]), which then holds
// on any clock. A reset may also be an RFC 3339 or ISO 8601 timestamp with
// a zone, to the second or to the minute (Jira's 2026-11-27T14:30Z), or an
// HTTP-date. A reset in the past is 0. OpenAI's resets are durations, read
// by ParseResetDuration.
//
// Durations never come out negative. A value too large for a
// time.Duration saturates at the largest one rather than wrapping around:
// it is kept as sent, and capping it is the job of whoever acts on it.
package signal
