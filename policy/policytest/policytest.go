package policytest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

const (
	// seeds × steps random outcomes per rule: enough to reach the floor and
	// the ceiling of a typical policy and to stack cooldowns, yet the whole
	// suite stays in the milliseconds.
	seeds = 16
	steps = 400

	// maxBatch bounds the Count a rule replays one by one.
	maxBatch = 8

	// relTol absorbs the rounding of k additions against one
	// multiplication by k.
	relTol = 1e-9
)

// origin is the walks' first instant. A fixed date, not time.Now: a failure
// must replay identically.
var origin = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// Run checks that p follows the contract of [policy.Policy]; see the package
// documentation for the rules. p must be a configuration p.Validate accepts.
func Run(t *testing.T, p policy.Policy) {
	t.Helper()
	if !t.Run("Validate", func(t *testing.T) {
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate() = %v, want nil: Run needs a valid policy", err)
		}
	}) {
		// Every other rule would fail for the same reason.
		return
	}
	t.Run("Initial", func(t *testing.T) { testInitial(t, p) })
	t.Run("Deterministic", func(t *testing.T) { testDeterministic(t, p) })
	t.Run("NextNeedsNoSanitize", func(t *testing.T) { testNextNeedsNoSanitize(t, p) })
	t.Run("SanitizedStateStaysValid", func(t *testing.T) { testSanitizedStateStaysValid(t, p) })
	t.Run("FailedAndCanceledKeepRateAndCooldown", func(t *testing.T) { testNeutralKinds(t, p) })
	t.Run("NoEvidenceNoIncrease", func(t *testing.T) { testNoEvidenceNoIncrease(t, p) })
	t.Run("CountMeansRepeats", func(t *testing.T) { testCountMeansRepeats(t, p) })
	t.Run("StaleThrottleKeepsRate", func(t *testing.T) { testStaleThrottleKeepsRate(t, p) })
}

func testInitial(t *testing.T, p policy.Policy) {
	s := p.Initial()
	if problem := invalid(s); problem != "" {
		t.Errorf("Initial() = %s: %s", fmtState(s), problem)
	}
	if s.Epoch != 0 {
		t.Errorf("Initial().Epoch = %d, want 0: permits start in epoch 0", s.Epoch)
	}
	if again := p.Initial(); !same(s, again) {
		t.Errorf("Initial() = %s, then %s: want the same state", fmtState(s), fmtState(again))
	}
}

func testDeterministic(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		// A shared bucket that loses a race calls Next again with the same
		// inputs and must get the same answer.
		if again := p.Next(st.prev, st.o, st.now); !same(st.next, again) {
			w.t.Fatalf("%s: Next = %s, then %s for the same inputs", w.where(st), fmtState(st.next), fmtState(again))
		}
	})
}

func testNextNeedsNoSanitize(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		if problem := invalid(st.next); problem != "" {
			w.t.Fatalf("%s: Next = %s: %s", w.where(st), fmtState(st.next), problem)
		}
		if st.next.Epoch < st.prev.Epoch {
			w.t.Fatalf("%s: Next = %s: epoch went back from %d", w.where(st), fmtState(st.next), st.prev.Epoch)
		}
		// Permits are stamped with the epoch; without a bump, the echoes
		// of this event would look fresh and decrease again.
		if st.next.Epoch == st.prev.Epoch {
			if st.next.Rate < st.prev.Rate {
				w.t.Fatalf("%s: Next = %s: lowered the rate without bumping the epoch", w.where(st), fmtState(st.next))
			}
			if st.next.CooldownUntil.After(st.prev.CooldownUntil) {
				w.t.Fatalf("%s: Next = %s: moved the cooldown later without bumping the epoch", w.where(st), fmtState(st.next))
			}
		}
	})
}

func testSanitizedStateStaysValid(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		got := policy.Sanitize(st.prev, st.next)
		if problem := invalid(got); problem != "" {
			w.t.Fatalf("%s: Sanitize(prev, Next) = %s: %s", w.where(st), fmtState(got), problem)
		}
		if got.Epoch < st.prev.Epoch {
			w.t.Fatalf("%s: Sanitize(prev, Next) = %s: epoch went back from %d", w.where(st), fmtState(got), st.prev.Epoch)
		}
	})
}

func testNeutralKinds(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		for _, k := range []signal.Kind{signal.Failed, signal.Canceled} {
			// A 400 or a caller giving up says nothing about capacity,
			// even with a Retry-After on it.
			o := w.outcome(st.prev)
			o.Signal.Kind = k
			got := p.Next(st.prev, o, st.now)
			if got.Rate < st.prev.Rate {
				w.t.Fatalf("%s: Next(prev, %s) = %s: %v lowered the rate", w.where(st), fmtOutcome(o), fmtState(got), k)
			}
			if !got.CooldownUntil.Equal(st.prev.CooldownUntil) {
				w.t.Fatalf("%s: Next(prev, %s) = %s: %v moved the cooldown", w.where(st), fmtOutcome(o), fmtState(got), k)
			}
		}
	})
}

func testNoEvidenceNoIncrease(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		if st.i%20 != 0 {
			return
		}
		// From a state the policy can reach, time passes and only bad or
		// neutral news comes: an idle or failing limiter must not grow.
		start, s, now := st.prev, st.prev, st.now
		for j := range 40 {
			o := w.outcome(s)
			o.Signal.Kind = signal.Kind(1 + w.r.IntN(signal.NumKinds-1))
			now = w.advance(s, now)
			next := policy.Sanitize(s, p.Next(s, o, now))
			if next.Rate > start.Rate {
				w.t.Fatalf("%s, then %d non-successes, the last Next(%s, %s, %s) = %s: rate rose above %g",
					w.where(st), j+1, fmtState(s), fmtOutcome(o), fmtTime(now), fmtState(next), start.Rate)
			}
			s = next
		}
	})
}

func testCountMeansRepeats(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		o := w.outcome(st.prev)
		if w.r.IntN(2) == 0 {
			// Successes are what the limiter batches: test them most.
			o.Signal.Kind = signal.Success
		}
		k := uint64(2 + w.r.IntN(maxBatch-1))

		one := o
		one.Count = 1
		zero := o
		zero.Count = 0
		if a, b := p.Next(st.prev, one, st.now), p.Next(st.prev, zero, st.now); !same(a, b) {
			w.t.Fatalf("%s: Count 1 gives %s, Count 0 gives %s: 0 means 1", w.where(st), fmtState(a), fmtState(b))
		}

		batch := o
		batch.Count = k
		got := p.Next(st.prev, batch, st.now)
		want := st.prev
		for range k {
			want = p.Next(want, one, st.now)
		}
		if !approx(got.Rate, want.Rate) || !approx(got.Burst, want.Burst) ||
			!got.CooldownUntil.Equal(want.CooldownUntil) || got.Epoch != want.Epoch {
			w.t.Fatalf("%s: Next(prev, %s) = %s, but %d outcomes of Count 1 give %s",
				w.where(st), fmtOutcome(batch), fmtState(got), k, fmtState(want))
		}
	})
}

func testStaleThrottleKeepsRate(t *testing.T, p policy.Policy) {
	walk(t, p, func(w *walker, st step) {
		if st.prev.Epoch == 0 {
			return
		}
		// Permits issued before the last decrease: their 429s are echoes
		// of the event the policy already reacted to.
		o := w.outcome(st.prev)
		o.Signal.Kind = signal.Throttled
		o.Signal.Status = 429
		o.Epoch = w.r.Uint64N(st.prev.Epoch)
		if got := p.Next(st.prev, o, st.now); got.Rate < st.prev.Rate {
			w.t.Fatalf("%s: Next(prev, %s) = %s: a stale throttle lowered the rate", w.where(st), fmtOutcome(o), fmtState(got))
		}
	})
}

// step is one transition of a walk: Next(prev, o, now) = next, next being
// what the policy returned, before any Sanitize.
type step struct {
	i    int
	prev policy.State
	o    policy.Outcome
	now  time.Time
	next policy.State
}

// walker drives a policy through random outcomes from one seed.
type walker struct {
	t    *testing.T
	r    *rand.Rand
	seed uint64
}

// walk runs visit on every step of seeds random walks from p.Initial(). The
// walk goes on from Sanitize(prev, next), as a bucket would, so that a
// policy that breaks one rule still gets the others checked on sane states.
func walk(t *testing.T, p policy.Policy, visit func(*walker, step)) {
	t.Helper()
	for seed := range uint64(seeds) {
		w := &walker{t: t, r: rand.New(rand.NewPCG(seed, 0x5eed)), seed: seed}
		s, now := p.Initial(), origin
		for i := range steps {
			o := w.outcome(s)
			now = w.advance(s, now)
			next := p.Next(s, o, now)
			visit(w, step{i: i, prev: s, o: o, now: now, next: next})
			s = policy.Sanitize(s, next)
		}
	}
}

func (w *walker) where(st step) string {
	return fmt.Sprintf("seed %d, step %d, Next(%s, %s, %s)", w.seed, st.i, fmtState(st.prev), fmtOutcome(st.o), fmtTime(st.now))
}

// advance returns the instant of the next outcome: often the same instant
// (a batch of responses), often a little later, sometimes much later, and
// sometimes exactly when the cooldown ends, the boundary most likely to be
// off by one.
func (w *walker) advance(s policy.State, now time.Time) time.Time {
	switch n := w.r.IntN(100); {
	case n < 25:
		return now
	case n < 85:
		return now.Add(time.Duration(w.r.Int64N(int64(2 * time.Second))))
	case n < 95:
		return now.Add(time.Duration(w.r.Int64N(int64(5 * time.Minute))))
	default:
		if s.CooldownUntil.After(now) {
			return s.CooldownUntil
		}
		return now.Add(time.Millisecond)
	}
}

// outcome returns a random outcome for a permit reported in state s. Success
// weighs most, as in real traffic, so that rates climb to their ceilings and
// throttles find something to decrease.
func (w *walker) outcome(s policy.State) policy.Outcome {
	r := w.r
	var o policy.Outcome
	if r.IntN(2) == 0 {
		o.Signal.Kind = signal.Success
	} else {
		o.Signal.Kind = signal.Kind(r.IntN(signal.NumKinds))
	}
	o.Signal.Status = [signal.NumKinds]int{200, 429, 503, 400, 0}[o.Signal.Kind]

	switch n := r.IntN(100); {
	case n < 40:
		// The upstream did not say.
	case n < 75:
		o.Signal.RetryAfter = time.Duration(1+r.IntN(5000)) * time.Millisecond
	case n < 97:
		o.Signal.RetryAfter = time.Duration(1 + r.Int64N(int64(time.Hour)))
	case n < 99:
		o.Signal.RetryAfter = time.Duration(r.IntN(1000)) * 24 * time.Hour
	default:
		// Kept as sent: capping it is not the policy's job, surviving it is.
		o.Signal.RetryAfter = math.MaxInt64
	}

	if r.IntN(5) == 0 {
		o.Signal.Quota = signal.Quota{
			Limit:        float64(r.IntN(1000)),
			Remaining:    float64(r.IntN(1000)),
			HasRemaining: r.IntN(2) == 0,
			Reset:        time.Duration(r.Int64N(int64(time.Minute))),
			Cost:         float64(r.IntN(3)),
		}
	}

	// Permits of the current epoch, or of any older one still in flight.
	if s.Epoch > 0 && r.IntN(2) == 0 {
		o.Epoch = r.Uint64N(s.Epoch)
	} else {
		o.Epoch = s.Epoch
	}

	switch n := r.IntN(100); {
	case n < 40:
		o.Count = 0
	case n < 80:
		o.Count = 1
	case n < 97:
		o.Count = uint64(2 + r.IntN(50))
	default:
		o.Count = uint64(1 + r.IntN(10000))
	}

	if r.IntN(4) == 0 {
		o.Tokens = 0.5 + 4*r.Float64()
	} else {
		o.Tokens = 1
	}
	return o
}

// invalid says what is wrong with s as a state a bucket may hold, or "".
func invalid(s policy.State) string {
	switch {
	case math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) || s.Rate <= 0:
		return "Rate must be a finite number > 0"
	case math.IsNaN(s.Burst) || math.IsInf(s.Burst, 0) || s.Burst < 1:
		return "Burst must be a finite number >= 1"
	}
	return ""
}

// same reports whether a and b are the same state; NaN equals NaN here, so
// that a policy returning NaN twice is reported for the NaN, not as
// nondeterministic.
func same(a, b policy.State) bool {
	eq := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return eq(a.Rate, b.Rate) && eq(a.Burst, b.Burst) && a.CooldownUntil.Equal(b.CooldownUntil) && a.Epoch == b.Epoch
}

// approx reports whether a and b agree within relTol of the larger.
func approx(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= relTol*math.Max(math.Abs(a), math.Abs(b))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero"
	}
	return "origin+" + t.Sub(origin).String()
}

func fmtState(s policy.State) string {
	return fmt.Sprintf("{Rate:%g Burst:%g CooldownUntil:%s Epoch:%d}", s.Rate, s.Burst, fmtTime(s.CooldownUntil), s.Epoch)
}

func fmtOutcome(o policy.Outcome) string {
	return fmt.Sprintf("{%v RetryAfter:%v Epoch:%d Count:%d Tokens:%g}", o.Signal.Kind, o.Signal.RetryAfter, o.Epoch, o.Count, o.Tokens)
}
