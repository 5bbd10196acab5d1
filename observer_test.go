package dynlimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// Rates reached by repeated additions of 0.1 are compared to the last bit
// or so.
var approxRates = cmpopts.EquateApprox(0, 1e-12)

// ignoreMeasure leaves out the fields of a State that the policy keeps for
// its time-based growth: the tests that use it are about other fields.
var ignoreMeasure = cmpopts.IgnoreFields(policy.State{}, "Since", "Updated", "Measured")

func TestObserverSeesEveryOutcomeAndChange(t *testing.T) {
	rec := &recorder{}
	fake := clock.NewFake(t0)
	l := newLimiter(t, dynlimit.WithName("notion"), dynlimit.WithClock(fake), dynlimit.WithObserver(rec))
	ps := drain(t, l, t0, 5)

	t1 := t0.Add(100 * time.Millisecond)
	t2 := t1.Add(time.Second)
	s0 := policy.State{Rate: 5, Burst: 5}
	s1 := policy.State{Rate: 5.1, Burst: 5}
	s2 := policy.State{Rate: 5.2, Burst: 5}
	s3 := policy.State{Rate: 2.6, Burst: 5, CooldownUntil: t1.Add(2 * time.Second), Epoch: 1, Ceiling: 5.2}
	s4 := policy.State{Rate: 2.6, Burst: 5, CooldownUntil: t2.Add(5 * time.Second), Epoch: 2, Ceiling: 5.2}
	outcome := func(at time.Time, sig signal.Signal, st policy.State) dynlimit.Event {
		return dynlimit.Event{Kind: dynlimit.EventOutcome, Limiter: "notion", Time: at, Signal: sig, Tokens: 1, State: st}
	}
	change := func(at time.Time, prev, next policy.State) dynlimit.Event {
		return dynlimit.Event{Kind: dynlimit.EventRateChange, Limiter: "notion", Time: at, Prev: prev, State: next}
	}
	ok200 := signal.Signal{Status: 200}

	steps := []struct {
		name string
		do   func()
		want []dynlimit.Event
	}{
		// Observers turn batching off: each success is its own step.
		{"plain success", func() { ps[0].DoneAt(t1, signal.Signal{}) },
			[]dynlimit.Event{change(t1, s0, s1), outcome(t1, signal.Signal{}, s1)}},
		{"success through Done", func() { fake.Set(t1); ps[1].Done(ok200) },
			[]dynlimit.Event{change(t1, s1, s2), outcome(t1, ok200, s2)}},
		{"fresh 429", func() { ps[2].DoneAt(t1, throttle(2*time.Second)) },
			[]dynlimit.Event{change(t1, s2, s3), outcome(t1, throttle(2*time.Second), s3)}},
		{"stale 429", func() { ps[3].DoneAt(t1, throttle(0)) },
			[]dynlimit.Event{outcome(t1, throttle(0), s3)}},
		{"stale 429 whose Retry-After ends later", func() { ps[4].DoneAt(t2, throttle(5*time.Second)) },
			[]dynlimit.Event{change(t2, s3, s4), outcome(t2, throttle(5*time.Second), s4)}},
		{"snapshot", func() { l.SnapshotAt(t2) }, nil},
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("granting permits emitted %v", got)
	}
	for _, st := range steps {
		st.do()
		if diff := cmp.Diff(st.want, rec.take(), approxRates, ignoreMeasure); diff != "" {
			t.Errorf("%s: events (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestObserverSeesRefusedWaits(t *testing.T) {
	rec := &recorder{}
	l := newLimiter(t, dynlimit.WithName("slack"), dynlimit.WithClock(clock.NewFake(t0)),
		dynlimit.WithMaxWait(100*time.Millisecond), dynlimit.WithObserver(rec))
	drain(t, l, t0, 5)
	rec.take()

	_, waitErr := l.WaitN(context.Background(), 1)
	_, reserveErr := l.ReserveN(t0, 2)
	for _, err := range []error{waitErr, reserveErr} {
		if !errors.Is(err, dynlimit.ErrWaitTooLong) {
			t.Fatalf("err = %v, want a WaitError", err)
		}
	}
	want := []dynlimit.Event{
		{Kind: dynlimit.EventRejected, Limiter: "slack", Time: t0, Tokens: 1, Err: waitErr},
		{Kind: dynlimit.EventRejected, Limiter: "slack", Time: t0, Tokens: 2, Err: reserveErr},
	}
	got := rec.take()
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(dynlimit.Event{}, "Err")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for i := range min(len(got), len(want)) {
		if !unchanged(got[i].Err, want[i].Err) {
			t.Errorf("event %d carries %v, want the error the caller got", i, got[i].Err)
		}
	}
	if s := l.SnapshotAt(t0); s.Counters.Rejected != 2 {
		t.Errorf("rejected %d, want 2", s.Counters.Rejected)
	}
}

func TestObserversAreCalledInOrder(t *testing.T) {
	var calls []string
	named := func(name string) dynlimit.Observer {
		return dynlimit.ObserverFunc(func(e dynlimit.Event) { calls = append(calls, name+":"+e.Kind.String()) })
	}
	l := newLimiter(t, dynlimit.WithClock(clock.NewFake(t0)),
		dynlimit.WithObserver(named("a"), named("b")), dynlimit.WithObserver(named("c")))
	allow(t, l, t0, 1).DoneAt(t0, signal.Signal{Kind: signal.Failed})
	want := []string{"a:outcome", "b:outcome", "c:outcome"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[dynlimit.EventKind]string{
		dynlimit.EventOutcome:    "outcome",
		dynlimit.EventRateChange: "rate_change",
		dynlimit.EventRejected:   "rejected",
		dynlimit.EventError:      "error",
		dynlimit.EventKind(99):   "event(?)",
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

// Without an observer the permit cycle must cost no allocation: it runs
// once per call to the upstream.
func TestPermitCycleDoesNotAllocate(t *testing.T) {
	huge := policy.Fixed{Rate: 1e12, Burst: 1e9}
	aimd := classic()
	aimd.Rate, aimd.Burst, aimd.MaxRate = 1e12, 1e9, 2e12
	ctx := context.Background()
	tests := []struct {
		name  string
		p     policy.Policy
		cycle func(l *dynlimit.Limiter) bool
	}{
		{"Allow, Done", huge, func(l *dynlimit.Limiter) bool {
			p, ok := l.Allow()
			p.Done(signal.Signal{})
			return ok
		}},
		{"Allow, Done with AIMD", aimd, func(l *dynlimit.Limiter) bool {
			p, ok := l.Allow()
			p.Done(signal.Signal{Status: 200})
			return ok
		}},
		{"Wait, Done", huge, func(l *dynlimit.Limiter) bool {
			p, err := l.Wait(ctx)
			p.Done(signal.Signal{})
			return err == nil
		}},
		{"Allow, DoneAt of a failure", aimd, func(l *dynlimit.Limiter) bool {
			p, ok := l.Allow()
			p.DoneAt(p.Issued(), signal.Signal{Kind: signal.Failed, Status: 404})
			return ok
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLimiter(t, dynlimit.WithPolicy(tt.p), dynlimit.WithMaxInFlight(4))
			refused := 0
			allocs := testing.AllocsPerRun(1000, func() {
				if !tt.cycle(l) {
					refused++
				}
			})
			if refused > 0 {
				t.Fatalf("%d cycles refused", refused)
			}
			if allocs != 0 {
				t.Errorf("%v allocations per cycle, want 0", allocs)
			}
		})
	}
}
