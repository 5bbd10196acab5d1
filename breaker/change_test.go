package breaker_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
)

// A callback may call the breaker, even into a transition of its own: the
// breaker's lock is not held, and the nested change comes after the one
// being delivered.
func TestOnStateChangeReentrant(t *testing.T) {
	clk := clock.NewFake(t0)
	var (
		b      *breaker.Breaker
		got    []breaker.Change
		states []breaker.State
	)
	b, err := breaker.New(config(1, 10*s, 1, 1, 0, false), breaker.WithClock(clk), breaker.WithName("api"),
		breaker.WithOnStateChange(func(c breaker.Change) {
			got = append(got, c)
			states = append(states, b.State())
			if c.To == halfOpen {
				// A probe that fails at once, from inside the callback.
				tk, err := b.Allow()
				if err != nil {
					t.Errorf("probe from the callback: %v", err)
				}
				tk.Done(ovl)
				_ = b.Snapshot()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := b.Allow()
	tk.Done(ovl)
	clk.Advance(10 * s)
	// State reads half_open and makes the transition; its callback
	// reopens the circuit before State returns.
	if got := b.State(); got != halfOpen {
		t.Fatalf("State = %v, want half_open", got)
	}
	if got := b.State(); got != open {
		t.Fatalf("State = %v, want open again", got)
	}
	want := []breaker.Change{
		change(closed, open, 0, 10*s, 1),
		change(open, halfOpen, 10*s, 0, 1),
		change(halfOpen, open, 10*s, 10*s, 2),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]breaker.State{open, halfOpen, open}, states); diff != "" {
		t.Errorf("states read by the callback (-want +got):\n%s", diff)
	}
}

// A panicking callback panics its caller, and leaves the breaker working
// and delivering later changes.
func TestOnStateChangePanic(t *testing.T) {
	clk := clock.NewFake(t0)
	var got []breaker.Change
	b, err := breaker.New(config(1, 10*s, 1, 1, 0, false), breaker.WithClock(clk), breaker.WithName("api"),
		breaker.WithOnStateChange(func(c breaker.Change) {
			got = append(got, c)
			if c.To == open && c.Trips == 1 {
				panic("callback")
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	tk, _ := b.Allow()
	func() {
		defer func() {
			if r := recover(); r != "callback" {
				t.Errorf("recovered %v, want the callback's panic", r)
			}
		}()
		tk.Done(ovl)
	}()
	clk.Advance(10 * s)
	p, err := b.Allow()
	if err != nil {
		t.Fatalf("probe after the panic: %v", err)
	}
	p.Done(ok)
	want := []breaker.Change{
		change(closed, open, 0, 10*s, 1),
		change(open, halfOpen, 10*s, 0, 1),
		change(halfOpen, closed, 10*s, 0, 0),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
