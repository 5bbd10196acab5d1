package dynlimit_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/bucket/buckettest"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

func TestOneCongestionEventOneDecrease(t *testing.T) {
	// Fifty permits in flight: 49 that come back together, and a straggler.
	const inFlight = 50
	const echoes = inFlight - 1
	a := classic()
	a.Rate, a.Burst = 8, inFlight
	t1 := t0.Add(100 * time.Millisecond)

	tests := []struct {
		name    string
		sig     signal.Signal
		spacing time.Duration // between the Done calls, from t1
		onClock bool          // Done on the limiter's clock rather than DoneAt
		// what the 50 throttles leave behind
		wantCooldownUntil time.Time
		wantEpoch         uint64
	}{
		{
			name:              "429s without Retry-After at one instant",
			sig:               throttle(0),
			wantCooldownUntil: t1.Add(policy.Seconds(a.CooldownMultiplier / 4)),
			wantEpoch:         1,
		},
		{
			name:              "429s with Retry-After at one instant",
			sig:               throttle(2 * time.Second),
			wantCooldownUntil: t1.Add(2 * time.Second),
			wantEpoch:         1,
		},
		{
			name:              "429s through Done on the clock",
			sig:               throttle(0),
			onClock:           true,
			wantCooldownUntil: t1.Add(policy.Seconds(a.CooldownMultiplier / 4)),
			wantEpoch:         1,
		},
		{
			// Each late echo carries a Retry-After that ends later: it
			// stretches the pause (a new epoch each time) but must not
			// lower the rate again.
			name:              "429s spread out, each Retry-After ending later",
			sig:               throttle(2 * time.Second),
			spacing:           10 * time.Millisecond,
			wantCooldownUntil: t1.Add((echoes-1)*10*time.Millisecond + 2*time.Second),
			wantEpoch:         echoes,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(t0)
			l := newLimiter(t, dynlimit.WithPolicy(a), dynlimit.WithClock(fake))

			// t0: the whole burst goes out, plus a straggler kept for later.
			permits := drain(t, l, t0, echoes)
			straggler := allow(t, l, t0, 1)

			// t1...: every one of the echoes comes back throttled.
			for i, p := range permits {
				now := t1.Add(time.Duration(i) * tt.spacing)
				if tt.onClock {
					fake.Set(now)
					p.Done(tt.sig)
				} else {
					p.DoneAt(now, tt.sig)
				}
			}
			last := t1.Add(time.Duration(len(permits)-1) * tt.spacing)
			s := l.SnapshotAt(last)
			if s.Rate != a.Rate*a.DecreaseFactor || s.Counters.Decreases != 1 {
				t.Fatalf("after %d throttles of one event: rate %v, decreases %d; want %v, 1",
					len(permits), s.Rate, s.Counters.Decreases, a.Rate*a.DecreaseFactor)
			}
			if !s.CooldownUntil.Equal(tt.wantCooldownUntil) || s.Epoch != tt.wantEpoch {
				t.Errorf("cooldown until %v, epoch %d; want %v, %d", s.CooldownUntil, s.Epoch, tt.wantCooldownUntil, tt.wantEpoch)
			}
			if s.Counters.Throttled != uint64(len(permits)) {
				t.Errorf("Throttled = %d, want %d", s.Counters.Throttled, len(permits))
			}

			// t2: after the pause, a permit of the new epoch is throttled: a
			// new congestion event, a second decrease.
			t2 := s.CooldownUntil.Add(time.Second)
			allow(t, l, t2, 1).DoneAt(t2, throttle(0))
			s = l.SnapshotAt(t2)
			if s.Rate != a.Rate*a.DecreaseFactor*a.DecreaseFactor || s.Counters.Decreases != 2 || s.Epoch != tt.wantEpoch+1 {
				t.Fatalf("after a fresh throttle: rate %v, decreases %d, epoch %d; want %v, 2, %d",
					s.Rate, s.Counters.Decreases, s.Epoch, a.Rate*a.DecreaseFactor*a.DecreaseFactor, tt.wantEpoch+1)
			}

			// t3: the straggler from t0 is an echo of the first event.
			t3 := t2.Add(time.Millisecond)
			straggler.DoneAt(t3, throttle(0))
			if s := l.SnapshotAt(t3); s.Rate != a.Rate*a.DecreaseFactor*a.DecreaseFactor || s.Counters.Decreases != 2 {
				t.Errorf("a throttle on a permit from before both decreases: rate %v, decreases %d; want unchanged",
					s.Rate, s.Counters.Decreases)
			}
		})
	}
}

func TestIdleLimiterKeepsItsRate(t *testing.T) {
	t1 := t0.Add(time.Second)
	tests := []struct {
		name     string
		setup    func(t *testing.T, l *dynlimit.Limiter)
		wantRate float64
	}{
		{"fresh", func(*testing.T, *dynlimit.Limiter) {}, 5},
		{"after a decrease", func(t *testing.T, l *dynlimit.Limiter) {
			allow(t, l, t0, 1).DoneAt(t0, throttle(0))
		}, 2.5},
		{"after successes", func(t *testing.T, l *dynlimit.Limiter) {
			for _, p := range drain(t, l, t0, 3) {
				p.DoneAt(t0, signal.Signal{})
			}
		}, 5.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(t0)
			l := newLimiter(t, dynlimit.WithClock(fake))
			tt.setup(t, l)
			before := l.SnapshotAt(t1)
			if !near(before.Rate, tt.wantRate) {
				t.Fatalf("rate after setup = %v, want %v", before.Rate, tt.wantRate)
			}
			for _, idle := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour, 1000 * time.Hour} {
				fake.Set(t1.Add(idle))
				s := l.Snapshot()
				if s.Rate != before.Rate || s.Counters.Increases != before.Counters.Increases {
					t.Errorf("idle for %v: rate %v, increases %d; want %v, %d",
						idle, s.Rate, s.Counters.Increases, before.Rate, before.Counters.Increases)
				}
				if s.Tokens != s.Burst {
					t.Errorf("idle for %v: tokens %v, want a full bucket of %v", idle, s.Tokens, s.Burst)
				}
			}
		})
	}
}

func TestOutcomesThatAreNotSuccessesDoNotRaiseTheRate(t *testing.T) {
	t1 := t0.Add(time.Second)
	tests := []struct {
		name string
		sig  signal.Signal
	}{
		{"failed", signal.Signal{Kind: signal.Failed, Status: 404}},
		{"failed with hints", signal.Signal{Kind: signal.Failed, Status: 400, Quota: signal.Quota{Limit: 100, Remaining: 99, HasRemaining: true}}},
		{"overloaded", signal.Signal{Kind: signal.Overloaded, Status: 503}},
		{"overloaded with Retry-After", signal.Signal{Kind: signal.Overloaded, Status: 503, RetryAfter: 3 * time.Second}},
		{"canceled", signal.Signal{Kind: signal.Canceled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
			for _, p := range drain(t, l, t0, 5) {
				p.DoneAt(t1, tt.sig)
			}
			s := l.SnapshotAt(t1.Add(time.Hour))
			if s.Rate != 5 || s.Counters.Increases != 0 || s.Counters.Decreases != 0 {
				t.Errorf("rate %v, increases %d, decreases %d; want 5, 0, 0", s.Rate, s.Counters.Increases, s.Counters.Decreases)
			}
			if s.InFlight != 0 || s.Counters.Granted != 5 {
				t.Errorf("in flight %d of %d granted, want 0 of 5", s.InFlight, s.Counters.Granted)
			}
		})
	}
}

func TestBatchedSuccessesEqualOneByOne(t *testing.T) {
	a := classic()
	for _, n := range []int{1, 2, 5, 64, 1000} {
		t.Run("n="+strconv.Itoa(n), func(t *testing.T) {
			// The same permits, granted one a second so that the bucket
			// never refuses; only the way their outcomes come back differs.
			grant := func(l *dynlimit.Limiter, fake *clock.Fake) []dynlimit.Permit {
				ps := make([]dynlimit.Permit, n)
				for i := range ps {
					fake.Set(t0.Add(time.Duration(i) * time.Second))
					var ok bool
					if ps[i], ok = l.Allow(); !ok {
						t.Fatalf("permit %d refused", i)
					}
				}
				return ps
			}
			tn := t0.Add(time.Duration(n) * time.Second)

			fakeB := clock.NewFake(t0)
			batched := newLimiter(t, dynlimit.WithPolicy(a), dynlimit.WithClock(fakeB))
			for _, p := range grant(batched, fakeB) {
				p.Done(signal.Signal{})
			}
			fakeB.Set(tn)
			sb := batched.Snapshot()

			fakeO := clock.NewFake(t0)
			oneByOne := newLimiter(t, dynlimit.WithPolicy(a), dynlimit.WithClock(fakeO))
			for i, p := range grant(oneByOne, fakeO) {
				p.DoneAt(tn.Add(time.Duration(i)*time.Second), signal.Signal{})
			}
			so := oneByOne.SnapshotAt(tn.Add(time.Duration(n) * time.Second))

			want := min(a.Rate+float64(n)*a.IncreaseFactor, a.MaxRate)
			if !near(sb.Rate, so.Rate) || !near(sb.Rate, want) {
				t.Errorf("rate batched %v, one by one %v; want both %v", sb.Rate, so.Rate, want)
			}
			for name, s := range map[string]dynlimit.Snapshot{"batched": sb, "one by one": so} {
				if c := s.Counters; c.Granted != uint64(n) || c.Succeeded != uint64(n) || s.InFlight != 0 {
					t.Errorf("%s: granted %d, succeeded %d, in flight %d; want %d, %d, 0", name, c.Granted, c.Succeeded, s.InFlight, n, n)
				}
			}
		})
	}
}

func TestBatchedSuccessesCountAsDone(t *testing.T) {
	fake := clock.NewFake(t0)
	l := newLimiter(t, dynlimit.WithClock(fake))
	permits := drain(t, l, t0, 5)
	for _, p := range permits[:3] {
		p.Done(signal.Signal{})
	}
	s := l.Snapshot()
	if s.Counters.Granted != 5 || s.Counters.Succeeded != 3 || s.InFlight != 2 {
		t.Errorf("granted %d, succeeded %d, in flight %d; want 5, 3, 2", s.Counters.Granted, s.Counters.Succeeded, s.InFlight)
	}
	for _, p := range permits[3:] {
		p.Done(signal.Signal{})
	}
	if s := l.Snapshot(); s.Counters.Succeeded != 5 || s.InFlight != 0 {
		t.Errorf("succeeded %d, in flight %d; want 5, 0", s.Counters.Succeeded, s.InFlight)
	}
}

func TestBatchedSuccessesOfAStaleEpochDoNotRaiseTheRate(t *testing.T) {
	t1 := t0.Add(100 * time.Millisecond)
	tests := []struct {
		name string
		// run reports four successes and one throttle of five permits
		// issued at t0, in some order.
		run      func(l *dynlimit.Limiter, ps []dynlimit.Permit)
		wantRate float64
	}{
		{
			// They were issued before the decrease: echoes of the old rate.
			name: "successes after the throttle",
			run: func(l *dynlimit.Limiter, ps []dynlimit.Permit) {
				ps[0].Done(throttle(0))
				for _, p := range ps[1:] {
					p.Done(signal.Signal{})
				}
			},
			wantRate: 2.5,
		},
		{
			// Still batched when the throttle comes: the policy must see
			// them first, as they happened first.
			name: "successes before the throttle",
			run: func(l *dynlimit.Limiter, ps []dynlimit.Permit) {
				for _, p := range ps[1:] {
					p.Done(signal.Signal{})
				}
				ps[0].Done(throttle(0))
			},
			wantRate: (5 + 4*0.1) * 0.5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := clock.NewFake(t0)
			l := newLimiter(t, dynlimit.WithClock(fake))
			ps := drain(t, l, t0, 5)
			fake.Set(t1)
			tt.run(l, ps)
			fake.Set(t1.Add(time.Hour))
			s := l.Snapshot()
			if !near(s.Rate, tt.wantRate) {
				t.Errorf("rate = %v, want %v", s.Rate, tt.wantRate)
			}
			if s.Counters.Succeeded != 4 || s.Counters.Throttled != 1 || s.InFlight != 0 {
				t.Errorf("succeeded %d, throttled %d, in flight %d; want 4, 1, 0", s.Counters.Succeeded, s.Counters.Throttled, s.InFlight)
			}
		})
	}
}

// The hot path of Done must stay off the clock and off the bucket's lock;
// the policy sees the batch on the next permit request a millisecond later,
// before any other outcome, or on Snapshot.
func TestBatchIsFlushedOnTakeAfterAMillisecond(t *testing.T) {
	fake := &countingClock{Fake: clock.NewFake(t0)}
	spy := newSpyBucket()
	l := newLimiter(t, dynlimit.WithClock(fake), dynlimit.WithBucket(spy))
	ps := drain(t, l, t0, 5)
	l.SnapshotAt(t0) // the last flush is now t0
	spy.outcomes()

	batch := func(k int) policy.Outcome { return policy.Outcome{Tokens: 1, Count: uint64(k)} }
	steps := []struct {
		name string
		do   func()
		want []policy.Outcome
	}{
		{"Done of a plain success", func() { ps[0].Done(signal.Signal{}) }, nil},
		{"Done of a 200 without hints", func() { ps[1].Done(signal.Signal{Status: 200}) }, nil},
		{"a take 999µs after the last flush", func() { l.AllowN(t0.Add(999*time.Microsecond), 1) }, nil},
		{"a take 1ms after the last flush", func() { l.AllowN(t0.Add(time.Millisecond), 1) }, []policy.Outcome{batch(2)}},
		{"Done of a success at once", func() { ps[2].Done(signal.Signal{}) }, nil},
		{"a failure", func() { ps[3].DoneAt(t0.Add(1100*time.Microsecond), signal.Signal{Kind: signal.Failed}) },
			[]policy.Outcome{batch(1), {Signal: signal.Signal{Kind: signal.Failed}, Tokens: 1, Count: 1}}},
		{"Done of a success after the failure", func() { ps[4].Done(signal.Signal{}) }, nil},
		{"Snapshot", func() { l.SnapshotAt(t0.Add(1200 * time.Microsecond)) }, []policy.Outcome{batch(1)}},
	}
	for _, st := range steps {
		reads := fake.reads.Load()
		st.do()
		if diff := cmp.Diff(st.want, spy.outcomes()); diff != "" {
			t.Errorf("%s: outcomes handed to the policy (-want +got):\n%s", st.name, diff)
		}
		if st.want == nil && fake.reads.Load() != reads {
			t.Errorf("%s read the clock", st.name)
		}
	}
	if s := l.SnapshotAt(t0.Add(2 * time.Millisecond)); s.Counters.Succeeded != 4 || s.Counters.Failed != 1 || s.InFlight != 0 {
		t.Errorf("succeeded %d, failed %d, in flight %d; want 4, 1, 0", s.Counters.Succeeded, s.Counters.Failed, s.InFlight)
	}
}

func TestDoneThatCannotBeBatchedGoesStraightToThePolicy(t *testing.T) {
	tests := []struct {
		name string
		opts []dynlimit.Option
		n    int
		sig  signal.Signal
	}{
		{"success with Retry-After", nil, 1, signal.Signal{RetryAfter: time.Second}},
		{"success with quota hints", nil, 1, signal.Signal{Quota: signal.Quota{Remaining: 3, HasRemaining: true}}},
		{"two-token permit", nil, 2, signal.Signal{}},
		{"limiter with an observer", []dynlimit.Option{dynlimit.WithObserver(&recorder{})}, 1, signal.Signal{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spy := newSpyBucket()
			l := newLimiter(t, append(tt.opts, dynlimit.WithClock(clock.NewFake(t0)), dynlimit.WithBucket(spy))...)
			p := allow(t, l, t0, tt.n)
			p.Done(tt.sig)
			want := []policy.Outcome{{Signal: tt.sig, Tokens: float64(tt.n), Count: 1}}
			if diff := cmp.Diff(want, spy.outcomes()); diff != "" {
				t.Errorf("outcomes handed to the policy (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCooldownHoldsEveryTake(t *testing.T) {
	t1 := t0.Add(100 * time.Millisecond)
	tests := []struct {
		name     string
		sig      signal.Signal
		cooldown time.Duration
	}{
		{"Retry-After", throttle(2 * time.Second), 2 * time.Second},
		{"short Retry-After", throttle(50 * time.Millisecond), 50 * time.Millisecond},
		{"no Retry-After: cooldown_multiplier / new rate", throttle(0), policy.Seconds(1.5 / 2.5)},
		{"overloaded with Retry-After", signal.Signal{Kind: signal.Overloaded, RetryAfter: time.Second}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
			// A full bucket at t1: the cooldown alone holds the takes back.
			p := allow(t, l, t0, 1)
			p.DoneAt(t1, tt.sig)
			s := l.SnapshotAt(t1)
			end := t1.Add(tt.cooldown)
			if !s.CooldownUntil.Equal(end) {
				t.Fatalf("cooldown until %v, want %v", s.CooldownUntil, end)
			}
			for _, at := range []time.Time{t1, t1.Add(tt.cooldown / 2), end.Add(-time.Nanosecond), end} {
				if _, ok := l.AllowN(at, 1); ok {
					t.Errorf("AllowN at cooldown end %v: granted", at.Sub(end))
				}
				r, err := l.ReserveN(at, 1)
				if err != nil {
					t.Fatalf("ReserveN: %v", err)
				}
				if r.At().Before(end) {
					t.Errorf("ReserveN at cooldown end %v: due %v before the end", at.Sub(end), end.Sub(r.At()))
				}
				r.CancelAt(at)
			}
			// The bucket was drained: the first token comes one interval
			// of the new rate after the end.
			first := end.Add(policy.Seconds(1 / s.Rate))
			// A microsecond early, not a nanosecond: the bucket rounds a
			// wait shorter than a nanosecond down to none.
			if _, ok := l.AllowN(first.Add(-time.Microsecond), 1); ok {
				t.Errorf("granted before the first token after the cooldown")
			}
			if _, ok := l.AllowN(first, 1); !ok {
				t.Errorf("refused at %v after the cooldown, when the first token is due", first.Sub(end))
			}
		})
	}
}

func TestReservation(t *testing.T) {
	t.Run("DelayFrom", func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
		drain(t, l, t0, 5)
		r, err := l.ReserveN(t0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK() || r.Epoch() != 0 || !r.At().Equal(t0.Add(400*time.Millisecond)) {
			t.Fatalf("OK %v, epoch %d, at %v; want true, 0, t0+400ms", r.OK(), r.Epoch(), r.At().Sub(t0))
		}
		for _, c := range []struct {
			from time.Time
			want time.Duration
		}{
			{t0, 400 * time.Millisecond},
			{t0.Add(150 * time.Millisecond), 250 * time.Millisecond},
			{t0.Add(400 * time.Millisecond), 0},
			{t0.Add(time.Hour), 0},
		} {
			if got := r.DelayFrom(c.from); got != c.want {
				t.Errorf("DelayFrom(t0+%v) = %v, want %v", c.from.Sub(t0), got, c.want)
			}
		}
	})

	t.Run("PermitAt before, at and after At", func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
		drain(t, l, t0, 5)
		r, _ := l.ReserveN(t0, 1)
		t1 := r.At()
		if _, err := l.ReserveN(t0, 1); err != nil { // a later one, queued behind
			t.Fatal(err)
		}
		if _, err := r.PermitAt(t1.Add(-time.Nanosecond)); !errors.Is(err, dynlimit.ErrEarly) {
			t.Errorf("PermitAt before At: err = %v, want ErrEarly", err)
		}
		p, err := r.PermitAt(t1)
		if err != nil {
			t.Fatalf("PermitAt(At): %v", err)
		}
		if !p.Issued().Equal(t1) || p.Epoch() != 0 || p.Tokens() != 1 {
			t.Errorf("permit issued %v, epoch %d, tokens %v; want At, 0, 1", p.Issued(), p.Epoch(), p.Tokens())
		}
		if s := l.SnapshotAt(t1); s.Counters.Granted != 6 || s.InFlight != 6 {
			t.Errorf("granted %d, in flight %d; want 6, 6", s.Counters.Granted, s.InFlight)
		}
	})

	t.Run("ErrForfeited after a congestion event", func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
		ps := drain(t, l, t0, 5)
		r, _ := l.ReserveN(t0, 1)
		t1 := t0.Add(100 * time.Millisecond)
		ps[0].DoneAt(t1, throttle(0))
		for _, at := range []time.Time{r.At(), t1.Add(time.Hour)} {
			if _, err := r.PermitAt(at); !errors.Is(err, dynlimit.ErrForfeited) {
				t.Errorf("PermitAt(t0+%v) after a throttle: err = %v, want ErrForfeited", at.Sub(t0), err)
			}
		}
		// The forfeited tokens are gone with the drained bucket; giving
		// them back would hand out a burst the cooldown forbids.
		r.CancelAt(t1)
		if s := l.SnapshotAt(t1); s.Tokens != 0 || s.Reserved != 0 {
			t.Errorf("after cancelling a forfeited reservation: tokens %v, reserved %v; want 0, 0", s.Tokens, s.Reserved)
		}
		if s := l.SnapshotAt(t1); s.Counters.Granted != 5 {
			t.Errorf("granted %d, want 5", s.Counters.Granted)
		}
	})

	t.Run("CancelAt gives the tokens back", func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
		drain(t, l, t0, 5)
		before := l.SnapshotAt(t0)
		r, _ := l.ReserveN(t0, 3)
		if s := l.SnapshotAt(t0); s.Reserved != 3 {
			t.Fatalf("reserved %v, want 3", s.Reserved)
		}
		r.CancelAt(t0)
		if diff := cmp.Diff(before, l.SnapshotAt(t0)); diff != "" {
			t.Errorf("snapshot after CancelAt differs from before ReserveN (-before +after):\n%s", diff)
		}
		r2, _ := l.ReserveN(t0, 1)
		if want := t0.Add(200 * time.Millisecond); !r2.At().Equal(want) {
			t.Errorf("next reservation due at t0+%v, want t0+200ms", r2.At().Sub(t0))
		}
	})

	t.Run("CancelAt after At keeps the tokens spent", func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)))
		drain(t, l, t0, 5)
		r, _ := l.ReserveN(t0, 1)
		r.CancelAt(r.At())
		if s := l.SnapshotAt(r.At()); s.Tokens != 0 || s.Reserved != 0 {
			t.Errorf("tokens %v, reserved %v; want 0, 0", s.Tokens, s.Reserved)
		}
	})

	t.Run("WithMaxWait refuses a far reservation", func(t *testing.T) {
		rec := &recorder{}
		l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)), dynlimit.WithMaxWait(300*time.Millisecond), dynlimit.WithObserver(rec))
		drain(t, l, t0, 5)
		if _, err := l.ReserveN(t0, 1); err != nil {
			t.Fatal(err)
		}
		before := l.SnapshotAt(t0)
		_, err := l.ReserveN(t0, 1)
		var got *dynlimit.WaitError
		if !errors.As(err, &got) {
			t.Fatalf("ReserveN: err = %v, want a *WaitError", err)
		}
		want := &dynlimit.WaitError{Now: t0, RetryAt: t0.Add(400 * time.Millisecond), Bound: t0.Add(300 * time.Millisecond)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ReserveN error (-want +got):\n%s", diff)
		}
		after := l.SnapshotAt(t0)
		if after.Reserved != before.Reserved || after.Counters.Rejected != 1 {
			t.Errorf("reserved %v → %v, rejected %d; want nothing taken, 1 rejected", before.Reserved, after.Reserved, after.Counters.Rejected)
		}
	})
}

func TestMaxInFlight(t *testing.T) {
	fake := clock.NewFake(t0)
	l := newLimiter(t, dynlimit.WithClock(fake), dynlimit.WithMaxInFlight(2))
	ps := drain(t, l, t0, 2)
	if _, ok := l.AllowN(t0, 1); ok {
		t.Fatal("AllowN granted a third permit with a cap of 2")
	}
	r, err := l.ReserveN(t0, 1)
	if err != nil {
		t.Fatalf("ReserveN: %v (the cap applies to permits, not reservations)", err)
	}
	if _, err := r.PermitAt(t0); !errors.Is(err, dynlimit.ErrInFlight) {
		t.Errorf("PermitAt with the cap reached: err = %v, want ErrInFlight", err)
	}
	s := l.SnapshotAt(t0)
	if s.MaxInFlight != 2 || s.InFlight != 2 || s.Counters.Granted != 2 {
		t.Errorf("max in flight %d, in flight %d, granted %d; want 2, 2, 2", s.MaxInFlight, s.InFlight, s.Counters.Granted)
	}

	ps[0].Done(signal.Signal{})
	p, err := r.PermitAt(t0)
	if err != nil {
		t.Fatalf("PermitAt after a Done: %v (the reservation stays good)", err)
	}
	if _, ok := l.AllowN(t0, 1); ok {
		t.Error("AllowN granted past the cap")
	}
	ps[1].Done(signal.Signal{Kind: signal.Failed})
	p.Done(signal.Signal{})
	q := allow(t, l, t0, 1)
	if s := l.SnapshotAt(t0); s.InFlight != 1 {
		t.Errorf("in flight %d, want 1", s.InFlight)
	}
	q.Done(signal.Signal{})

	if s := newLimiter(t).Snapshot(); s.MaxInFlight != 0 {
		t.Errorf("uncapped limiter: MaxInFlight = %d, want 0", s.MaxInFlight)
	}
}

func TestBucketErrors(t *testing.T) {
	boom := errors.New("bucket down")
	rec := &recorder{}
	spy := newSpyBucket()
	l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)), dynlimit.WithBucket(spy),
		dynlimit.WithMaxInFlight(1), dynlimit.WithObserver(rec))
	p := allow(t, l, t0, 1)
	spy.setFail(boom)

	p.Done(signal.Signal{}) // must release the slot even though the policy step fails
	if _, ok := l.AllowN(t0, 1); ok {
		t.Error("AllowN granted with the bucket down")
	}
	if _, err := l.ReserveN(t0, 1); !errors.Is(err, boom) {
		t.Errorf("ReserveN: err = %v, want the bucket's", err)
	}
	if _, err := l.WaitN(context.Background(), 1); !errors.Is(err, boom) {
		t.Errorf("WaitN: err = %v, want the bucket's", err)
	}
	if s := l.SnapshotAt(t0); !errors.Is(s.Err, boom) || s.Rate != 0 || s.Counters.Granted != 1 {
		t.Errorf("Snapshot: err %v, rate %v, granted %d; want the bucket's error, 0, 1", s.Err, s.Rate, s.Counters.Granted)
	}
	var errs int
	for _, e := range rec.take() {
		if e.Kind == dynlimit.EventError {
			errs++
			if !errors.Is(e.Err, boom) {
				t.Errorf("EventError carries %v", e.Err)
			}
		}
	}
	if errs != 4 {
		t.Errorf("%d EventError, want 4 (Done, AllowN, ReserveN, WaitN)", errs)
	}

	spy.setFail(nil)
	if _, ok := l.AllowN(t0, 1); !ok {
		t.Error("AllowN refused once the bucket is back: a failed call kept its in-flight slot")
	}
}

// halvingBurst is AIMD whose burst halves on each throttle, down to 1.
type halvingBurst struct{ policy.AIMD }

func (h halvingBurst) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	n := h.AIMD.Next(s, o, now)
	if o.Signal.Kind == signal.Throttled {
		n.Burst = max(1, s.Burst/2)
	}
	return n
}

func TestBurstFollowsThePolicy(t *testing.T) {
	a := classic()
	a.Burst = 8
	l := newLimiter(t, dynlimit.WithPolicy(halvingBurst{a}), dynlimit.WithClock(clock.NewFake(t0)))
	if got := l.Burst(); got != 8 {
		t.Fatalf("Burst before any step = %v, want the initial 8", got)
	}
	now := t0
	for _, want := range []float64{4, 2, 1, 1} {
		p := allow(t, l, now, 1)
		p.DoneAt(now, throttle(0))
		if got, snap := l.Burst(), l.SnapshotAt(now).Burst; got != want || snap != want {
			t.Fatalf("after a throttle: Burst() = %v, Snapshot's %v; want %v", got, snap, want)
		}
		now = now.Add(time.Minute) // past the cooldown, and a new epoch
	}
}

// A bucket that refuses n for its burst tells the limiter its capacity.
func TestBurstLearnsFromTheBucketsRefusal(t *testing.T) {
	a := classic()
	a.Burst = 20
	l := newLimiter(t, dynlimit.WithPolicy(a), dynlimit.WithClock(clock.NewFake(t0)),
		dynlimit.WithBucket(buckettest.Shrunk(bucket.NewLocal(), 5)))
	if got := l.Burst(); got != 20 {
		t.Fatalf("Burst() = %v, want the policy's 20", got)
	}
	if _, ok := l.AllowN(t0, 10); ok {
		t.Fatal("AllowN(10) granted past the bucket's burst of 5")
	}
	if got := l.Burst(); got != 5 {
		t.Errorf("Burst() after the bucket refused 10 = %v, want its 5", got)
	}
}
