package dynlimit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// jump starts at 5 req/s, burst 5, goes to 20 req/s at a success, in the
// same epoch, and back to 5 at a throttle, which is a new epoch.
type jump struct{}

func (jump) Initial() policy.State { return policy.State{Rate: 5, Burst: 5} }
func (jump) Validate() error       { return nil }
func (jump) Next(s policy.State, o policy.Outcome, _ time.Time) policy.State {
	switch o.Signal.Kind {
	case signal.Success:
		s.Rate = 20
	case signal.Throttled:
		s.Rate = 5
	}
	return s
}

// A waiter queued behind ten reservations at 5 req/s is due at t1+2.2s.
// At t1+100ms a success quadruples the rate: half a token has accrued, the
// other 10.5 it waits for come at 20/s, 525 ms on, and the waiter is let
// go then, not at its old instant.
func TestWaitEndsSoonerWhenTheRateRises(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := dynlimit.New(dynlimit.WithPolicy(jump{}))
		if err != nil {
			t.Fatal(err)
		}
		t1 := clock.Real.Now()
		ps := drainNow(t, l)
		for range 10 {
			if _, err := l.ReserveN(t1, 1); err != nil {
				t.Fatal(err)
			}
		}
		c := goWait(context.Background(), l, 1)
		time.Sleep(100 * time.Millisecond)
		ps[0].DoneAt(clock.Real.Now(), signal.Signal{Kind: signal.Success})
		r := <-c
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got, want := clock.Real.Now().Sub(t1), 625*time.Millisecond; got != want {
			t.Errorf("granted at t1+%v, want t1+%v", got, want)
		}
	})
}

// A Reservation says the same: RateChanged closes at the rise, and
// DueAt, DelayFrom and PermitAt follow the new rate; At keeps the instant
// the reservation was made with.
func TestReservationFollowsTheRate(t *testing.T) {
	l, err := dynlimit.New(dynlimit.WithPolicy(jump{}), dynlimit.WithClock(clock.NewFake(t0)))
	if err != nil {
		t.Fatal(err)
	}
	ps := drain(t, l, t0, 5)
	var r dynlimit.Reservation
	for range 11 {
		if r, err = l.ReserveN(t0, 1); err != nil {
			t.Fatal(err)
		}
	}
	changed := l.RateChanged()
	t1 := t0.Add(100 * time.Millisecond)
	if got := r.DueAt(t1); !got.Equal(t0.Add(2200 * time.Millisecond)) {
		t.Errorf("DueAt before the rise = t0+%v, want t0+2.2s", got.Sub(t0))
	}
	select {
	case <-changed:
		t.Fatal("RateChanged closed before any change")
	default:
	}
	ps[0].DoneAt(t1, signal.Signal{Kind: signal.Success})
	select {
	case <-changed:
	default:
		t.Fatal("RateChanged still open after the rate went from 5 to 20")
	}
	due := t0.Add(625 * time.Millisecond)
	if got := r.DueAt(t1); !got.Equal(due) {
		t.Errorf("DueAt after the rise = t0+%v, want t0+625ms", got.Sub(t0))
	}
	if got := r.DelayFrom(t1); got != 525*time.Millisecond {
		t.Errorf("DelayFrom = %v, want 525ms", got)
	}
	if !r.At().Equal(t0.Add(2200 * time.Millisecond)) {
		t.Errorf("At = t0+%v, want the instant it was made with, t0+2.2s", r.At().Sub(t0))
	}
	if _, err := r.PermitAt(due.Add(-time.Millisecond)); !errors.Is(err, dynlimit.ErrEarly) {
		t.Errorf("PermitAt before it is due: err = %v, want ErrEarly", err)
	}
	if _, err := r.PermitAt(due); err != nil {
		t.Errorf("PermitAt once due: %v", err)
	}
	// A throttle forfeits what waits: the channel closes again.
	changed = l.RateChanged()
	ps[1].DoneAt(due, signal.Signal{Kind: signal.Throttled, Status: 429})
	select {
	case <-changed:
	default:
		t.Fatal("RateChanged still open after a congestion event")
	}
}
