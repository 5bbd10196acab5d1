// Package policytest is a conformance suite for implementations of
// [policy.Policy].
//
// A bucket trusts its policy with the limiter's rate: a policy that lowers
// the rate twice for one congestion event, grows it on no evidence or
// returns a NaN breaks every limiter that uses it, however correct the
// bucket is. [Run] drives a policy over thousands of random outcomes from
// fixed seeds and checks the rules every policy must follow, whatever its
// algorithm:
//
//   - Validate accepts the policy under test and Initial is a valid state;
//   - Next is deterministic;
//   - Next returns a valid state by itself, bumping the epoch whenever it
//     lowers the rate or moves the cooldown later, and the state a bucket
//     keeps after [policy.Sanitize] stays valid;
//   - a Failed or Canceled outcome keeps the rate and the cooldown;
//   - no evidence, no increase: only a success may raise the rate;
//   - an Outcome with Count k is k identical outcomes at the same instant;
//   - a throttle on a permit from an older epoch never lowers the rate.
//
// Call it from a test of the implementation's package, once per
// configuration worth covering:
//
//	func TestConformance(t *testing.T) {
//		policytest.Run(t, policy.DefaultAIMD())
//		t.Run("Fixed", func(t *testing.T) {
//			policytest.Run(t, policy.Fixed{Rate: 10, Burst: 10})
//		})
//	}
//
// Each rule is its own subtest, so a failure names the rule; the message
// gives the seed and step that broke it, which replay identically. The suite
// never sleeps and finishes in milliseconds.
package policytest
