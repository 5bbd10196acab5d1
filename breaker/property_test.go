package breaker_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// The property test drives a breaker with random sequences of calls,
// outcomes (some of them late, doubled or of an unknown kind) and clock
// steps, and checks after every step that the breaker took only the
// transition the step justified and that its invariants hold. A failure
// names its seed: rerun it alone with -run 'TestProperty/seed=N'.

const (
	propertySeeds = 300
	propertySteps = 400
)

func randomConfig(rng *rand.Rand) breaker.Config {
	c := breaker.Config{
		FailureThreshold: 1 + rng.IntN(5),
		OpenInterval:     time.Duration(1 + rng.Int64N(int64(time.Minute))),
		HalfOpenProbes:   1 + rng.IntN(4),
		Multiplier:       1,
		CountThrottles:   rng.IntN(2) == 0,
	}
	if rng.IntN(3) > 0 {
		c.Multiplier = 1 + 3*rng.Float64()
	}
	switch rng.IntN(3) {
	case 0: // the default cap
	case 1:
		c.MaxOpenInterval = c.OpenInterval
	default:
		c.MaxOpenInterval = c.OpenInterval + time.Duration(rng.Int64N(int64(10*time.Minute)))
	}
	return c
}

// held is a ticket the test holds, with what it knows of it.
type held struct {
	tk    breaker.Ticket
	epoch int  // the number of changes when it was issued
	probe bool // issued while half-open
	done  bool
}

type propState struct {
	t     *testing.T
	cfg   breaker.Config
	b     *breaker.Breaker
	clk   *clock.Fake
	rec   *recorder
	seen  int // changes checked so far
	prev  breaker.Snapshot
	last  time.Duration // the last open interval
	held  []*held
	calls struct{ allowed, rejected uint64 }
}

func TestProperty(t *testing.T) {
	for seed := range uint64(propertySeeds) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			t.Parallel()
			runProperty(t, seed)
		})
	}
}

func runProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xb4ea4e4))
	p := &propState{t: t, cfg: randomConfig(rng)}
	p.b, p.clk, p.rec = newBreaker(t, p.cfg)
	p.settle()
	for step := range propertySteps {
		switch op := rng.IntN(10); {
		case op < 4:
			p.allow(step)
		case op < 8 && len(p.held) > 0:
			h := p.held[rng.IntN(len(p.held))]
			p.done(step, h, signal.Kind(rng.IntN(signal.NumKinds+1)))
		case op < 9:
			// Mostly within an interval, sometimes well past it.
			p.clk.Advance(time.Duration(rng.Int64N(int64(p.cfg.OpenInterval) * 3 / 2)))
			p.expect(step, "advance")
		default:
			st := p.b.State()
			p.settle()
			if st != p.prev.State {
				t.Fatalf("step %d: State() = %v, Snapshot says %v", step, st, p.prev.State)
			}
		}
		if t.Failed() {
			t.Fatalf("config %+v", p.cfg)
		}
	}
}

func (p *propState) allow(step int) {
	now := p.clk.Now()
	tk, err := p.b.Allow()
	prev := p.prev
	switch prev.State {
	case open:
		var oe *breaker.CircuitOpenError
		if !errors.As(err, &oe) || oe.State != open || !oe.RetryAt.Equal(prev.OpenUntil) || !now.Before(oe.RetryAt) {
			p.t.Fatalf("step %d: Allow while open until %v at %v: %v", step, prev.OpenUntil, now, err)
		}
	case closed:
		if err != nil {
			p.t.Fatalf("step %d: Allow while closed: %v", step, err)
		}
	case halfOpen:
		free := prev.ProbesOut < p.cfg.HalfOpenProbes
		if (err == nil) != free {
			p.t.Fatalf("step %d: Allow while half-open with %d of %d probes out: %v", step, prev.ProbesOut, p.cfg.HalfOpenProbes, err)
		}
	}
	if err == nil {
		p.calls.allowed++
		p.held = append(p.held, &held{tk: tk, epoch: p.seen, probe: prev.State == halfOpen})
	} else {
		p.calls.rejected++
	}
	p.expect(step, "allow")
}

func (p *propState) done(step int, h *held, kind signal.Kind) {
	fresh := h.epoch == p.seen && !(h.probe && h.done)
	h.done = true
	h.tk.Done(kind)
	var want []breaker.State // the states the breaker must move to
	failure := kind == signal.Overloaded || kind == signal.Throttled && p.cfg.CountThrottles
	healthy := kind == signal.Success || kind == signal.Failed
	if fresh {
		switch p.prev.State {
		case closed:
			if failure && p.prev.ConsecutiveFailures+1 == p.cfg.FailureThreshold {
				want = []breaker.State{open}
			}
		case halfOpen:
			switch {
			case failure:
				want = []breaker.State{open}
			case healthy:
				want = []breaker.State{closed}
			}
		}
	}
	p.expectChanges(step, "done "+kind.String(), want)
	// What a Done does without a transition.
	if len(want) == 0 {
		wantSnap := p.prev
		if fresh && p.prev.State == closed {
			switch {
			case healthy:
				wantSnap.ConsecutiveFailures = 0
			case failure:
				wantSnap.ConsecutiveFailures++
			}
		}
		if fresh && p.prev.State == halfOpen {
			wantSnap.ProbesOut--
		}
		snap := p.b.Snapshot()
		if snap != wantSnap {
			p.t.Fatalf("step %d: done %v (fresh %v): snapshot %+v, want %+v", step, kind, fresh, snap, wantSnap)
		}
	}
	p.settle()
}

// expect checks that the operation made no transition of its own, then
// settles.
func (p *propState) expect(step int, op string) {
	p.expectChanges(step, op, nil)
	p.settle()
}

// expectChanges checks that the changes since the last check move to the
// states want, one by one, along legal edges and with the right content.
func (p *propState) expectChanges(step int, op string, want []breaker.State) {
	all := p.rec.get()
	changes := all[p.seen:]
	if len(changes) != len(want) {
		p.t.Fatalf("step %d (%s from %v): changes %+v, want moves to %v", step, op, p.prev.State, changes, want)
	}
	for i, c := range changes {
		if c.To != want[i] {
			p.t.Fatalf("step %d (%s): change %+v, want a move to %v", step, op, c, want[i])
		}
		p.checkChange(step, all, p.seen+i, p.clk.Now())
	}
	p.seen = len(all)
}

// settle takes a snapshot, which may make an Open circuit whose interval is
// over HalfOpen, checks that transition and the snapshot's invariants, and
// keeps the snapshot as the state the next step starts from.
func (p *propState) settle() {
	now := p.clk.Now()
	snap := p.b.Snapshot()
	changes := p.rec.get()
	for i := p.seen; i < len(changes); i++ {
		if c := changes[i]; c.To != halfOpen {
			p.t.Fatalf("snapshot at %v made the change %+v", now, c)
		}
		p.checkChange(-1, changes, i, now)
	}
	p.seen = len(changes)
	p.prev = snap
	t := p.t

	live := 0
	for _, h := range p.held {
		if h.probe && h.epoch == p.seen && !h.done {
			live++
		}
	}
	switch snap.State {
	case closed:
		if snap.Trips != 0 || snap.ConsecutiveFailures >= p.cfg.FailureThreshold || snap.ConsecutiveFailures < 0 ||
			snap.ProbesOut != 0 || !snap.OpenUntil.IsZero() {
			t.Fatalf("closed snapshot %+v", snap)
		}
	case open:
		if snap.Trips < 1 || snap.ConsecutiveFailures != 0 || snap.ProbesOut != 0 || !now.Before(snap.OpenUntil) {
			t.Fatalf("open snapshot %+v at %v", snap, now)
		}
	case halfOpen:
		if snap.Trips < 1 || snap.ConsecutiveFailures != 0 || !snap.OpenUntil.IsZero() ||
			snap.ProbesOut > p.cfg.HalfOpenProbes || snap.ProbesOut != live {
			t.Fatalf("half-open snapshot %+v with %d live probes", snap, live)
		}
	default:
		t.Fatalf("snapshot in state %v", snap.State)
	}
	var opened uint64
	for _, c := range changes {
		if c.To == open {
			opened++
		}
	}
	if snap.Opened != opened || snap.Allowed != p.calls.allowed || snap.Rejected != p.calls.rejected {
		t.Fatalf("counters %+v; want %d opened, %d allowed, %d rejected", snap, opened, p.calls.allowed, p.calls.rejected)
	}
}

// checkChange checks that the change all[i] follows the one before it along
// a legal edge and carries what it should.
func (p *propState) checkChange(step int, all []breaker.Change, i int, now time.Time) {
	t := p.t
	c := all[i]
	before := breaker.Change{To: closed}
	if i > 0 {
		before = all[i-1]
	}
	if c.From != before.To || !legal(c.From, c.To) || c.Name != "api" || c.At.After(now) {
		t.Fatalf("step %d: change %d %+v after %+v", step, i, c, before)
	}
	switch c.To {
	case open:
		interval := p.cfg.OpenInterval
		if c.From == halfOpen {
			limit := p.cfg.MaxOpenInterval
			if limit == 0 {
				limit = breaker.DefaultMaxOpenInterval
			}
			limit = max(limit, p.cfg.OpenInterval)
			interval = min(time.Duration(float64(p.last)*p.cfg.Multiplier), limit)
			if interval < p.last || interval < p.cfg.OpenInterval {
				t.Fatalf("step %d: interval shrank from %v to %v", step, p.last, interval)
			}
		}
		if got := c.OpenUntil.Sub(c.At); got != interval {
			t.Fatalf("step %d: change %+v opens for %v, want %v", step, c, got, interval)
		}
		p.last = interval
		if c.Trips != before.Trips+1 {
			t.Fatalf("step %d: change %+v after %+v, want one more trip", step, c, before)
		}
	case halfOpen:
		// Lazy, but dated when the interval ended.
		if !c.At.Equal(before.OpenUntil) || !c.OpenUntil.IsZero() || c.Trips != before.Trips {
			t.Fatalf("step %d: change %+v after %+v", step, c, before)
		}
	case closed:
		if !c.OpenUntil.IsZero() || c.Trips != 0 {
			t.Fatalf("step %d: change %+v", step, c)
		}
	}
}
