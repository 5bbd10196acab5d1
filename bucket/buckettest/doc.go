// Package buckettest is the conformance suite of [bucket.Bucket].
//
// Every implementation runs it from its own tests:
//
//	func TestShared(t *testing.T) {
//		buckettest.Run(t, func(t *testing.T) bucket.Bucket {
//			return newSharedBucket(t) // empty, never initialized
//		})
//	}
//
// and, to require the same decisions as the in-memory bucket on the same
// random calls, extreme Retry-After and quota hints among them:
//
//	func TestSharedMatchesLocal(t *testing.T) {
//		buckettest.RunDifferential(t, func(t *testing.T) bucket.Bucket {
//			return newSharedBucket(t) // on the caller's clock
//		})
//	}
//
// The suite relies only on the contract documented on [bucket.Bucket]. It
// passes its own instants, starting at 2026-01-01 00:00 UTC, and never reads
// a clock, so a bucket that consults one instead of the instant it is given
// fails. Rates are chosen so that the instants the suite expects are exact
// in binary floating point, which a bucket that keeps time as float seconds
// needs; beyond that, an instant a bucket returns may be off by a
// microsecond, and one centuries ahead (a Retry-After as long as a
// Duration, a quota window as long) by a millisecond. Checks that guard
// safety (never before now, never before a cooldown ends, never more than
// the burst) are exact.
//
// The concurrency test is only as strong as the race detector: run the
// suite with -race.
package buckettest
