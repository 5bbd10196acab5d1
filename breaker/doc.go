// Package breaker stops calls to an upstream that is down, so that a worker
// fails fast instead of queueing requests that will only time out.
//
// A [Breaker] is a circuit breaker with the three classic states. While
// [Closed] every call goes through; after Config.FailureThreshold failures
// in a row it opens. While [Open] every call is refused at once with a
// [*CircuitOpenError], before any HTTP request is made. Once the open
// interval has passed it is [HalfOpen]: up to Config.HalfOpenProbes calls go
// through as probes. A probe that succeeds closes the circuit; one that fails
// opens it again, for an interval grown by Config.Multiplier (up to
// Config.MaxOpenInterval), so that an upstream that stays down is probed
// less and less often.
//
// A caller asks with [Breaker.Allow], makes the call, and reports its
// outcome, as a [signal.Kind], on the [Ticket]:
//
//	t, err := b.Allow()
//	if err != nil {
//		return err // errors.Is(err, breaker.ErrOpen)
//	}
//	resp, err := client.Do(req)
//	t.Done(classify(resp, err).Kind)
//
// # What counts as a failure
//
// Overloaded (a 5xx, a transport error, a timeout) is a failure. Throttled
// (a 429) is one only when Config.CountThrottles is set; otherwise it is
// no evidence, as pacing is the limiter's job. Success and Failed (a 4xx:
// the upstream answered) are evidence that the upstream is up: they reset
// the count while closed, and close a half-open circuit. Canceled is no
// evidence either way; a probe that brings no evidence frees its slot for
// another.
//
// # Generations
//
// Every transition starts a new generation, and every Ticket carries the
// generation it was issued in. The outcome of a ticket from an older
// generation changes nothing: when fifty calls are in flight as the circuit
// opens, their fifty late failures do not count against the probes that
// follow, and a late success from before the trip does not close it.
//
// # Time
//
// A Breaker reads time only from its [clock.Clock] (or from the instant
// passed to the ...At methods), and it starts no goroutine and no timer:
// an open circuit becomes half-open lazily, when [Breaker.Allow] or
// [Breaker.State] finds its interval over. That is why it is written here
// rather than taken from sony/gobreaker or failsafe-go, which read the wall
// clock: the simulator and the tests drive it on a [clock.Fake], and it
// takes the library's own [signal.Kind] as outcome.
//
// A Breaker is safe for concurrent use. Allow and Done take one mutex for a
// few comparisons and allocate nothing, except the error when a call is
// refused.
package breaker
