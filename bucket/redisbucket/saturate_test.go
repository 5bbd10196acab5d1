package redisbucket_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/internal/redistest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

const year = 365 * 24 * time.Hour

// A 429 whose Retry-After is as long as a Duration gets (99999999999
// seconds, or an HTTP-date after 2318, parse to that) starts a cooldown
// 292 years long on the server's clock, for every process of the fleet: no
// reservation without a bound is due before it ends, and every limiter
// reports it that far ahead. The script's instants beyond an int64 of
// nanoseconds used to reach Go as the most negative one: a cooldown over
// since 1734, and every wait without a deadline granted at once.
func TestHugeRetryAfterHoldsTheFleet(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("huge-retry-after-%d", names.Add(1))
	a := policy.DefaultAIMD()
	// The limiters' own ceiling on a pause (WithMaxPause) is lifted to
	// the largest Duration: the bucket must hold what reaches it.
	lims := sharedLimiters(t, srv, name, a, 2, dynlimit.WithMaxPause(math.MaxInt64)) // on the server's clock
	p, ok := lims[0].Allow()
	if !ok {
		t.Fatal("no permit from a full bucket")
	}
	start := time.Now()
	p.Done(signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: math.MaxInt64, HasRetryAfter: true})

	const tries = 200
	var granted int
	for i := range tries {
		l := lims[i%len(lims)]
		r, err := l.Reserve()
		if err != nil {
			t.Fatalf("Reserve %d: %v", i, err)
		}
		// Due within a century counts as let through.
		if d := r.DelayFrom(time.Now()); d < 100*year {
			granted++
		}
	}
	if granted > 0 {
		t.Errorf("%d of %d reservations during a 292-year cooldown are due within a century", granted, tries)
	}
	far := start.Add(math.MaxInt64 - time.Hour)
	for i, l := range lims {
		if s := l.Snapshot(); s.Err != nil || s.CooldownUntil.Before(far) {
			t.Errorf("process %d: cooldown until %v (err %v), want after %v", i, s.CooldownUntil, s.Err, far)
		}
	}
}

// The bucket's own answers on the server's clock, for a cooldown that ends
// a Duration's range ahead and for one at the end of time.Time; the state's
// other instants, Since and Updated, saturate alike.
func TestFarCooldownOnTheServerClock(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := t.Context()
	maxTime := time.Unix(math.MaxInt64-62135596800, 999_999_999)
	for _, tc := range []struct {
		name string
		end  func(now time.Time) time.Time
	}{
		{"now + max Duration", func(now time.Time) time.Time { return now.Add(math.MaxInt64) }},
		{"time's maximum", func(time.Time) time.Time { return maxTime }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mustNew(t, c, fmt.Sprintf("far-%d", names.Add(1)))
			now := time.Now()
			if err := b.Init(ctx, now, policy.State{Rate: 4, Burst: 4}); err != nil {
				t.Fatal(err)
			}
			end := tc.end(now)
			p := farPolicy{end: end}
			if _, next, err := b.Apply(ctx, p, policy.Outcome{Tokens: 1}, now); err != nil || !next.CooldownUntil.Equal(end) {
				t.Fatalf("Apply = %+v, %v; want a cooldown until %v", next, err, end)
			}
			far := now.Add(math.MaxInt64 - time.Hour)
			st, err := b.Peek(ctx, now)
			if err != nil || st.State.CooldownUntil.Before(far) || st.State.Since.Before(far) || st.State.Updated.Before(far) {
				t.Errorf("Peek = %+v, %v; want a cooldown, a since and an updated after %v", st.State, err, far)
			}
			for _, maxWait := range []time.Duration{0, time.Hour, 100 * year, bucket.Forever - time.Second} {
				if r, err := b.Take(ctx, now, 1, maxWait); err != nil || r.OK || r.At.Before(far) {
					t.Errorf("Take(maxWait %v) = %+v, %v; want refused, due after %v", maxWait, r, err, far)
				}
			}
			if r, err := b.Take(ctx, now, 1, bucket.Forever); err != nil || !r.OK || r.At.Before(far) {
				t.Errorf("Take(Forever) = %+v, %v; want granted after %v", r, err, far)
			}
		})
	}
}

// farPolicy starts a cooldown until end on any outcome, and moves Since
// and Updated there too.
type farPolicy struct{ end time.Time }

func (p farPolicy) Initial() policy.State { return policy.State{Rate: 4, Burst: 4} }
func (p farPolicy) Validate() error       { return nil }

func (p farPolicy) Next(s policy.State, _ policy.Outcome, _ time.Time) policy.State {
	s.CooldownUntil, s.Since, s.Updated = p.end, p.end, p.end
	s.Epoch++
	return s
}

// With the limiters' default ceiling, the same 429 holds the fleet for the
// max pause, an hour: nothing is due before it ends, every process reads
// the same end, and a permit is due right after it.
func TestHugeRetryAfterHoldsTheFleetForTheMaxPause(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("huge-retry-after-capped-%d", names.Add(1))
	lims := sharedLimiters(t, srv, name, policy.DefaultAIMD(), 2)
	p, ok := lims[0].Allow()
	if !ok {
		t.Fatal("no permit from a full bucket")
	}
	start := time.Now()
	p.Done(signal.Signal{Kind: signal.Throttled, Status: 429, RetryAfter: math.MaxInt64, HasRetryAfter: true})
	end := time.Now().Add(dynlimit.DefaultMaxPause)
	for i, l := range lims {
		s := l.Snapshot()
		if s.Err != nil || s.CooldownUntil.Before(start.Add(dynlimit.DefaultMaxPause-time.Second)) || s.CooldownUntil.After(end.Add(time.Second)) {
			t.Errorf("process %d: cooldown until %v (err %v), want the max pause from the 429, about %v", i, s.CooldownUntil, s.Err, end)
		}
		r, err := l.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		if d := r.DelayFrom(time.Now()); d < dynlimit.DefaultMaxPause-time.Minute || d > dynlimit.DefaultMaxPause+time.Minute {
			t.Errorf("process %d: a reservation is due in %v, want about the max pause, %v", i, d, dynlimit.DefaultMaxPause)
		}
	}
}
