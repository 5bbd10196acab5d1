package breaker_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// t0 is where every fake clock starts; later instants are named after their
// offset from it.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

const (
	ok   = signal.Success
	thr  = signal.Throttled
	ovl  = signal.Overloaded
	fail = signal.Failed
	canc = signal.Canceled
)

const (
	closed   = breaker.Closed
	open     = breaker.Open
	halfOpen = breaker.HalfOpen
)

// recorder collects the changes a breaker reports.
type recorder struct {
	mu      sync.Mutex
	changes []breaker.Change
}

func (r *recorder) record(c breaker.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) get() []breaker.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]breaker.Change(nil), r.changes...)
}

// newBreaker returns a breaker named "api" on a fake clock at t0, and the
// recorder of its changes.
func newBreaker(tb testing.TB, cfg breaker.Config) (*breaker.Breaker, *clock.Fake, *recorder) {
	tb.Helper()
	clk := clock.NewFake(t0)
	rec := &recorder{}
	b, err := breaker.New(cfg, breaker.WithClock(clk), breaker.WithName("api"), breaker.WithOnStateChange(rec.record))
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return b, clk, rec
}

func config(threshold int, interval time.Duration, probes int, mult float64, maxInterval time.Duration, countThrottles bool) breaker.Config {
	return breaker.Config{
		FailureThreshold: threshold,
		OpenInterval:     interval,
		HalfOpenProbes:   probes,
		Multiplier:       mult,
		MaxOpenInterval:  maxInterval,
		CountThrottles:   countThrottles,
	}
}

// step is one thing that happens at an instant: a call is allowed (or
// refused) or a ticket is done. After it the breaker must be in state want
// with fails consecutive failures and trips consecutive trips.
type step struct {
	at      time.Duration // since t0
	allow   string        // name the ticket of a call allowed here
	refused bool          // allow is refused
	done    string        // the ticket whose outcome is reported here
	kind    signal.Kind
	want    breaker.State
	fails   int
	trips   int
}

func change(from, to breaker.State, at time.Duration, openFor time.Duration, trips int) breaker.Change {
	c := breaker.Change{Name: "api", From: from, To: to, At: t0.Add(at), Trips: trips}
	if to == open {
		c.OpenUntil = c.At.Add(openFor)
	}
	return c
}

const s = time.Second

func TestTransitions(t *testing.T) {
	tests := []struct {
		name    string
		cfg     breaker.Config
		steps   []step
		changes []breaker.Change
	}{
		{
			name: "threshold opens, interval passes, probe success closes",
			cfg:  config(3, 30*s, 1, 1, 0, false),
			steps: []step{
				{at: 0, allow: "a", want: closed},
				{at: 0, allow: "b", want: closed},
				{at: 0, allow: "c", want: closed},
				{at: 1 * s, done: "a", kind: ovl, want: closed, fails: 1},
				{at: 2 * s, done: "b", kind: ovl, want: closed, fails: 2},
				{at: 3 * s, done: "c", kind: ovl, want: open, trips: 1},
				{at: 3 * s, allow: "x", refused: true, want: open, trips: 1},
				{at: 33*s - 1, allow: "x", refused: true, want: open, trips: 1},
				{at: 33 * s, allow: "p", want: halfOpen, trips: 1},
				{at: 34 * s, done: "p", kind: ok, want: closed},
				{at: 34 * s, allow: "d", want: closed},
			},
			changes: []breaker.Change{
				change(closed, open, 3*s, 30*s, 1),
				change(open, halfOpen, 33*s, 0, 1),
				change(halfOpen, closed, 34*s, 0, 0),
			},
		},
		{
			name: "success and failed reset the count, canceled does not",
			cfg:  config(3, 30*s, 1, 1, 0, false),
			steps: []step{
				{allow: "a", want: closed}, {allow: "b", want: closed}, {allow: "c", want: closed},
				{allow: "d", want: closed}, {allow: "e", want: closed}, {allow: "f", want: closed},
				{allow: "g", want: closed}, {allow: "h", want: closed},
				{at: 1 * s, done: "a", kind: ovl, want: closed, fails: 1},
				{at: 1 * s, done: "b", kind: ovl, want: closed, fails: 2},
				{at: 2 * s, done: "c", kind: ok, want: closed, fails: 0},
				{at: 3 * s, done: "d", kind: ovl, want: closed, fails: 1},
				{at: 3 * s, done: "e", kind: ovl, want: closed, fails: 2},
				{at: 4 * s, done: "f", kind: fail, want: closed, fails: 0},
				{at: 5 * s, done: "g", kind: ovl, want: closed, fails: 1},
				{at: 6 * s, done: "h", kind: canc, want: closed, fails: 1},
			},
		},
		{
			name: "throttles are neutral unless counted",
			cfg:  config(2, 30*s, 1, 1, 0, false),
			steps: []step{
				{allow: "a", want: closed}, {allow: "b", want: closed}, {allow: "c", want: closed},
				{at: 1 * s, done: "a", kind: ovl, want: closed, fails: 1},
				{at: 2 * s, done: "b", kind: thr, want: closed, fails: 1},
				{at: 3 * s, done: "c", kind: ovl, want: open, trips: 1},
			},
			changes: []breaker.Change{change(closed, open, 3*s, 30*s, 1)},
		},
		{
			name: "counted throttles open",
			cfg:  config(2, 30*s, 1, 1, 0, true),
			steps: []step{
				{allow: "a", want: closed}, {allow: "b", want: closed},
				{at: 1 * s, done: "a", kind: thr, want: closed, fails: 1},
				{at: 2 * s, done: "b", kind: thr, want: open, trips: 1},
				{at: 32 * s, allow: "p", want: halfOpen, trips: 1},
				{at: 33 * s, done: "p", kind: thr, want: open, trips: 2},
			},
			changes: []breaker.Change{
				change(closed, open, 2*s, 30*s, 1),
				change(open, halfOpen, 32*s, 0, 1),
				change(halfOpen, open, 33*s, 30*s, 2),
			},
		},
		{
			name: "uncounted throttle on a probe releases it",
			cfg:  config(1, 10*s, 1, 1, 0, false),
			steps: []step{
				{allow: "a", want: closed},
				{done: "a", kind: ovl, want: open, trips: 1},
				{at: 10 * s, allow: "p", want: halfOpen, trips: 1},
				{at: 10 * s, allow: "q", refused: true, want: halfOpen, trips: 1},
				{at: 11 * s, done: "p", kind: thr, want: halfOpen, trips: 1},
				{at: 11 * s, allow: "q", want: halfOpen, trips: 1},
				{at: 12 * s, done: "q", kind: ok, want: closed},
			},
		},
		{
			name: "probe failures grow the interval up to the cap, success resets it",
			cfg:  config(1, 10*s, 1, 2, 25*s, false),
			steps: []step{
				{allow: "a", want: closed},
				{done: "a", kind: ovl, want: open, trips: 1},
				{at: 10 * s, allow: "p1", want: halfOpen, trips: 1},
				{at: 11 * s, done: "p1", kind: ovl, want: open, trips: 2},
				{at: 31*s - 1, allow: "x", refused: true, want: open, trips: 2},
				{at: 31 * s, allow: "p2", want: halfOpen, trips: 2},
				{at: 31 * s, done: "p2", kind: ovl, want: open, trips: 3},
				{at: 56 * s, allow: "p3", want: halfOpen, trips: 3},
				{at: 56 * s, done: "p3", kind: ovl, want: open, trips: 4},
				{at: 81 * s, allow: "p4", want: halfOpen, trips: 4},
				{at: 82 * s, done: "p4", kind: fail, want: closed},
				{at: 90 * s, allow: "b", want: closed},
				{at: 90 * s, done: "b", kind: ovl, want: open, trips: 1},
			},
			changes: []breaker.Change{
				change(closed, open, 0, 10*s, 1),
				change(open, halfOpen, 10*s, 0, 1),
				change(halfOpen, open, 11*s, 20*s, 2),
				change(open, halfOpen, 31*s, 0, 2),
				change(halfOpen, open, 31*s, 25*s, 3),
				change(open, halfOpen, 56*s, 0, 3),
				change(halfOpen, open, 56*s, 25*s, 4),
				change(open, halfOpen, 81*s, 0, 4),
				change(halfOpen, closed, 82*s, 0, 0),
				change(closed, open, 90*s, 10*s, 1),
			},
		},
		{
			name: "no cap given: the default of an hour",
			cfg:  config(1, 30*time.Minute, 1, 10, 0, false),
			steps: []step{
				{allow: "a", want: closed},
				{done: "a", kind: ovl, want: open, trips: 1},
				{at: 30 * time.Minute, allow: "p", want: halfOpen, trips: 1},
				{at: 30 * time.Minute, done: "p", kind: ovl, want: open, trips: 2},
			},
			changes: []breaker.Change{
				change(closed, open, 0, 30*time.Minute, 1),
				change(open, halfOpen, 30*time.Minute, 0, 1),
				change(halfOpen, open, 30*time.Minute, time.Hour, 2),
			},
		},
		{
			name: "a canceled probe frees its slot and decides nothing",
			cfg:  config(1, 10*s, 2, 1, 0, false),
			steps: []step{
				{allow: "a", want: closed},
				{done: "a", kind: ovl, want: open, trips: 1},
				{at: 10 * s, allow: "p1", want: halfOpen, trips: 1},
				{at: 10 * s, allow: "p2", want: halfOpen, trips: 1},
				{at: 10 * s, allow: "x", refused: true, want: halfOpen, trips: 1},
				{at: 11 * s, done: "p1", kind: canc, want: halfOpen, trips: 1},
				// A second Done on the same probe frees nothing more.
				{at: 11 * s, done: "p1", kind: canc, want: halfOpen, trips: 1},
				{at: 11 * s, allow: "p3", want: halfOpen, trips: 1},
				{at: 11 * s, allow: "x", refused: true, want: halfOpen, trips: 1},
				{at: 12 * s, done: "p2", kind: ok, want: closed},
			},
		},
		{
			name: "late outcomes of an older generation change nothing",
			cfg:  config(2, 10*s, 2, 1, 0, false),
			steps: []step{
				{allow: "a", want: closed}, {allow: "b", want: closed},
				{allow: "c", want: closed}, {allow: "d", want: closed},
				{at: 1 * s, done: "a", kind: ovl, want: closed, fails: 1},
				{at: 1 * s, done: "b", kind: ovl, want: open, trips: 1},
				// Issued before the trip: neither counts.
				{at: 2 * s, done: "c", kind: ok, want: open, trips: 1},
				{at: 11 * s, allow: "p1", want: halfOpen, trips: 1},
				{at: 11 * s, allow: "p2", want: halfOpen, trips: 1},
				{at: 11 * s, done: "d", kind: ok, want: halfOpen, trips: 1},
				{at: 12 * s, done: "p1", kind: ovl, want: open, trips: 2},
				// p2's half-open spell is over: its success does not close
				// the circuit, and its slot went with the spell.
				{at: 13 * s, done: "p2", kind: ok, want: open, trips: 2},
				{at: 22 * s, allow: "p3", want: halfOpen, trips: 2},
				{at: 22 * s, allow: "p4", want: halfOpen, trips: 2},
				{at: 22 * s, done: "p2", kind: ovl, want: halfOpen, trips: 2},
				{at: 23 * s, done: "p4", kind: ok, want: closed},
				{at: 24 * s, done: "p3", kind: ovl, want: closed},
				{at: 24 * s, done: "a", kind: ovl, want: closed},
			},
			changes: []breaker.Change{
				change(closed, open, 1*s, 10*s, 1),
				change(open, halfOpen, 11*s, 0, 1),
				change(halfOpen, open, 12*s, 10*s, 2),
				change(open, halfOpen, 22*s, 0, 2),
				change(halfOpen, closed, 23*s, 0, 0),
			},
		},
		{
			name: "an unknown kind is neutral",
			cfg:  config(1, 10*s, 1, 1, 0, false),
			steps: []step{
				{allow: "a", want: closed},
				{done: "a", kind: signal.Kind(200), want: closed},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk, rec := newBreaker(t, tt.cfg)
			tickets := map[string]breaker.Ticket{}
			for i, st := range tt.steps {
				clk.Set(t0.Add(st.at))
				switch {
				case st.allow != "":
					tk, err := b.Allow()
					if got := err != nil; got != st.refused {
						t.Fatalf("step %d (t0+%v): Allow error = %v, want refused %v", i, st.at, err, st.refused)
					}
					if err == nil {
						tickets[st.allow] = tk
					}
				case st.done != "":
					tk, found := tickets[st.done]
					if !found {
						t.Fatalf("step %d: no ticket %q", i, st.done)
					}
					tk.Done(st.kind)
				}
				snap := b.Snapshot()
				if snap.State != st.want || snap.ConsecutiveFailures != st.fails || snap.Trips != st.trips {
					t.Fatalf("step %d (t0+%v): state %v, %d failures, %d trips; want %v, %d, %d",
						i, st.at, snap.State, snap.ConsecutiveFailures, snap.Trips, st.want, st.fails, st.trips)
				}
			}
			if tt.changes != nil {
				if diff := cmp.Diff(tt.changes, rec.get()); diff != "" {
					t.Errorf("changes (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// The explicit-time twins drive the breaker without its clock, as the
// simulator does.
func TestAtTwins(t *testing.T) {
	b, err := breaker.New(config(1, 10*s, 1, 1, 0, false), breaker.WithClock(clock.NewFake(t0.Add(-time.Hour))))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := b.AllowAt(t0)
	if err != nil {
		t.Fatal(err)
	}
	tk.DoneAt(t0.Add(1*s), ovl)
	if _, err := b.AllowAt(t0.Add(11*s - 1)); err == nil {
		t.Fatal("AllowAt before OpenUntil succeeded")
	}
	p, err := b.AllowAt(t0.Add(11 * s))
	if err != nil {
		t.Fatalf("AllowAt at OpenUntil: %v", err)
	}
	p.DoneAt(t0.Add(12*s), ok)
	// State reads the breaker's clock, an hour behind: closed is closed.
	if got := b.State(); got != closed {
		t.Errorf("State = %v, want closed", got)
	}
}

func TestCounters(t *testing.T) {
	b, clk, _ := newBreaker(t, config(2, 10*s, 1, 1, 0, false))
	a, _ := b.Allow()
	c, _ := b.Allow()
	a.Done(ovl)
	c.Done(ovl)
	for range 3 {
		if _, err := b.Allow(); err == nil {
			t.Fatal("Allow while open succeeded")
		}
	}
	clk.Advance(10 * s)
	p, _ := b.Allow()
	if _, err := b.Allow(); err == nil {
		t.Fatal("second probe admitted")
	}
	want := breaker.Snapshot{State: halfOpen, Trips: 1, ProbesOut: 1, Allowed: 3, Rejected: 4, Opened: 1}
	if diff := cmp.Diff(want, b.Snapshot()); diff != "" {
		t.Errorf("half-open snapshot (-want +got):\n%s", diff)
	}
	p.Done(ovl)
	want = breaker.Snapshot{State: open, Trips: 2, OpenUntil: t0.Add(20 * s), Allowed: 3, Rejected: 4, Opened: 2}
	if diff := cmp.Diff(want, b.Snapshot()); diff != "" {
		t.Errorf("open snapshot (-want +got):\n%s", diff)
	}
}

func TestZeroTicket(t *testing.T) {
	var tk breaker.Ticket
	tk.Done(ovl)
	tk.DoneAt(t0, ovl)
}

func TestStateString(t *testing.T) {
	for s, want := range map[breaker.State]string{closed: "closed", open: "open", halfOpen: "half_open", 9: "state(9)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}

// Allow reads the clock: an open circuit whose interval passed reads, and
// admits, as half-open, with no timer or goroutine to move it.
func TestLazyHalfOpen(t *testing.T) {
	b, clk, rec := newBreaker(t, config(1, 10*s, 1, 1, 0, false))
	tk, _ := b.Allow()
	tk.Done(ovl)
	clk.Advance(25 * s) // nobody looks until t0+25s
	if got := len(rec.get()); got != 1 {
		t.Fatalf("%d changes before anyone looked, want 1", got)
	}
	if got := b.State(); got != halfOpen {
		t.Fatalf("State = %v, want half_open", got)
	}
	// The change is dated when the interval ended, not when it was seen.
	if got := rec.get()[1].At; !got.Equal(t0.Add(10 * s)) {
		t.Errorf("half-open At = %v, want t0+10s", got)
	}
	if clk.Pending() != 0 {
		t.Errorf("%d timers pending, want none", clk.Pending())
	}
}

func TestProbesBoundedUnderConcurrency(t *testing.T) {
	const probes, callers = 3, 64
	b, clk, _ := newBreaker(t, config(1, 10*s, probes, 1, 0, false))
	tk, _ := b.Allow()
	tk.Done(ovl)
	clk.Advance(10 * s)

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted []breaker.Ticket
		start    = make(chan struct{})
	)
	for range callers {
		wg.Go(func() {
			<-start
			tk, err := b.Allow()
			if err != nil {
				return
			}
			mu.Lock()
			admitted = append(admitted, tk)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if len(admitted) != probes {
		t.Fatalf("%d probes admitted, want %d", len(admitted), probes)
	}
	snap := b.Snapshot()
	if snap.ProbesOut != probes || snap.Rejected != callers-probes {
		t.Errorf("ProbesOut %d, Rejected %d; want %d, %d", snap.ProbesOut, snap.Rejected, probes, callers-probes)
	}

	// All done at once: the first success closes the circuit, the rest
	// are stale.
	for _, tk := range admitted {
		wg.Go(func() { tk.Done(ok) })
	}
	wg.Wait()
	if snap := b.Snapshot(); snap.State != closed || snap.ProbesOut != 0 {
		t.Errorf("after the probes: %v with %d probes out, want closed with 0", snap.State, snap.ProbesOut)
	}
}

// Goroutines calling and reporting while the clock moves: under -race this
// checks the locking; the callback checks that transitions arrive in order
// and take legal edges only.
func TestConcurrentTraffic(t *testing.T) {
	clk := clock.NewFake(t0)
	var (
		mu    sync.Mutex
		last  = closed
		count int
	)
	b, err := breaker.New(config(3, 10*time.Millisecond, 2, 1.5, time.Second, true),
		breaker.WithClock(clk),
		breaker.WithOnStateChange(func(c breaker.Change) {
			mu.Lock()
			defer mu.Unlock()
			if c.From != last || !legal(c.From, c.To) {
				t.Errorf("change %v → %v after %v", c.From, c.To, last)
			}
			last = c.To
			count++
		}))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // one trip for sure, whatever the interleaving below
		tk, _ := b.Allow()
		tk.Done(ovl)
	}
	kinds := []signal.Kind{ok, thr, ovl, ovl, fail, canc}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				tk, err := b.Allow()
				if err != nil {
					continue
				}
				if snap := b.Snapshot(); snap.ProbesOut > 2 {
					t.Errorf("%d probes out", snap.ProbesOut)
				}
				tk.Done(kinds[(g+i)%len(kinds)])
			}
		})
	}
	wg.Go(func() {
		for range 2000 {
			clk.Advance(time.Millisecond)
		}
	})
	wg.Wait()
	snap := b.Snapshot()
	mu.Lock()
	defer mu.Unlock()
	if snap.State != last {
		t.Errorf("state %v, last change to %v", snap.State, last)
	}
	if uint64(count) < snap.Opened {
		t.Errorf("%d changes delivered, %d openings", count, snap.Opened)
	}
}

func legal(from, to breaker.State) bool {
	switch from {
	case closed:
		return to == open
	case open:
		return to == halfOpen
	case halfOpen:
		return to == open || to == closed
	}
	return false
}

func TestAllowDoneAllocateNothing(t *testing.T) {
	b, clk, _ := newBreaker(t, config(1, 10*s, 1, 1, 0, false))
	if n := testing.AllocsPerRun(1000, func() {
		tk, _ := b.Allow()
		tk.Done(ok)
	}); n != 0 {
		t.Errorf("closed Allow+Done: %v allocations, want 0", n)
	}
	tk, _ := b.Allow()
	tk.Done(ovl)
	clk.Advance(10 * s)
	if n := testing.AllocsPerRun(1000, func() {
		tk, _ := b.Allow()
		tk.Done(canc)
	}); n != 0 {
		t.Errorf("probe Allow+Done: %v allocations, want 0", n)
	}
}
