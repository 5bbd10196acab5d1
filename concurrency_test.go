package dynlimit_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// tally counts, from the callers' side, what the limiter should count.
type tally struct {
	granted, rejected atomic.Uint64
	done              [signal.NumKinds]atomic.Uint64
}

func (c *tally) check(t *testing.T, s dynlimit.Snapshot) {
	t.Helper()
	got := s.Counters
	if got.Granted != c.granted.Load() || got.Rejected != c.rejected.Load() {
		t.Errorf("granted %d, rejected %d; callers saw %d, %d", got.Granted, got.Rejected, c.granted.Load(), c.rejected.Load())
	}
	outcomes := [...]uint64{got.Succeeded, got.Throttled, got.Overloaded, got.Failed, got.Canceled}
	var sum uint64
	for k, n := range outcomes {
		sum += n
		if want := c.done[k].Load(); n != want {
			t.Errorf("%v: %d, callers reported %d", signal.Kind(k), n, want)
		}
	}
	if got.Granted != sum || s.InFlight != 0 {
		t.Errorf("granted %d, outcomes %d, in flight %d; want every permit done", got.Granted, sum, s.InFlight)
	}
	if s.Tokens < 0 || s.Tokens > s.Burst || s.Reserved < 0 {
		t.Errorf("tokens %v of %v, reserved %v", s.Tokens, s.Burst, s.Reserved)
	}
}

func concurrentSignal(rng *rand.Rand, retryAfter bool) signal.Signal {
	switch k := rng.IntN(10); {
	case k < 6:
		return signal.Signal{}
	case k < 7:
		s := throttle(0)
		if retryAfter && rng.IntN(2) == 0 {
			s.RetryAfter = randDur(rng, 300*time.Millisecond)
		}
		return s
	default:
		return signal.Signal{Kind: signal.Kind(k - 5)} // overloaded, failed, canceled
	}
}

// Sixty-four goroutines share one limiter through every way of getting a
// permit, with throttles, cooldowns and an in-flight cap in play. The
// bubble fails the test if any goroutine is left blocked, so this is also
// the deadlock and leak check.
func TestConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := classic()
		a.Rate, a.Burst, a.MinRate, a.MaxRate = 200, 20, 20, 1000
		l := newLimiter(t, dynlimit.WithPolicy(a), dynlimit.WithMaxInFlight(16), dynlimit.WithMaxWait(2*time.Second))
		var c tally
		var wg sync.WaitGroup
		for g := range 64 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 64))
				for range 40 {
					p, ok := getPermit(t, l, rng, &c)
					if !ok {
						time.Sleep(randDur(rng, 10*time.Millisecond))
						continue
					}
					c.granted.Add(1)
					time.Sleep(randDur(rng, 20*time.Millisecond)) // the call
					sig := concurrentSignal(rng, true)
					p.Done(sig)
					c.done[sig.Kind].Add(1)
				}
			})
		}
		wg.Wait()
		c.check(t, l.Snapshot())
	})
}

func getPermit(t *testing.T, l *dynlimit.Limiter, rng *rand.Rand, c *tally) (dynlimit.Permit, bool) {
	var we *dynlimit.WaitError
	switch rng.IntN(4) {
	case 0:
		return l.Allow()
	case 1:
		p, err := l.Wait(context.Background())
		if errors.As(err, &we) {
			c.rejected.Add(1)
		} else if err != nil {
			t.Errorf("Wait: %v", err)
		}
		return p, err == nil
	case 2:
		ctx, cancel := context.WithTimeout(context.Background(), randDur(rng, 100*time.Millisecond)+time.Millisecond)
		defer cancel()
		p, err := l.Wait(ctx)
		switch {
		case errors.As(err, &we):
			c.rejected.Add(1)
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			t.Errorf("Wait with a deadline: %v", err)
		}
		return p, err == nil
	default:
		r, err := l.Reserve()
		if errors.As(err, &we) {
			c.rejected.Add(1)
			return dynlimit.Permit{}, false
		} else if err != nil {
			t.Errorf("Reserve: %v", err)
			return dynlimit.Permit{}, false
		}
		time.Sleep(r.DelayFrom(clock.Real.Now()))
		p, err := r.PermitAt(clock.Real.Now())
		if err != nil && !errors.Is(err, dynlimit.ErrForfeited) && !errors.Is(err, dynlimit.ErrInFlight) {
			t.Errorf("PermitAt: %v", err)
		}
		return p, err == nil
	}
}

// The same on the machine's clock, without waits (they would sleep on the
// wall clock): Allow and the success batch of Done race above all.
func TestConcurrentAllowAndDoneRealClock(t *testing.T) {
	a := classic()
	a.Rate, a.Burst, a.MinRate, a.MaxRate, a.CooldownMultiplier = 1e9, 1e6, 1e8, 1e10, 0
	l := newLimiter(t, dynlimit.WithPolicy(a))
	baseline := runtime.NumGoroutine()
	var c tally
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 65))
			for range 500 {
				if rng.IntN(50) == 0 {
					l.Snapshot()
				}
				var p dynlimit.Permit
				ok := false
				if rng.IntN(4) == 0 {
					if r, err := l.Reserve(); err == nil {
						if p, err = r.PermitAt(clock.Real.Now()); err == nil {
							ok = true
						} else {
							r.CancelAt(clock.Real.Now())
						}
					}
				} else {
					p, ok = l.Allow()
				}
				if !ok {
					continue
				}
				c.granted.Add(1)
				sig := concurrentSignal(rng, false)
				p.Done(sig)
				c.done[sig.Kind].Add(1)
			}
		})
	}
	wg.Wait()
	c.check(t, l.Snapshot())

	// The limiter starts no goroutine of its own: once the callers are
	// gone, so is everything.
	for i := 0; runtime.NumGoroutine() > baseline; i++ {
		if i == 100000 {
			t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), baseline)
		}
		runtime.Gosched()
	}
}
