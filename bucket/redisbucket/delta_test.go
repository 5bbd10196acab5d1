package redisbucket_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/dynlimit/dynlimit/bucket/redisbucket"
	"github.com/dynlimit/dynlimit/internal/redistest"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// patient gives each call seconds rather than the default 100 ms, which a
// busy machine running -race can exceed: the tests here are about what the
// calls write, not about Redis failing.
var patient = redisbucket.WithTimeout(5 * time.Second)

// timedAIMD is an AIMD whose steps also move Since (to the first outcome,
// or the last decrease), Updated and Measured (a count of outcomes that
// halves every second), as a policy whose growth depends on time does.
type timedAIMD struct{ policy.AIMD }

func (p timedAIMD) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	next := p.AIMD.Next(s, o, now)
	// The measure below is this policy's own, not AIMD's.
	next.Since, next.Updated, next.Measured = s.Since, s.Updated, s.Measured
	if next.Epoch != s.Epoch || next.Since.IsZero() {
		next.Since = now
	}
	if dt := now.Sub(next.Updated); next.Updated.IsZero() || dt > 0 {
		if !next.Updated.IsZero() {
			next.Measured *= math.Exp2(-dt.Seconds())
		}
		next.Updated = now
	}
	next.Measured += float64(o.N())
	return next
}

// stepKinds records the kind of policy step (ARGV[4]: "" none, "d" a
// change, else a version) of every script call a client makes.
type stepKinds struct {
	mu    sync.Mutex
	kinds []string
}

func (h *stepKinds) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *stepKinds) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// evalsha sha numkeys key op now ttl step ...
		if args := cmd.Args(); len(args) > 7 && args[4] != "init" {
			h.mu.Lock()
			h.kinds = append(h.kinds, fmt.Sprint(args[7]))
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *stepKinds) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *stepKinds) changes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, k := range h.kinds {
		if k == "d" {
			n++
		}
	}
	return n
}

// Successes whose step moves Since, Updated and Measured as well as the
// rate still ride on the next take as changes that add up across
// processes: the rate gets every increase, the later measure wins over an
// earlier one whichever is written last, and Since is the last step's that
// moved it.
func TestTimedStepsRideAsChanges(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("timed-%d", names.Add(1))
	var hooks [2]stepKinds
	var bs [2]*redisbucket.Bucket
	for i := range bs {
		c := newClient(t, srv)
		c.AddHook(&hooks[i])
		bs[i] = mustNew(t, c, name, redisbucket.WithCallerClock(), patient)
	}
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Second), t0.Add(2*time.Second)
	a := policy.DefaultAIMD()
	a.Rate, a.Burst, a.MaxRate, a.IncreaseFactor, a.SlowStart, a.Recovery = 10, 100, 1000, 1, 0, 0
	p := timedAIMD{a}
	for _, b := range bs {
		if err := b.Init(ctx, t0, p.Initial()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bs[1].Peek(ctx, t0); err != nil { // learns the hash's version
		t.Fatal(err)
	}
	ok := policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Tokens: 1}
	ok.Count = 1
	if _, _, err := bs[0].Apply(ctx, p, ok, t2); err != nil {
		t.Fatal(err)
	}
	ok.Count = 2
	if _, _, err := bs[1].Apply(ctx, p, ok, t1); err != nil {
		t.Fatal(err)
	}
	if _, err := bs[0].Take(ctx, t2, 1, 0); err != nil {
		t.Fatal(err)
	}
	// The first process knows the state its change left without reading
	// it: a step it computes from it, written as a state at its version,
	// counts the outcome once more.
	failed := policy.Outcome{Signal: signal.Signal{Kind: signal.Failed}, Tokens: 1}
	if _, next, err := bs[0].Apply(ctx, p, failed, t2); err != nil || next.Measured != 2 {
		t.Fatalf("Apply(failed) = %+v, %v; want measured 2", next, err)
	}
	// The second's step was computed from the version before both: it is
	// written over them as a change, not refused as a conflict.
	if _, err := bs[1].Take(ctx, t2, 1, 0); err != nil {
		t.Fatal(err)
	}
	for i := range hooks {
		if n := hooks[i].changes(); n != 1 {
			t.Errorf("process %d wrote %d changes, want 1: its step, as a change (calls: %q)", i, n, hooks[i].kinds)
		}
	}
	// A third process, which finds the hash made, reads it.
	third := mustNew(t, newClient(t, srv), name, redisbucket.WithCallerClock(), patient)
	if err := third.Init(ctx, t2, p.Initial()); err != nil {
		t.Fatal(err)
	}
	st, err := third.Peek(ctx, t2)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.State{Rate: 13, Burst: 100, Since: t1, Updated: t2, Measured: 2}
	if d := cmp.Diff(want, st.State); d != "" {
		t.Errorf("the shared state after both changes (-want +got):\n%s", d)
	}
}

// CUBIC's step sets the rate to a point of its curve: two processes that
// both take a step from the same state must not add them up. Each is
// written as a state; the second, refused, is computed again from the
// first's and moves the rate no further.
func TestCUBICStepsAreStates(t *testing.T) {
	srv := redistest.Start(t)
	name := fmt.Sprintf("cubic-%d", names.Add(1))
	var hooks [2]stepKinds
	var bs [2]*redisbucket.Bucket
	for i := range bs {
		c := newClient(t, srv)
		c.AddHook(&hooks[i])
		bs[i] = mustNew(t, c, name, redisbucket.WithCallerClock(), patient)
	}
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Second)
	p := policy.DefaultCUBIC()
	// A second after a throttle at a measured 10/s, the last outcome 100
	// ms ago: the next success sets the rate to 0.4 × (1 − ∛7.5)³ + 10.
	s := policy.State{Rate: 7, Burst: 10, Epoch: 1, Ceiling: 10, Since: t0, Updated: now.Add(-100 * time.Millisecond), Measured: 10}
	for _, b := range bs {
		if err := b.Init(ctx, t0, s); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := bs[1].Peek(ctx, t0); err != nil || !cmp.Equal(st.State, s) {
		t.Fatalf("Peek after Init = %+v, %v; want the state Init was given, %+v", st.State, err, s)
	}
	for _, b := range bs {
		if _, _, err := b.Apply(ctx, p, policy.Outcome{Signal: signal.Signal{Kind: signal.Success}, Epoch: 1, Tokens: 1}, now); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range bs {
		if _, err := b.Take(ctx, now, 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	st, err := bs[1].Peek(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	const want = 9.64893600966
	if math.Abs(st.State.Rate-want) > 1e-9 {
		t.Errorf("rate after one success in each of two processes = %v, want %v: the cubic at 1 s, once", st.State.Rate, want)
	}
	if st.State.Measured <= 10 || !st.State.Updated.Equal(now) || !st.State.Since.Equal(t0) {
		t.Errorf("measured %v at %v since %v; want both successes counted at %v, since %v", st.State.Measured, st.State.Updated, st.State.Since, now, t0)
	}
	for i := range hooks {
		if n := hooks[i].changes(); n != 0 {
			t.Errorf("process %d wrote %d of CUBIC's steps as changes, want none (calls: %q)", i, n, hooks[i].kinds)
		}
	}
}

// A hash whose state an older script wrote, eight doubles without since,
// updated and measured, reads as nothing measured, and the next step writes
// all eleven.
func TestStateOfAnOlderScript(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	name := fmt.Sprintf("older-%d", names.Add(1))
	b := mustNew(t, c, name, redisbucket.WithCallerClock(), patient)
	if err := b.Init(ctx, t0, policy.State{Rate: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	old := make([]byte, 0, 64)
	for _, x := range []float64{4, 4, -1e300, 2, 0, -1e300, 3, 5} { // rate, burst, cooldown, epoch, quota rate, quota until, ceiling, version
		old = binary.LittleEndian.AppendUint64(old, math.Float64bits(x))
	}
	if err := c.HSet(ctx, b.Key(), "s", old).Err(); err != nil {
		t.Fatal(err)
	}
	other := mustNew(t, newClient(t, srv), name, redisbucket.WithCallerClock(), patient)
	if err := other.Init(ctx, t0, policy.State{Rate: 1, Burst: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := other.Peek(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (policy.State{Rate: 4, Burst: 4, Epoch: 2, Ceiling: 3}); !cmp.Equal(st.State, want) {
		t.Errorf("state of an older script = %+v, want %+v", st.State, want)
	}
	p := policy.DefaultCUBIC()
	if _, _, err := other.Apply(ctx, p, policy.Outcome{Signal: signal.Signal{Kind: signal.Overloaded}, Epoch: 2, Tokens: 1}, t0); err != nil {
		t.Fatal(err)
	}
	if s, err := c.HGet(ctx, b.Key(), "s").Result(); err != nil || len(s) != 88 {
		t.Errorf("state after a step: %d bytes, %v; want 88, eleven doubles", len(s), err)
	}
	if st, err := other.Peek(ctx, t0); err != nil || !st.State.Updated.Equal(t0) || !st.State.Since.Equal(t0) {
		t.Errorf("after the step: %+v, %v; want since and updated %v", st.State, err, t0)
	}
}
