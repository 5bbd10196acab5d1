// Package dynlimit paces calls to third-party APIs so that a worker gets as
// much of the upstream's capacity as it will give, without being throttled,
// and reacts correctly when it is.
//
// A [Limiter] composes three parts:
//
//   - a [policy.Policy] that decides the rate from what calls taught it
//     (default [policy.AIMD]: additive increase on success, multiplicative
//     decrease on throttling, a cooldown that honours Retry-After);
//   - a [bucket.Bucket] that holds the tokens and the adaptive state
//     (default [bucket.Local], in memory);
//   - a [clock.Clock] (default [clock.Real]).
//
// A caller asks for a [Permit] with [Limiter.Wait], makes the call, and
// reports what happened with [Permit.Done]:
//
//	p, err := lim.Wait(ctx)
//	if err != nil {
//		return err // ctx ended, or the wait would pass its deadline
//	}
//	resp, err := client.Do(req)
//	p.Done(classify(resp, err))
//
// [Limiter.Allow] and [Limiter.Reserve] never block. Every method that reads
// the clock has a twin that takes the instant explicitly ([Limiter.AllowN],
// [Limiter.ReserveN], [Permit.DoneAt]), which is how the simulator drives a
// real Limiter on simulated time.
//
// A Limiter is safe for concurrent use. It takes no lock of its own on the
// hot path: the bucket's lock is held for one arithmetic step per call and
// never while waiting.
package dynlimit
