package dynlimit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// The tests here block goroutines on timers. Each runs in a synctest
// bubble, where clock.Real reads the bubble's fake time: a wait of an hour
// takes no wall time, synctest.Wait tells when every goroutine is blocked,
// and a goroutine left blocked fails the test.

// drainNow empties a default limiter's bucket of 5 at the current instant.
func drainNow(t *testing.T, l *dynlimit.Limiter) []dynlimit.Permit {
	t.Helper()
	return drain(t, l, l.Clock().Now(), 5)
}

type waitResult struct {
	p   dynlimit.Permit
	err error
}

// goWait calls WaitN on a new goroutine and delivers its result.
func goWait(ctx context.Context, l *dynlimit.Limiter, n int) <-chan waitResult {
	c := make(chan waitResult, 1)
	go func() {
		p, err := l.WaitN(ctx, n)
		c <- waitResult{p, err}
	}()
	return c
}

// unchanged reports whether err is want itself: not a wrap of it, nor
// another error that matches it.
func unchanged(err, want error) bool {
	return errors.Is(err, want) && errors.Unwrap(err) == nil
}

// blocked reports whether c has no result once the bubble has settled.
func blocked(c <-chan waitResult) bool {
	synctest.Wait()
	select {
	case <-c:
		return false
	default:
		return true
	}
}

func TestWaitPastTheBoundFailsAtOnce(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, l *dynlimit.Limiter)
		maxWait time.Duration // 0: none
		timeout time.Duration // 0: no deadline
		n       int
		// relative to the call
		wantRetryAt  time.Duration
		wantBound    time.Duration
		wantDeadline bool
	}{
		{
			name:  "deadline before the next token",
			setup: func(t *testing.T, l *dynlimit.Limiter) { drainNow(t, l) },
			n:     1, timeout: 100 * time.Millisecond,
			wantRetryAt: 200 * time.Millisecond, wantBound: 100 * time.Millisecond, wantDeadline: true,
		},
		{
			name:  "deadline a nanosecond too early for three tokens",
			setup: func(t *testing.T, l *dynlimit.Limiter) { drainNow(t, l) },
			n:     3, timeout: 600*time.Millisecond - time.Nanosecond,
			wantRetryAt: 600 * time.Millisecond, wantBound: 600*time.Millisecond - time.Nanosecond, wantDeadline: true,
		},
		{
			name: "deadline within a cooldown",
			setup: func(t *testing.T, l *dynlimit.Limiter) {
				p, _ := l.Allow()
				p.Done(throttle(time.Second))
			},
			n: 1, timeout: 900 * time.Millisecond,
			wantRetryAt: time.Second + 400*time.Millisecond, wantBound: 900 * time.Millisecond, wantDeadline: true,
		},
		{
			name:  "max wait",
			setup: func(t *testing.T, l *dynlimit.Limiter) { drainNow(t, l) },
			n:     1, maxWait: 100 * time.Millisecond,
			wantRetryAt: 200 * time.Millisecond, wantBound: 100 * time.Millisecond,
		},
		{
			name:  "max wait before the deadline",
			setup: func(t *testing.T, l *dynlimit.Limiter) { drainNow(t, l) },
			n:     1, maxWait: 100 * time.Millisecond, timeout: 150 * time.Millisecond,
			wantRetryAt: 200 * time.Millisecond, wantBound: 100 * time.Millisecond,
		},
		{
			name:  "deadline before the max wait",
			setup: func(t *testing.T, l *dynlimit.Limiter) { drainNow(t, l) },
			n:     1, maxWait: 150 * time.Millisecond, timeout: 100 * time.Millisecond,
			wantRetryAt: 200 * time.Millisecond, wantBound: 100 * time.Millisecond, wantDeadline: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var opts []dynlimit.Option
				if tt.maxWait > 0 {
					opts = append(opts, dynlimit.WithMaxWait(tt.maxWait))
				}
				l := newLimiter(t, opts...)
				tt.setup(t, l)
				ctx := context.Background()
				if tt.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				before := l.Snapshot()
				t1 := clock.Real.Now()

				_, err := l.WaitN(ctx, tt.n)

				if waited := clock.Real.Now().Sub(t1); waited != 0 {
					t.Errorf("WaitN slept %v before failing", waited)
				}
				if !errors.Is(err, dynlimit.ErrWaitTooLong) {
					t.Errorf("errors.Is(%v, ErrWaitTooLong) = false", err)
				}
				var we *dynlimit.WaitError
				if !errors.As(err, &we) {
					t.Fatalf("WaitN: err = %v, want a *WaitError", err)
				}
				if !we.Now.Equal(t1) || we.RetryAt.Sub(t1) != tt.wantRetryAt || we.Bound.Sub(t1) != tt.wantBound || we.Deadline != tt.wantDeadline {
					t.Errorf("WaitError{Now: t1%+v, RetryAt: t1+%v, Bound: t1+%v, Deadline: %v}, want {t1, t1+%v, t1+%v, %v}",
						we.Now.Sub(t1), we.RetryAt.Sub(t1), we.Bound.Sub(t1), we.Deadline, tt.wantRetryAt, tt.wantBound, tt.wantDeadline)
				}

				after := l.Snapshot()
				before.Counters.Rejected++
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("a refused wait changed the limiter (-before +after):\n%s", diff)
				}

				// RetryAt is when the tokens are there: not a microsecond
				// earlier.
				time.Sleep(tt.wantRetryAt - time.Microsecond)
				if _, ok := l.AllowN(clock.Real.Now(), tt.n); ok {
					t.Errorf("AllowN granted before RetryAt")
				}
				time.Sleep(time.Microsecond)
				if _, ok := l.AllowN(clock.Real.Now(), tt.n); !ok {
					t.Errorf("AllowN refused at RetryAt")
				}
			})
		})
	}
}

func TestWaitWithinTheDeadlineSleepsUntilDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t)
		drainNow(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		t1 := clock.Real.Now()
		p, err := l.WaitN(ctx, 2)
		if err != nil {
			t.Fatalf("WaitN: %v", err)
		}
		if got := p.Issued().Sub(t1); got != 400*time.Millisecond {
			t.Errorf("granted at t1+%v, want t1+400ms", got)
		}
		if got := clock.Real.Now().Sub(t1); got != 400*time.Millisecond {
			t.Errorf("returned at t1+%v, want t1+400ms", got)
		}
		if p.Tokens() != 2 || p.Epoch() != 0 {
			t.Errorf("permit of %v tokens, epoch %d; want 2, 0", p.Tokens(), p.Epoch())
		}
	})
}

func TestWaitCanceledGivesTheTokensBack(t *testing.T) {
	tests := []struct {
		name string
		ctx  func() (context.Context, func())
	}{
		{"cancel", func() (context.Context, func()) {
			return context.WithCancel(context.Background())
		}},
		{"cancel with a cause", func() (context.Context, func()) {
			ctx, cancel := context.WithCancelCause(context.Background())
			return ctx, func() { cancel(errors.New("shutting down")) }
		}},
		{"cancel before a far deadline", func() (context.Context, func()) {
			return context.WithTimeout(context.Background(), time.Hour)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t)
				t1 := clock.Real.Now()
				drainNow(t, l)
				ctx, cancel := tt.ctx()
				defer cancel()
				c := goWait(ctx, l, 1)
				if !blocked(c) {
					t.Fatal("WaitN returned with the bucket empty")
				}
				if s := l.Snapshot(); s.Reserved != 1 {
					t.Fatalf("reserved %v while waiting, want 1", s.Reserved)
				}

				time.Sleep(50 * time.Millisecond)
				cancel()
				r := <-c

				if got := clock.Real.Now().Sub(t1); got != 50*time.Millisecond {
					t.Errorf("returned at t1+%v, want at once at t1+50ms", got)
				}
				if !unchanged(r.err, ctx.Err()) || !errors.Is(r.err, context.Canceled) {
					t.Errorf("err = %v, want ctx.Err() = %v unchanged", r.err, ctx.Err())
				}
				s := l.Snapshot()
				if s.Reserved != 0 || s.Counters.Granted != 5 || s.Counters.Rejected != 0 {
					t.Errorf("reserved %v, granted %d, rejected %d; want 0, 5, 0", s.Reserved, s.Counters.Granted, s.Counters.Rejected)
				}
				// The next caller is first in line again.
				next, err := l.Reserve()
				if err != nil {
					t.Fatal(err)
				}
				if got := next.At().Sub(t1); got != 200*time.Millisecond {
					t.Errorf("next reservation due at t1+%v, want t1+200ms", got)
				}
			})
		})
	}
}

func TestWaitWithAnEndedContextReturnsAtOnce(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() (context.Context, func())
		wantErr error
	}{
		{"canceled", func() (context.Context, func()) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
		{"deadline passed", func() (context.Context, func()) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		for _, capped := range []bool{false, true} {
			name := tt.name
			if capped {
				name += ", in-flight cap reached"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var opts []dynlimit.Option
					if capped {
						opts = append(opts, dynlimit.WithMaxInFlight(1))
					}
					l := newLimiter(t, opts...)
					if capped {
						allow(t, l, clock.Real.Now(), 1)
					}
					before := l.Snapshot()
					ctx, cancel := tt.ctx()
					defer cancel()
					t1 := clock.Real.Now()
					_, err := l.Wait(ctx)
					if got := clock.Real.Now().Sub(t1); got != 0 {
						t.Errorf("waited %v", got)
					}
					if !unchanged(err, ctx.Err()) || !errors.Is(err, tt.wantErr) {
						t.Errorf("err = %v, want ctx.Err() = %v", err, tt.wantErr)
					}
					if diff := cmp.Diff(before, l.Snapshot()); diff != "" {
						t.Errorf("Wait with an ended context changed the limiter (-before +after):\n%s", diff)
					}
				})
			})
		}
	}
}

// Waiters already asleep when a throttle comes must not go at their old
// time: they wake, find their reservation forfeited, and queue again behind
// the cooldown at the new rate.
func TestCooldownHoldsSleepingWaitersFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := clock.NewFake(t0)
		l := newLimiter(t, dynlimit.WithClock(fake))
		ps := drain(t, l, t0, 5)

		const waiters = 3
		results := make(chan waitResult, waiters)
		for range waiters {
			go func() {
				p, err := l.Wait(context.Background())
				results <- waitResult{p, err}
			}()
		}
		synctest.Wait()
		if got := fake.Pending(); got != waiters {
			t.Fatalf("%d timers pending, want one per waiter", got)
		}

		// t1: 429 with Retry-After: 2s, while they sleep.
		t1 := t0.Add(50 * time.Millisecond)
		fake.Set(t1)
		ps[0].Done(throttle(2 * time.Second))
		end := t1.Add(2 * time.Second)

		var granted []time.Time
		for len(granted) < waiters {
			if !fake.AdvanceToNext() {
				t.Fatalf("no timer pending with %d waiters not granted", waiters-len(granted))
			}
			synctest.Wait()
			for drained := false; !drained; {
				select {
				case r := <-results:
					if r.err != nil {
						t.Fatalf("Wait: %v", r.err)
					}
					if r.p.Epoch() != 1 {
						t.Errorf("granted in epoch %d, want 1: the waiter missed the congestion event", r.p.Epoch())
					}
					if now := fake.Now(); r.p.Issued().Before(end) || !r.p.Issued().Equal(now) {
						t.Errorf("granted at t1+%v (clock at t1+%v), cooldown ends at t1+2s", r.p.Issued().Sub(t1), now.Sub(t1))
					}
					granted = append(granted, r.p.Issued())
				default:
					drained = true
				}
			}
		}
		slices.SortFunc(granted, time.Time.Compare)
		want := []time.Time{end.Add(400 * time.Millisecond), end.Add(800 * time.Millisecond), end.Add(1200 * time.Millisecond)}
		if diff := cmp.Diff(want, granted); diff != "" {
			t.Errorf("grant times (-want +got):\n%s", diff)
		}
		if fake.Pending() != 0 {
			t.Errorf("%d timers left pending", fake.Pending())
		}
	})
}

func TestCooldownHoldsSleepingWaitersRealClock(t *testing.T) {
	tests := []struct {
		name     string
		sig      signal.Signal
		cooldown time.Duration
	}{
		{"Retry-After", throttle(2 * time.Second), 2 * time.Second},
		{"no Retry-After", throttle(0), policy.Seconds(1.5 / 2.5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t)
				ps := drainNow(t, l)
				const waiters = 4
				var cs []<-chan waitResult
				for range waiters {
					cs = append(cs, goWait(context.Background(), l, 1))
				}
				synctest.Wait()

				time.Sleep(10 * time.Millisecond)
				t1 := clock.Real.Now()
				ps[0].Done(tt.sig)
				end := t1.Add(tt.cooldown)
				if s := l.Snapshot(); !s.CooldownUntil.Equal(end) {
					t.Fatalf("cooldown until t1+%v, want t1+%v", s.CooldownUntil.Sub(t1), tt.cooldown)
				}

				var granted []time.Duration
				for _, c := range cs {
					r := <-c
					if r.err != nil {
						t.Fatalf("Wait: %v", r.err)
					}
					if r.p.Issued().Before(end) || r.p.Epoch() != 1 {
						t.Errorf("granted at t1+%v in epoch %d; cooldown ends at t1+%v, epoch 1", r.p.Issued().Sub(t1), r.p.Epoch(), tt.cooldown)
					}
					granted = append(granted, r.p.Issued().Sub(end))
				}
				slices.Sort(granted)
				want := []time.Duration{400 * time.Millisecond, 800 * time.Millisecond, 1200 * time.Millisecond, 1600 * time.Millisecond}
				if diff := cmp.Diff(want, granted); diff != "" {
					t.Errorf("grants after the cooldown's end (-want +got):\n%s", diff)
				}
			})
		})
	}
}

func TestWaitForAnInFlightSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithMaxInFlight(1))
		t1 := clock.Real.Now()
		p, err := l.Wait(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		c := goWait(context.Background(), l, 1)
		time.Sleep(time.Second)
		if !blocked(c) {
			t.Fatal("a second Wait returned with the cap of 1 reached")
		}
		if s := l.Snapshot(); s.InFlight != 1 || s.MaxInFlight != 1 {
			t.Errorf("in flight %d of %d, want 1 of 1", s.InFlight, s.MaxInFlight)
		}
		p.Done(signal.Signal{})
		r := <-c
		if r.err != nil {
			t.Fatalf("Wait after Done: %v", r.err)
		}
		if got := r.p.Issued().Sub(t1); got != time.Second {
			t.Errorf("granted at t1+%v, want t1+1s when the slot was freed", got)
		}
		r.p.Done(signal.Signal{})
		if s := l.Snapshot(); s.InFlight != 0 || s.Counters.Granted != 2 {
			t.Errorf("in flight %d, granted %d; want 0, 2", s.InFlight, s.Counters.Granted)
		}
	})
}

func TestWaitForAnInFlightSlotMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := newLimiter(t, dynlimit.WithMaxInFlight(1), dynlimit.WithMaxWait(250*time.Millisecond), dynlimit.WithObserver(rec))
		p := allow(t, l, clock.Real.Now(), 1)
		rec.take()
		t1 := clock.Real.Now()

		_, err := l.WaitN(context.Background(), 2)

		// Nobody knows when a slot frees, so this wait cannot fail at
		// once: it lasts the max wait, not a moment longer.
		if got := clock.Real.Now().Sub(t1); got != 250*time.Millisecond {
			t.Errorf("returned at t1+%v, want t1+250ms", got)
		}
		var we *dynlimit.WaitError
		if !errors.As(err, &we) || !errors.Is(err, dynlimit.ErrWaitTooLong) {
			t.Fatalf("err = %v, want a *WaitError", err)
		}
		want := &dynlimit.WaitError{Now: t1, Bound: t1.Add(250 * time.Millisecond)}
		if diff := cmp.Diff(want, we); diff != "" {
			t.Errorf("WaitError (-want +got):\n%s", diff)
		}
		if we.Delay() != 0 || !strings.Contains(we.Error(), "in-flight slot") {
			t.Errorf("Delay() = %v, Error() = %q; want 0 and a message about the slot", we.Delay(), we.Error())
		}
		if s := l.Snapshot(); s.Counters.Rejected != 1 || s.InFlight != 1 {
			t.Errorf("rejected %d, in flight %d; want 1, 1", s.Counters.Rejected, s.InFlight)
		}
		events := rec.take()
		if len(events) != 1 || events[0].Kind != dynlimit.EventRejected || events[0].Tokens != 2 || !unchanged(events[0].Err, err) {
			t.Errorf("events = %+v, want one EventRejected for 2 tokens carrying the error", events)
		}

		p.Done(signal.Signal{})
		if _, err := l.Wait(context.Background()); err != nil {
			t.Errorf("Wait once the slot is free: %v", err)
		}
	})
}

func TestWaitForAnInFlightSlotEndsAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, dynlimit.WithMaxInFlight(1))
		allow(t, l, clock.Real.Now(), 1)
		ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
		defer cancel()
		t1 := clock.Real.Now()
		_, err := l.Wait(ctx)
		if got := clock.Real.Now().Sub(t1); got != 250*time.Millisecond {
			t.Errorf("returned at t1+%v, want at the deadline t1+250ms", got)
		}
		if !unchanged(err, ctx.Err()) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ctx.Err()", err)
		}
		if s := l.Snapshot(); s.InFlight != 1 || s.Counters.Granted != 1 {
			t.Errorf("in flight %d, granted %d; want 1, 1", s.InFlight, s.Counters.Granted)
		}
	})
}

// The max wait bounds the whole call, like a deadline: time spent waiting
// for a slot, or for a reservation a congestion event then forfeited,
// counts against it.
func TestMaxWaitBoundsTheWholeWait(t *testing.T) {
	type scenario struct {
		name string
		opts []dynlimit.Option
		// run starts a Wait at t1 and returns its result.
		run func(t *testing.T, l *dynlimit.Limiter, ctx context.Context) waitResult
		// what the waiter is told, relative to t1
		wantAt, wantRetryAt time.Duration
	}
	scenarios := []scenario{
		{
			// Four tokens a second, the next four reserved: when the slot
			// frees at t1+500ms, the token is 750ms away.
			name: "slot, then tokens",
			opts: []dynlimit.Option{dynlimit.WithPolicy(policy.Fixed{Rate: 4, Burst: 1}), dynlimit.WithMaxInFlight(1)},
			run: func(t *testing.T, l *dynlimit.Limiter, ctx context.Context) waitResult {
				now := clock.Real.Now()
				p := allow(t, l, now, 1)
				for range 4 {
					if _, err := l.ReserveN(now, 1); err != nil {
						t.Fatal(err)
					}
				}
				c := goWait(ctx, l, 1)
				time.Sleep(500 * time.Millisecond)
				p.Done(signal.Signal{})
				return <-c
			},
			wantAt: 500 * time.Millisecond, wantRetryAt: 1250 * time.Millisecond,
		},
		{
			// Due at t1+200ms, forfeited at t1+100ms by a 429 that pauses
			// until t1+800ms; at 2.5/s the token comes at t1+1.2s. The
			// waiter hears of it at once, takes again and is refused.
			name: "forfeited reservation",
			run: func(t *testing.T, l *dynlimit.Limiter, ctx context.Context) waitResult {
				ps := drainNow(t, l)
				c := goWait(ctx, l, 1)
				time.Sleep(100 * time.Millisecond)
				ps[0].Done(throttle(700 * time.Millisecond))
				return <-c
			},
			wantAt: 100 * time.Millisecond, wantRetryAt: 1200 * time.Millisecond,
		},
	}
	for _, sc := range scenarios {
		for _, byDeadline := range []bool{false, true} {
			name := sc.name + ", max wait"
			if byDeadline {
				name = sc.name + ", deadline"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					opts := sc.opts
					ctx := context.Background()
					if byDeadline {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, time.Second)
						defer cancel()
					} else {
						opts = append(slices.Clip(opts), dynlimit.WithMaxWait(time.Second))
					}
					l := newLimiter(t, opts...)
					t1 := clock.Real.Now()
					r := sc.run(t, l, ctx)
					if r.err == nil {
						t.Fatalf("granted at t1+%v, past the bound t1+1s", r.p.Issued().Sub(t1))
					}
					if got := clock.Real.Now().Sub(t1); got != sc.wantAt {
						t.Errorf("returned at t1+%v, want t1+%v", got, sc.wantAt)
					}
					var we *dynlimit.WaitError
					if !errors.As(r.err, &we) {
						t.Fatalf("err = %v, want a *WaitError", r.err)
					}
					if we.RetryAt.Sub(t1) != sc.wantRetryAt || we.Bound.Sub(t1) != time.Second || we.Deadline != byDeadline {
						t.Errorf("RetryAt t1+%v, Bound t1+%v, Deadline %v; want t1+%v, t1+1s, %v",
							we.RetryAt.Sub(t1), we.Bound.Sub(t1), we.Deadline, sc.wantRetryAt, byDeadline)
					}
					if !we.Now.Equal(t1) {
						t.Errorf("Now = t1%+v, want t1, when the wait was asked for", we.Now.Sub(t1))
					}
				})
			})
		}
	}
}

// A refused wait held a slot while it asked the bucket: it must give it
// back, or a few refusals would lock a capped limiter for good.
func TestRefusedWaitFreesItsSlot(t *testing.T) {
	l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)), dynlimit.WithPolicy(policy.Fixed{Rate: 1, Burst: 1}),
		dynlimit.WithMaxInFlight(1), dynlimit.WithMaxWait(100*time.Millisecond))
	allow(t, l, t0, 1).DoneAt(t0, signal.Signal{})
	for range 3 {
		if _, err := l.Wait(context.Background()); !errors.Is(err, dynlimit.ErrWaitTooLong) {
			t.Fatalf("Wait with the next token 1s away: err = %v, want a WaitError", err)
		}
	}
	t1 := t0.Add(time.Second)
	if _, ok := l.AllowN(t1, 1); !ok {
		t.Error("AllowN refused once the token is there: a refused Wait kept its slot")
	}
}
