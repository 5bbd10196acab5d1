package dynlimit_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// The property tests drive a limiter with random sequences of calls,
// outcomes and clock steps, and check the invariants of DESIGN.md after
// every step. A failure names its seed: rerun it alone with
// -run 'TestProperty.*/seed=N'.

const (
	propertySeeds = 150
	propertySteps = 250
)

// propT0 is far enough ahead of the wall clock that a context deadline on
// the fake clock's time has not passed already.
var propT0 = time.Date(2100, time.January, 1, 0, 0, 0, 0, time.UTC)

// randDur returns a random duration in [0, d).
func randDur(rng *rand.Rand, d time.Duration) time.Duration {
	return time.Duration(rng.Int64N(int64(d)))
}

func randomAIMD(rng *rand.Rand) policy.AIMD {
	a := policy.AIMD{
		MinRate:        0.05 + 2*rng.Float64(),
		Burst:          1 + 9*rng.Float64(),
		DecreaseFactor: 0.05 + 0.9*rng.Float64(),
	}
	a.MaxRate = a.MinRate * (1 + 50*rng.Float64())
	a.Rate = a.MinRate + rng.Float64()*(a.MaxRate-a.MinRate)
	if rng.IntN(4) > 0 {
		a.IncreaseFactor = rng.Float64()
	}
	if rng.IntN(4) > 0 {
		a.CooldownMultiplier = 3 * rng.Float64()
	}
	return a
}

func randomSignal(rng *rand.Rand) signal.Signal {
	var s signal.Signal
	if rng.IntN(2) == 0 {
		return s // the common case, and the one that is batched
	}
	s.Kind = signal.Kind(rng.IntN(signal.NumKinds))
	switch rng.IntN(10) {
	case 0, 1, 2:
		s.RetryAfter = randDur(rng, 5*time.Second)
	case 3:
		s.RetryAfter = randDur(rng, time.Hour)
	case 4:
		s.RetryAfter = -randDur(rng, time.Second)
	case 5:
		if rng.IntN(20) == 0 {
			s.RetryAfter = math.MaxInt64
		}
	}
	if rng.IntN(2) == 0 {
		s.Status = []int{200, 204, 400, 404, 429, 500, 503}[rng.IntN(7)]
	}
	if rng.IntN(5) == 0 {
		s.Quota = signal.Quota{Limit: 100, Remaining: float64(rng.IntN(100)), HasRemaining: true, Reset: randDur(rng, time.Minute)}
	}
	return s
}

func randomStep(rng *rand.Rand) time.Duration {
	switch rng.IntN(10) {
	case 0:
		return 0
	case 1, 2:
		return randDur(rng, 2*time.Millisecond)
	case 3, 4, 5:
		return randDur(rng, 500*time.Millisecond)
	case 6, 7:
		return randDur(rng, 5*time.Second)
	case 8:
		return randDur(rng, 10*time.Minute)
	default:
		return -randDur(rng, time.Second) // the clock is stepped back
	}
}

// run is one random sequence on one limiter, with the model it is checked
// against.
type run struct {
	t    *testing.T
	rng  *rand.Rand
	a    policy.AIMD
	l    *dynlimit.Limiter
	fake *clock.Fake
	rec  *recorder // nil without an observer
	now  time.Time

	maxInFlight int
	maxWait     time.Duration

	permits      []dynlimit.Permit
	reservations []held
	granted      uint64
	rejected     uint64
	done         [signal.NumKinds]uint64

	// since the last check
	fresh      []dynlimit.Permit
	forfeited  []uint64 // epochs of the reservations found forfeited
	doneInStep [signal.NumKinds]uint64

	prev       dynlimit.Snapshot
	cooldownOf map[uint64]time.Time // CooldownUntil of every epoch a snapshot saw
}

// held is a reservation and the number of tokens it holds.
type held struct {
	r dynlimit.Reservation
	n int
}

func newRun(t *testing.T, seed uint64, observe bool) *run {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	r := &run{
		t:          t,
		rng:        rng,
		a:          randomAIMD(rng),
		fake:       clock.NewFake(propT0),
		now:        propT0,
		cooldownOf: map[uint64]time.Time{},
	}
	opts := []dynlimit.Option{dynlimit.WithPolicy(r.a), dynlimit.WithClock(r.fake)}
	if rng.IntN(3) == 0 {
		r.maxInFlight = 1 + rng.IntN(6)
		opts = append(opts, dynlimit.WithMaxInFlight(r.maxInFlight))
	}
	if rng.IntN(3) == 0 {
		r.maxWait = randDur(rng, 3*time.Second)
		opts = append(opts, dynlimit.WithMaxWait(r.maxWait))
	}
	if observe {
		r.rec = &recorder{}
		opts = append(opts, dynlimit.WithObserver(r.rec))
	}
	r.l = newLimiter(t, opts...)
	r.prev = r.l.SnapshotAt(r.now)
	r.cooldownOf[r.prev.Epoch] = r.prev.CooldownUntil
	return r
}

// n returns a token count, now and then an invalid one.
func (r *run) n() int { return r.rng.IntN(int(r.a.Burst)+3) - 1 }

func (r *run) full() bool { return r.maxInFlight > 0 && len(r.permits) >= r.maxInFlight }

func (r *run) grantedPermit(p dynlimit.Permit, n int) {
	r.t.Helper()
	if p.Tokens() != float64(n) || !p.Issued().Equal(r.now) {
		r.t.Fatalf("permit of %v tokens issued at %v, want %d at %v", p.Tokens(), p.Issued(), n, r.now)
	}
	r.granted++
	r.permits = append(r.permits, p)
	r.fresh = append(r.fresh, p)
}

// badTake checks the error of a take of an invalid n.
func (r *run) badTake(op string, n int, err error) {
	r.t.Helper()
	var ae *dynlimit.ArgError
	var be *bucket.BurstError
	switch {
	case n <= 0 && (!errors.As(err, &ae) || ae.Name != "n"):
		r.t.Fatalf("%s(n=%d): err = %v, want an ArgError naming n", op, n, err)
	case n > 0 && !errors.As(err, &be):
		r.t.Fatalf("%s(n=%d) with burst %v: err = %v, want a BurstError", op, n, r.a.Burst, err)
	}
}

func (r *run) waitError(op string, err error) {
	r.t.Helper()
	var we *dynlimit.WaitError
	if !errors.As(err, &we) {
		r.t.Fatalf("%s: err = %v", op, err)
	}
	if !we.RetryAt.After(we.Bound) {
		r.t.Fatalf("%s refused, yet RetryAt %v is not after the bound %v", op, we.RetryAt, we.Bound)
	}
	r.rejected++
}

func (r *run) step() {
	switch op := r.rng.IntN(13); {
	case op < 2:
		r.now = r.now.Add(randomStep(r.rng))
		r.fake.Set(r.now)

	case op < 5:
		n := r.n()
		full := r.full()
		p, ok := r.l.AllowN(r.now, n)
		if ok {
			if n <= 0 || float64(n) > r.a.Burst || full {
				r.t.Fatalf("AllowN(n=%d) granted with burst %v, in flight %d of %d", n, r.a.Burst, len(r.permits), r.maxInFlight)
			}
			r.grantedPermit(p, n)
		}

	case op < 6:
		n := r.n()
		res, err := r.l.ReserveN(r.now, n)
		switch {
		case n <= 0 || float64(n) > r.a.Burst:
			r.badTake("ReserveN", n, err)
		case err != nil:
			r.waitError("ReserveN", err)
		default:
			if d := res.DelayFrom(r.now); d != max(res.At().Sub(r.now), 0) || (r.maxWait > 0 && d > r.maxWait) {
				r.t.Fatalf("reservation due in %v (At - now = %v), max wait %v", d, res.At().Sub(r.now), r.maxWait)
			}
			if cd, ok := r.cooldownOf[res.Epoch()]; ok && res.At().Before(cd) {
				r.t.Fatalf("reservation due at %v, before the end %v of its epoch's cooldown", res.At(), cd)
			}
			r.reservations = append(r.reservations, held{res, n})
		}

	case op < 7:
		if len(r.reservations) == 0 {
			return
		}
		i := r.rng.IntN(len(r.reservations))
		res, n := r.reservations[i].r, r.reservations[i].n
		full := r.full()
		p, err := res.PermitAt(r.now)
		switch {
		case r.now.Before(res.DueAt(r.now)):
			if !errors.Is(err, dynlimit.ErrEarly) {
				r.t.Fatalf("PermitAt %v before it is due: err = %v, want ErrEarly", res.DueAt(r.now).Sub(r.now), err)
			}
		case errors.Is(err, dynlimit.ErrEarly):
			r.t.Fatalf("PermitAt once due (at %v, At %v): ErrEarly", res.DueAt(r.now), res.At())
		case errors.Is(err, dynlimit.ErrForfeited):
			r.forfeited = append(r.forfeited, res.Epoch())
			r.reservations = append(r.reservations[:i], r.reservations[i+1:]...)
		case errors.Is(err, dynlimit.ErrInFlight):
			if !full {
				r.t.Fatalf("ErrInFlight with %d in flight of %d", len(r.permits), r.maxInFlight)
			}
		case err != nil:
			r.t.Fatalf("PermitAt: %v", err)
		default:
			if full {
				r.t.Fatalf("PermitAt granted past the cap of %d", r.maxInFlight)
			}
			r.grantedPermit(p, n)
			r.reservations = append(r.reservations[:i], r.reservations[i+1:]...)
		}

	case op < 8:
		if len(r.reservations) == 0 {
			return
		}
		i := r.rng.IntN(len(r.reservations))
		r.reservations[i].r.CancelAt(r.now)
		r.reservations = append(r.reservations[:i], r.reservations[i+1:]...)

	case op < 11:
		if len(r.permits) == 0 {
			return
		}
		i := r.rng.IntN(len(r.permits))
		p := r.permits[i]
		r.permits = append(r.permits[:i], r.permits[i+1:]...)
		sig := randomSignal(r.rng)
		if r.rng.IntN(2) == 0 {
			p.DoneAt(r.now, sig)
		} else {
			p.Done(sig)
		}
		r.done[sig.Kind]++
		r.doneInStep[sig.Kind]++

	default:
		// A deadline of now makes WaitN answer without sleeping: a
		// permit if one is due now, otherwise a WaitError.
		if r.full() {
			return // it would wait for a slot nobody frees
		}
		n := r.n()
		ctx, cancel := context.WithDeadline(context.Background(), r.now)
		p, err := r.l.WaitN(ctx, n)
		cancel()
		switch {
		case n <= 0 || float64(n) > r.a.Burst:
			r.badTake("WaitN", n, err)
		case err != nil:
			r.waitError("WaitN", err)
		default:
			r.grantedPermit(p, n)
		}
	}
}

// check takes a snapshot and checks the invariants against the model and
// the previous snapshot.
func (r *run) check() {
	r.t.Helper()
	s := r.l.SnapshotAt(r.now)
	p := r.prev
	c := s.Counters
	fail := func(format string, args ...any) {
		r.t.Helper()
		r.t.Fatalf("at %v (%+v): "+format, append([]any{r.now.Sub(propT0), r.a}, args...)...)
	}
	if s.Err != nil {
		fail("Snapshot: %v", s.Err)
	}

	// 1. Rate and tokens within their bounds.
	if s.Rate < r.a.MinRate || s.Rate > r.a.MaxRate || math.IsNaN(s.Rate) {
		fail("rate %v outside [%v, %v]", s.Rate, r.a.MinRate, r.a.MaxRate)
	}
	if s.Burst != r.a.Burst || s.Tokens < 0 || s.Tokens > s.Burst || s.Reserved < 0 || (s.Tokens > 0 && s.Reserved > 0) {
		fail("burst %v, tokens %v, reserved %v", s.Burst, s.Tokens, s.Reserved)
	}

	// Counters add up, batched successes included.
	if c.Granted != r.granted || c.Rejected != r.rejected || s.InFlight != int64(len(r.permits)) {
		fail("granted %d, rejected %d, in flight %d; model %d, %d, %d", c.Granted, c.Rejected, s.InFlight, r.granted, r.rejected, len(r.permits))
	}
	if got := [...]uint64{c.Succeeded, c.Throttled, c.Overloaded, c.Failed, c.Canceled}; got != r.done {
		fail("outcomes %v, model %v", got, r.done)
	}

	// 2. No decrease without a throttle, at most one per throttle and
	// per new epoch.
	if s.Epoch < p.Epoch {
		fail("epoch went back from %d to %d", p.Epoch, s.Epoch)
	}
	throttles := r.doneInStep[signal.Throttled]
	if d := c.Decreases - p.Counters.Decreases; d > throttles || d > s.Epoch-p.Epoch {
		fail("%d decreases for %d throttles and %d new epochs", d, throttles, s.Epoch-p.Epoch)
	}
	if throttles == 0 && s.Rate < p.Rate {
		fail("rate fell from %v to %v without a throttle", p.Rate, s.Rate)
	}

	// 3. No increase without a success.
	successes := r.doneInStep[signal.Success]
	if d := c.Increases - p.Counters.Increases; d > successes {
		fail("%d increases for %d successes", d, successes)
	}
	if successes == 0 && s.Rate > p.Rate {
		fail("rate rose from %v to %v without a success", p.Rate, s.Rate)
	}

	// 4. A cooldown belongs to one epoch, and no permit of that epoch
	// went out before it ended.
	if cd, ok := r.cooldownOf[s.Epoch]; ok && !cd.Equal(s.CooldownUntil) {
		fail("cooldown of epoch %d moved from %v to %v", s.Epoch, cd, s.CooldownUntil)
	}
	r.cooldownOf[s.Epoch] = s.CooldownUntil
	for _, q := range r.fresh {
		if cd, ok := r.cooldownOf[q.Epoch()]; ok && q.Issued().Before(cd) {
			fail("permit of epoch %d issued at %v, before its cooldown ended at %v", q.Epoch(), q.Issued(), cd)
		}
	}

	for _, e := range r.forfeited {
		if e >= s.Epoch {
			fail("a reservation of epoch %d forfeited in epoch %d", e, s.Epoch)
		}
	}

	if r.rec != nil {
		r.checkEvents()
	}

	r.prev = s
	r.fresh = r.fresh[:0]
	r.forfeited = r.forfeited[:0]
	r.doneInStep = [signal.NumKinds]uint64{}
}

// checkEvents checks that every rate change an observer saw has the cause
// the policy allows: a decrease, a fresh throttle; an increase, a fresh
// success after the cooldown; a new epoch, a throttle or a Retry-After.
func (r *run) checkEvents() {
	r.t.Helper()
	events := r.rec.take()
	var outcomes uint64
	for i, e := range events {
		switch e.Kind {
		case dynlimit.EventOutcome:
			outcomes++
		case dynlimit.EventRejected:
			if !errors.Is(e.Err, dynlimit.ErrWaitTooLong) {
				r.t.Fatalf("EventRejected carries %v", e.Err)
			}
		case dynlimit.EventRateChange:
			if i+1 == len(events) || events[i+1].Kind != dynlimit.EventOutcome {
				r.t.Fatalf("rate change %+v not followed by the outcome that caused it", e)
			}
			o := events[i+1]
			fresh := o.Epoch == e.Prev.Epoch
			switch {
			case e.State.Rate < e.Prev.Rate && (o.Signal.Kind != signal.Throttled || !fresh):
				r.t.Fatalf("rate %v → %v on a %v of epoch %d in epoch %d", e.Prev.Rate, e.State.Rate, o.Signal.Kind, o.Epoch, e.Prev.Epoch)
			case e.State.Rate > e.Prev.Rate && (o.Signal.Kind != signal.Success || !fresh || o.Time.Before(e.Prev.CooldownUntil)):
				r.t.Fatalf("rate %v → %v on a %v of epoch %d in epoch %d at %v, cooldown until %v",
					e.Prev.Rate, e.State.Rate, o.Signal.Kind, o.Epoch, e.Prev.Epoch, o.Time, e.Prev.CooldownUntil)
			case e.State.Epoch != e.Prev.Epoch && o.Signal.Kind != signal.Throttled && o.Signal.RetryAfter <= 0 &&
				!(o.Signal.Quota.Exhausted() && o.Signal.Quota.Reset > 0): // an exhausted quota pauses until its reset
				r.t.Fatalf("epoch %d → %d on a %v without Retry-After", e.Prev.Epoch, e.State.Epoch, o.Signal.Kind)
			}
			if e.State != o.State {
				r.t.Fatalf("rate change to %+v, outcome reports %+v", e.State, o.State)
			}
		}
	}
	var dones uint64
	for _, k := range r.doneInStep {
		dones += k
	}
	if outcomes != dones {
		r.t.Fatalf("%d EventOutcome for %d Done", outcomes, dones)
	}
}

func TestPropertyInvariants(t *testing.T) {
	for seed := range uint64(propertySeeds) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			r := newRun(t, seed, false)
			for range propertySteps {
				// Several calls between two checks, so that batched
				// successes meet takes and other outcomes, not only
				// snapshots.
				for range 1 + r.rng.IntN(4) {
					r.step()
				}
				r.check()
			}
		})
	}
}

// With an observer nothing is batched and every policy step is visible.
func TestPropertyEveryRateChangeHasItsCause(t *testing.T) {
	for seed := range uint64(propertySeeds) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			r := newRun(t, seed, true)
			for range propertySteps {
				for range 1 + r.rng.IntN(4) {
					r.step()
				}
				r.check()
			}
		})
	}
}
