// Package policy decides how fast a limiter may go.
//
// A [Policy] is a pure function: given the limiter's [State], the [Outcome]
// of one permit and the current instant, it returns the next State. It takes
// no locks, reads no clock and starts no goroutine, so the same policy runs
// in the in-memory bucket, in a shared bucket and in the simulator, and a
// property test can drive it over millions of random outcomes.
//
// [AIMD] is the default: additive increase on success, multiplicative
// decrease on throttling, with a cooldown that honours Retry-After. [CUBIC]
// is the AWS SDK for Go v2's adaptive retry mode: a multiplicative decrease
// of the measured rate on throttling, then a rate that climbs back along a
// cubic of the time since, flat near the old limit, capped at twice the rate
// the limiter measures; it honours Retry-After as AIMD does. [Fixed] is a
// plain token bucket that never adapts, the baseline the others are measured
// against.
//
// # Epochs: one congestion event, one decrease
//
// State.Epoch counts congestion events. A policy bumps it whenever it lowers
// the rate or moves the cooldown later, and the limiter stamps every permit
// with the epoch it was issued in. A throttle reported for a permit issued in
// an older epoch is a late echo of an event the policy already reacted to:
// AIMD and CUBIC do not decrease again for it. Fifty requests in flight that
// all come back 429 lower the rate once.
//
// # Time and measurement
//
// State.Since, State.Updated and State.Measured are for policies whose
// growth depends on the time elapsed and on the rate actually used: CUBIC
// keeps the instant of the last throttle in Since, and in Measured a
// smoothed rate of the outcomes, the last of them at Updated. A policy reads
// no clock: the instants are those Next is given.
package policy
