package buckettest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// farTolerance is how far an instant centuries ahead may be from the
// suite's: a bucket that keeps nanosecond offsets in doubles holds one 292
// years ahead to about 2µs, and the suite allows a millisecond, as
// [RunDifferential] does.
const farTolerance = time.Millisecond

// maxTime is the latest instant a time.Time holds.
var maxTime = time.Unix(math.MaxInt64-62135596800, 999_999_999).UTC()

// A year, for naming far instants.
const year = 365 * 24 * time.Hour

// testHugeRetryAfter applies throttles and overloads whose Retry-After is
// as long as a Duration gets (what a header of 99999999999 seconds or an
// HTTP-date after 2318 parses to) or close to it. The cooldown must end
// that far ahead, in the bucket's reports as in its decisions: no take is
// granted before it ends, however long the caller is willing to wait
// short of Forever, and successes reported during it change nothing.
func testHugeRetryAfter(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	for _, tc := range []struct {
		name string
		kind signal.Kind
		ra   time.Duration
	}{
		{"throttle max", signal.Throttled, math.MaxInt64},
		{"throttle max-1", signal.Throttled, math.MaxInt64 - 1},
		{"throttle 2^62", signal.Throttled, 1 << 62},
		{"throttle 200 years", signal.Throttled, 200 * year},
		{"overload max", signal.Overloaded, math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, newBucket, base)
			t1 := t0.Add(100 * time.Millisecond)
			o := throttle(0)
			o.Signal.Kind, o.Signal.RetryAfter, o.Signal.HasRetryAfter = tc.kind, tc.ra, true
			prev, next := h.apply(throttling, o, t1)
			want := policy.Sanitize(prev, throttling.Next(prev, o, t1))
			cooldownEnd := t1.Add(tc.ra)
			if !want.CooldownUntil.Equal(cooldownEnd) {
				t.Fatalf("the policy's cooldown ends at %s, want %s", rel(want.CooldownUntil), rel(cooldownEnd))
			}
			h.wantStateNear("next", next, want)
			st := h.wantStatus(t1, 0, 0)
			h.wantStateNear("Peek(t1).State", st.State, want)

			// However long the wait allowed, short of the cooldown: no grant.
			for _, maxWait := range []time.Duration{0, time.Hour, 100 * year, tc.ra - time.Second} {
				r := h.rejectTake(t1, 1, maxWait)
				h.wantNotBefore(fmt.Sprintf("take within %v", maxWait), r, cooldownEnd)
			}
			r := h.mustTake(t1, 1, bucket.Forever)
			h.wantNotBefore("take with no bound during the cooldown", r, cooldownEnd)
			h.wantNear("take with no bound during the cooldown", r.At, cooldownEnd.Add(policy.Seconds(1/next.Rate)))

			// A success during the cooldown is no evidence: the state stays,
			// and so does the cooldown, in the reports and in the takes.
			t2 := t1.Add(time.Hour)
			_, after := h.apply(throttling, success(next.Epoch), t2)
			h.wantStateNear("after a success during the cooldown", after, next)
			st = h.peek(t2)
			h.wantStateNear("Peek(t2).State", st.State, next)
			r = h.rejectTake(t2, 1, 100*year)
			h.wantNotBefore("take an hour into the cooldown", r, cooldownEnd)
			r = h.mustTake(t2, 1, bucket.Forever)
			h.wantNotBefore("take an hour into the cooldown", r, cooldownEnd)
		})
	}
}

// testQuotaFarReset reports quota hints whose window resets as far ahead as
// a Duration gets (a reset of 1e15 seconds parses to that): a unit left is
// spent over centuries, none left is a cooldown as long.
func testQuotaFarReset(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	const reset = time.Duration(math.MaxInt64)
	resetAt := t0.Add(reset)

	t.Run("one left", func(t *testing.T) {
		h := start(t, newBucket, base)
		prev, next := h.apply(steady, withQuota(0, 1, reset), t0)
		h.wantStateNear("next", next, policy.Sanitize(prev, policy.Pace(steady.Next(prev, withQuota(0, 1, reset), t0), withQuota(0, 1, reset).Signal, t0)))
		h.wantNear("QuotaUntil", next.QuotaUntil, resetAt)
		h.wantStatus(t0, 1, 0) // the bucket keeps the one token the pace allows
		h.mustTake(t0, 1, 0)
		for _, maxWait := range []time.Duration{0, time.Hour, 100 * year} {
			h.rejectTake(t0, 1, maxWait)
		}
		// The next tokens accrue at a unit per window: not before it resets.
		r := h.mustTake(t0, 3, bucket.Forever)
		if r.At.Before(resetAt.Add(-farTolerance)) {
			t.Errorf("3 tokens taken at t0 are due at %s, before the quota resets at %s", rel(r.At), rel(resetAt))
		}
	})

	t.Run("none left", func(t *testing.T) {
		h := start(t, newBucket, base)
		_, next := h.apply(steady, withQuota(0, 0, reset), t0)
		h.wantNear("CooldownUntil", next.CooldownUntil, resetAt)
		if next.Epoch != 1 {
			t.Errorf("epoch after an exhausted quota = %d, want 1", next.Epoch)
		}
		h.wantStatus(t0, 0, 0)
		for _, maxWait := range []time.Duration{0, time.Hour, 100 * year} {
			r := h.rejectTake(t0, 1, maxWait)
			h.wantNotBefore("take while the quota is exhausted", r, next.CooldownUntil)
		}
		r := h.mustTake(t0, 1, bucket.Forever)
		h.wantNotBefore("take while the quota is exhausted", r, next.CooldownUntil)
	})
}

// testCooldownAtTimesEnd gives the bucket, through a policy, a cooldown
// that ends at the latest instant a time.Time holds, or a Duration's range
// after now: both stay beyond any wait short of Forever.
func testCooldownAtTimesEnd(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	for _, tc := range []struct {
		name string
		end  time.Time
	}{
		{"time's maximum", maxTime},
		{"now + max Duration", t0.Add(math.MaxInt64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, newBucket, base)
			p := rogue(func(s policy.State) policy.State {
				s.CooldownUntil = tc.end
				s.Epoch++
				return s
			})
			_, next := h.apply(p, success(0), t0)
			far := t0.Add(math.MaxInt64 - farTolerance)
			for what, at := range map[string]time.Time{"next.CooldownUntil": next.CooldownUntil, "Peek.State.CooldownUntil": h.peek(t0).State.CooldownUntil} {
				if at.Before(far) {
					t.Errorf("%s = %s, want after %s", what, rel(at), rel(far))
				}
			}
			for _, maxWait := range []time.Duration{0, time.Hour, bucket.Forever - time.Second} {
				r := h.rejectTake(t0, 1, maxWait)
				if r.At.Before(far) {
					t.Errorf("take within %v: At = %s, want after %s", maxWait, rel(r.At), rel(far))
				}
			}
			r := h.mustTake(t0, 1, bucket.Forever)
			if r.At.Before(far) {
				t.Errorf("take with no bound: At = %s, want after %s", rel(r.At), rel(far))
			}
		})
	}
}

// wantStateNear is wantState with the instants compared within
// farTolerance.
func (h harness) wantStateNear(what string, got, want policy.State) {
	h.t.Helper()
	if !nearInstant(got.CooldownUntil, want.CooldownUntil) || !nearInstant(got.QuotaUntil, want.QuotaUntil) {
		h.t.Errorf("%s: CooldownUntil %s, QuotaUntil %s; want %s, %s", what,
			rel(got.CooldownUntil), rel(got.QuotaUntil), rel(want.CooldownUntil), rel(want.QuotaUntil))
	}
	got.CooldownUntil, got.QuotaUntil = want.CooldownUntil, want.QuotaUntil
	h.wantState(what, got, want)
}

// wantNear checks an instant within farTolerance.
func (h harness) wantNear(what string, got, want time.Time) {
	h.t.Helper()
	if !nearInstant(got, want) {
		h.t.Errorf("%s = %s, want %s", what, rel(got), rel(want))
	}
}

// nearInstant reports whether a and b are both zero or within
// farTolerance of each other.
func nearInstant(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() == b.IsZero()
	}
	d := a.Sub(b)
	return d >= -farTolerance && d <= farTolerance
}
