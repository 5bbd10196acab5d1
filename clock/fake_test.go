package clock_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

// Named instants, one second apart, so that tables read as a timeline.
var (
	tEarly = time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	t0     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	t1     = t0.Add(1 * time.Second)
	t2     = t0.Add(2 * time.Second)
	t3     = t0.Add(3 * time.Second)
	t4     = t0.Add(4 * time.Second)
	t10    = t0.Add(10 * time.Second)
)

// never marks, in a table, a timer that must not have fired.
var never time.Time

// tryRecv reads C without blocking, so that a missing tick fails the test
// instead of hanging it.
func tryRecv(tm clock.Timer) (time.Time, bool) {
	select {
	case v := <-tm.C():
		return v, true
	default:
		return time.Time{}, false
	}
}

// wantEmpty fails if tm holds a value: a stale tick is what Stop and Reset
// promise never to leave behind.
func wantEmpty(t *testing.T, tm clock.Timer, context string) {
	t.Helper()
	if v, ok := tryRecv(tm); ok {
		t.Errorf("%s: C holds %v, want nothing", context, v)
	}
}

// wantFired fails unless tm holds exactly one value, equal to want.
func wantFired(t *testing.T, tm clock.Timer, want time.Time, context string) {
	t.Helper()
	got, ok := tryRecv(tm)
	if !ok {
		t.Errorf("%s: C is empty, want %v", context, want)
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s: C = %v, want %v", context, got, want)
	}
	wantEmpty(t, tm, context+" (second read)")
}

func wantNext(t *testing.T, f *clock.Fake, want time.Time, context string) {
	t.Helper()
	got, ok := f.NextDeadline()
	switch {
	case want.IsZero() && ok:
		t.Errorf("%s: NextDeadline() = %v, true; want none", context, got)
	case !want.IsZero() && !ok:
		t.Errorf("%s: NextDeadline() = none; want %v", context, want)
	case !want.IsZero() && !got.Equal(want):
		t.Errorf("%s: NextDeadline() = %v; want %v", context, got, want)
	}
}

func advance(d time.Duration) func(*clock.Fake) { return func(f *clock.Fake) { f.Advance(d) } }
func set(at time.Time) func(*clock.Fake)        { return func(f *clock.Fake) { f.Set(at) } }

func TestFakeNow(t *testing.T) {
	tests := []struct {
		name string
		ops  []func(*clock.Fake)
		want time.Time
	}{
		{"start", nil, t0},
		{"advance", []func(*clock.Fake){advance(time.Second)}, t1},
		{"advances add up", []func(*clock.Fake){advance(time.Second), advance(2 * time.Second)}, t3},
		{"advance zero", []func(*clock.Fake){advance(0)}, t0},
		{"advance sub-second", []func(*clock.Fake){advance(time.Nanosecond)}, t0.Add(time.Nanosecond)},
		{"negative advance is zero", []func(*clock.Fake){advance(-time.Second)}, t0},
		{"negative advance after moving", []func(*clock.Fake){advance(2 * time.Second), advance(-time.Hour)}, t2},
		{"set forward", []func(*clock.Fake){set(t3)}, t3},
		{"set same instant", []func(*clock.Fake){set(t0)}, t0},
		{"set backwards", []func(*clock.Fake){set(t3), set(t1)}, t1},
		{"set before start", []func(*clock.Fake){set(tEarly)}, tEarly},
		{"advance after set backwards", []func(*clock.Fake){set(t3), set(t1), advance(time.Second)}, t2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			for _, op := range tt.ops {
				op(f)
			}
			if got := f.Now(); !got.Equal(tt.want) {
				t.Errorf("Now() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFakeSetBackwardsFiresNothing(t *testing.T) {
	tests := []struct {
		name string
		to   time.Time
	}{
		{"one step back", t1},
		{"before start", tEarly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			f.Set(t2)
			tm := f.NewTimer(2 * time.Second) // due at t4

			f.Set(tt.to)
			if got := f.Now(); !got.Equal(tt.to) {
				t.Errorf("Now() = %v, want %v", got, tt.to)
			}
			wantEmpty(t, tm, "after stepping back")
			if got := f.Pending(); got != 1 {
				t.Errorf("Pending() = %d, want 1", got)
			}
			// The deadline is an instant, not a remaining duration: stepping
			// back delays the timer rather than shifting it.
			wantNext(t, f, t4, "after stepping back")

			f.Set(t4.Add(-time.Nanosecond))
			wantEmpty(t, tm, "just before the deadline")
			f.Set(t4)
			wantFired(t, tm, t4, "at the deadline")
		})
	}
}

func TestFakeNegativeAdvanceFiresNothing(t *testing.T) {
	for _, d := range []time.Duration{-time.Nanosecond, -time.Second, -100 * time.Hour} {
		t.Run(d.String(), func(t *testing.T) {
			f := clock.NewFake(t0)
			tm := f.NewTimer(time.Nanosecond)
			f.Advance(d)
			if got := f.Now(); !got.Equal(t0) {
				t.Errorf("Now() = %v, want %v", got, t0)
			}
			wantEmpty(t, tm, "after negative advance")
			if got := f.Pending(); got != 1 {
				t.Errorf("Pending() = %d, want 1", got)
			}
		})
	}
}

// TestFakeFiringOrder relies on each timer receiving its own deadline: the
// fake stamps a firing timer with Now, and Now only moves forward while the
// clock sweeps, so a timer fired out of order would be stamped with a later
// timer's deadline.
func TestFakeFiringOrder(t *testing.T) {
	tests := []struct {
		name        string
		after       []time.Duration // creation order, all from t0
		to          time.Time
		want        []time.Time // per timer; never when it must not fire
		wantPending int
	}{
		{
			name:  "due exactly at the deadline",
			after: []time.Duration{time.Second},
			to:    t1,
			want:  []time.Time{t1},
		},
		{
			name:        "one nanosecond short",
			after:       []time.Duration{time.Second},
			to:          t1.Add(-time.Nanosecond),
			want:        []time.Time{never},
			wantPending: 1,
		},
		{
			name:  "created in reverse",
			after: []time.Duration{3 * time.Second, 2 * time.Second, time.Second},
			to:    t3,
			want:  []time.Time{t3, t2, t1},
		},
		{
			name:  "scrambled, clock goes past all",
			after: []time.Duration{2 * time.Second, 4 * time.Second, time.Second, 3 * time.Second},
			to:    t10,
			want:  []time.Time{t2, t4, t1, t3},
		},
		{
			name:  "ties share the instant",
			after: []time.Duration{2 * time.Second, time.Second, 2 * time.Second, 2 * time.Second},
			to:    t2,
			want:  []time.Time{t2, t1, t2, t2},
		},
		{
			name:        "later timers stay pending",
			after:       []time.Duration{time.Second, 3 * time.Second, 2 * time.Second, 4 * time.Second},
			to:          t2,
			want:        []time.Time{t1, never, t2, never},
			wantPending: 2,
		},
	}
	movers := []struct {
		name string
		move func(f *clock.Fake, to time.Time)
	}{
		{"Advance", func(f *clock.Fake, to time.Time) { f.Advance(to.Sub(f.Now())) }},
		{"Set", func(f *clock.Fake, to time.Time) { f.Set(to) }},
	}
	for _, tt := range tests {
		for _, m := range movers {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				f := clock.NewFake(t0)
				timers := make([]clock.Timer, len(tt.after))
				for i, d := range tt.after {
					timers[i] = f.NewTimer(d)
				}

				m.move(f, tt.to)

				for i, tm := range timers {
					got, ok := tryRecv(tm)
					switch {
					case tt.want[i].IsZero() && ok:
						t.Errorf("timer %d (after %v) fired at %v, want pending", i, tt.after[i], got)
					case !tt.want[i].IsZero() && !ok:
						t.Errorf("timer %d (after %v) did not fire, want %v", i, tt.after[i], tt.want[i])
					case ok && !got.Equal(tt.want[i]):
						t.Errorf("timer %d (after %v) fired with %v, want %v", i, tt.after[i], got, tt.want[i])
					}
				}
				if got := f.Now(); !got.Equal(tt.to) {
					t.Errorf("Now() = %v, want %v (the target, not the last deadline)", got, tt.to)
				}
				if got := f.Pending(); got != tt.wantPending {
					t.Errorf("Pending() = %d, want %d", got, tt.wantPending)
				}
			})
		}
	}
}

func TestFakeImmediateTimer(t *testing.T) {
	tests := []struct {
		name  string
		moved func(*clock.Fake)
		d     time.Duration
		want  time.Time
	}{
		{"zero", nil, 0, t0},
		{"negative", nil, -time.Nanosecond, t0},
		{"far negative", nil, -time.Hour, t0},
		{"zero after advance", advance(2 * time.Second), 0, t2},
		{"negative after set backwards", set(tEarly), -time.Second, tEarly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			if tt.moved != nil {
				tt.moved(f)
			}
			tm := f.NewTimer(tt.d)

			if got := f.Pending(); got != 0 {
				t.Errorf("Pending() = %d, want 0", got)
			}
			wantNext(t, f, never, "immediate timer")
			wantFired(t, tm, tt.want, "without moving the clock")

			f.Advance(time.Hour)
			wantEmpty(t, tm, "after advancing")
			if tm.Stop() {
				t.Error("Stop() = true for a timer that already fired")
			}
		})
	}
}

func TestFakePendingAndNextDeadline(t *testing.T) {
	f := clock.NewFake(t0)
	var a, b, c clock.Timer
	steps := []struct {
		name        string
		do          func()
		wantPending int
		wantNext    time.Time
	}{
		{"empty", func() {}, 0, never},
		{"a due at t3", func() { a = f.NewTimer(3 * time.Second) }, 1, t3},
		{"b due at t1 becomes next", func() { b = f.NewTimer(time.Second) }, 2, t1},
		{"immediate timer is not counted", func() { f.NewTimer(0) }, 2, t1},
		{"c due at t2", func() { c = f.NewTimer(2 * time.Second) }, 3, t1},
		{"short of t1 changes nothing", func() { f.Set(t1.Add(-time.Nanosecond)) }, 3, t1},
		{"reaching t1 fires b", func() { f.Set(t1) }, 2, t2},
		{"stopping c", func() { c.Stop() }, 1, t3},
		{"reaching t3 fires a", func() { f.Set(t3) }, 0, never},
	}
	for _, s := range steps {
		s.do()
		if got := f.Pending(); got != s.wantPending {
			t.Errorf("%s: Pending() = %d, want %d", s.name, got, s.wantPending)
		}
		wantNext(t, f, s.wantNext, s.name)
	}
	wantFired(t, a, t3, "a")
	wantFired(t, b, t1, "b")
	wantEmpty(t, c, "stopped c")
}

func TestFakeStop(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *clock.Fake) clock.Timer
		want  bool
	}{
		{
			name:  "pending",
			setup: func(f *clock.Fake) clock.Timer { return f.NewTimer(time.Second) },
			want:  true,
		},
		{
			name: "fired, value unread",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Second)
				return tm
			},
			want: true,
		},
		{
			name: "fired, value read",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Second)
				<-tm.C()
				return tm
			},
			want: false,
		},
		{
			name: "already stopped",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				tm.Stop()
				return tm
			},
			want: false,
		},
		{
			name:  "immediate, value unread",
			setup: func(f *clock.Fake) clock.Timer { return f.NewTimer(0) },
			want:  true,
		},
		{
			name: "re-armed after firing",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Second)
				tm.Reset(time.Second)
				return tm
			},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			other := f.NewTimer(time.Hour) // Stop must remove only its own timer
			tm := tt.setup(f)

			if got := tm.Stop(); got != tt.want {
				t.Errorf("Stop() = %v, want %v", got, tt.want)
			}
			wantEmpty(t, tm, "right after Stop")
			if got := f.Pending(); got != 1 {
				t.Errorf("Pending() = %d, want 1 (only the unrelated timer)", got)
			}
			if tm.Stop() {
				t.Error("second Stop() = true, want false")
			}

			f.Advance(2 * time.Hour)
			wantEmpty(t, tm, "after the old deadline passed")
			if _, ok := tryRecv(other); !ok {
				t.Error("unrelated timer did not fire")
			}
		})
	}
}

func TestFakeReset(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(f *clock.Fake) clock.Timer
		d        time.Duration
		want     bool      // Reset's result
		wantFire time.Time // when the re-armed timer fires
	}{
		{
			name: "fired, value unread",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Second)
				return tm
			},
			d:        2 * time.Second,
			want:     true,
			wantFire: t3,
		},
		{
			name: "fired, value read",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Second)
				<-tm.C()
				return tm
			},
			d:        2 * time.Second,
			want:     false,
			wantFire: t3,
		},
		{
			name: "stopped",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				tm.Stop()
				return tm
			},
			d:        2 * time.Second,
			want:     false,
			wantFire: t2,
		},
		{
			name:     "pending, moved later",
			setup:    func(f *clock.Fake) clock.Timer { return f.NewTimer(time.Second) },
			d:        3 * time.Second,
			want:     true,
			wantFire: t3,
		},
		{
			name:     "pending, moved earlier",
			setup:    func(f *clock.Fake) clock.Timer { return f.NewTimer(3 * time.Second) },
			d:        time.Second,
			want:     true,
			wantFire: t1,
		},
		{
			name: "pending, counted from now not from creation",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(2 * time.Second)
				f.Advance(time.Second)
				return tm
			},
			d:        2 * time.Second,
			want:     true,
			wantFire: t3,
		},
		{
			name:     "pending, reset to zero fires at once",
			setup:    func(f *clock.Fake) clock.Timer { return f.NewTimer(2 * time.Second) },
			d:        0,
			want:     true,
			wantFire: t0,
		},
		{
			name: "fired, reset to negative fires again at once",
			setup: func(f *clock.Fake) clock.Timer {
				tm := f.NewTimer(time.Second)
				f.Advance(time.Second)
				return tm
			},
			d:        -time.Second,
			want:     true,
			wantFire: t1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			tm := tt.setup(f)

			if got := tm.Reset(tt.d); got != tt.want {
				t.Errorf("Reset(%v) = %v, want %v", tt.d, got, tt.want)
			}

			if tt.d <= 0 {
				wantFired(t, tm, tt.wantFire, "immediate re-arm")
				if got := f.Pending(); got != 0 {
					t.Errorf("Pending() = %d, want 0", got)
				}
				return
			}

			// A tick from before the Reset must not be mistaken for the new one.
			wantEmpty(t, tm, "right after Reset")
			if got := f.Pending(); got != 1 {
				t.Errorf("Pending() = %d, want 1", got)
			}
			wantNext(t, f, tt.wantFire, "after Reset")

			f.Set(tt.wantFire.Add(-time.Nanosecond))
			wantEmpty(t, tm, "just before the new deadline")
			f.Set(tt.wantFire)
			wantFired(t, tm, tt.wantFire, "at the new deadline")
			if got := f.Pending(); got != 0 {
				t.Errorf("Pending() after firing = %d, want 0", got)
			}
		})
	}
}

func TestFakeAdvanceToNext(t *testing.T) {
	type step struct {
		now   time.Time
		fired []int // indexes of the timers due at now
	}
	tests := []struct {
		name  string
		after []time.Duration
		prep  func(f *clock.Fake, timers []clock.Timer)
		steps []step
		end   time.Time // Now once AdvanceToNext reports false
	}{
		{
			name: "no timers",
			end:  t0,
		},
		{
			name: "no timers after moving",
			prep: func(f *clock.Fake, _ []clock.Timer) { f.Set(t2) },
			end:  t2,
		},
		{
			name:  "only immediate timers",
			after: []time.Duration{0, -time.Second},
			end:   t0,
		},
		{
			name:  "single",
			after: []time.Duration{time.Second},
			steps: []step{{t1, []int{0}}},
			end:   t1,
		},
		{
			name:  "in deadline order, ties together",
			after: []time.Duration{3 * time.Second, time.Second, 2 * time.Second, 2 * time.Second},
			steps: []step{{t1, []int{1}}, {t2, []int{2, 3}}, {t3, []int{0}}},
			end:   t3,
		},
		{
			name:  "sub-second deadline is hit exactly",
			after: []time.Duration{time.Nanosecond, time.Second},
			steps: []step{{t0.Add(time.Nanosecond), []int{0}}, {t1, []int{1}}},
			end:   t1,
		},
		{
			name:  "stopped timers are skipped",
			after: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second},
			prep:  func(_ *clock.Fake, timers []clock.Timer) { timers[0].Stop(); timers[2].Stop() },
			steps: []step{{t2, []int{1}}},
			end:   t2,
		},
		{
			name:  "after stepping back",
			after: []time.Duration{2 * time.Second},
			prep:  func(f *clock.Fake, _ []clock.Timer) { f.Set(tEarly) },
			steps: []step{{t2, []int{0}}},
			end:   t2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(t0)
			timers := make([]clock.Timer, len(tt.after))
			for i, d := range tt.after {
				timers[i] = f.NewTimer(d)
			}
			for _, tm := range timers {
				tryRecv(tm) // discard immediate ticks; only AdvanceToNext's count
			}
			if tt.prep != nil {
				tt.prep(f, timers)
			}

			for n, s := range tt.steps {
				if !f.AdvanceToNext() {
					t.Fatalf("step %d: AdvanceToNext() = false, want true", n)
				}
				if got := f.Now(); !got.Equal(s.now) {
					t.Errorf("step %d: Now() = %v, want %v", n, got, s.now)
				}
				due := make(map[int]bool, len(s.fired))
				for _, i := range s.fired {
					due[i] = true
				}
				for i, tm := range timers {
					if due[i] {
						wantFired(t, tm, s.now, "due timer")
					} else {
						wantEmpty(t, tm, "timer not yet due")
					}
				}
			}

			if f.AdvanceToNext() {
				t.Errorf("AdvanceToNext() = true with nothing pending (Now() = %v)", f.Now())
			}
			if got := f.Now(); !got.Equal(tt.end) {
				t.Errorf("Now() at the end = %v, want %v", got, tt.end)
			}
		})
	}
}

// TestFakeConcurrent mixes every operation across goroutines; its checks run
// once everyone is done, and the race detector covers the rest.
func TestFakeConcurrent(t *testing.T) {
	const (
		workers   = 8
		perWorker = 200
		movers    = 3
		moves     = 300
	)
	type made struct {
		tm      clock.Timer
		stopped bool
	}
	f := clock.NewFake(t0)
	timers := make([][]made, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				d := time.Duration((w*perWorker+i)%50) * time.Millisecond
				m := made{tm: f.NewTimer(d)}
				switch i % 4 {
				case 0:
					m.tm.Stop()
					m.stopped = true
				case 1:
					m.tm.Reset(d + time.Millisecond)
				}
				f.Now()
				f.Pending()
				f.NextDeadline()
				timers[w] = append(timers[w], m)
			}
		})
	}
	for m := range movers {
		wg.Go(func() {
			for range moves {
				if m == 0 {
					f.AdvanceToNext()
				} else {
					f.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()

	before := f.Now()
	f.Advance(time.Hour)
	end := f.Now()
	if !end.Equal(before.Add(time.Hour)) {
		t.Errorf("Now() = %v after Advance(1h) from %v", end, before)
	}
	if got := f.Pending(); got != 0 {
		t.Errorf("Pending() = %d after moving past every deadline, want 0", got)
	}
	for w, ms := range timers {
		for i, m := range ms {
			got, ok := tryRecv(m.tm)
			switch {
			case m.stopped && ok:
				t.Errorf("worker %d timer %d: stopped but C holds %v", w, i, got)
			case !m.stopped && !ok:
				t.Errorf("worker %d timer %d: never fired", w, i)
			case ok && (got.Before(t0) || got.After(end)):
				t.Errorf("worker %d timer %d: fired at %v, outside [%v, %v]", w, i, got, t0, end)
			}
			wantEmpty(t, m.tm, "timer fires at most once")
		}
	}
}

// TestFakeDriverWithBlockedWaiters is the simulator's shape: goroutines block
// on timers while a driver jumps the clock from deadline to deadline.
func TestFakeDriverWithBlockedWaiters(t *testing.T) {
	const (
		waiters = 16
		rounds  = 20
	)
	f := clock.NewFake(t0)
	var remaining atomic.Int64
	remaining.Store(waiters)
	errs := make(chan string, waiters*rounds)

	var wg sync.WaitGroup
	for w := range waiters {
		wg.Go(func() {
			defer remaining.Add(-1)
			prev := t0
			for r := range rounds {
				d := time.Duration(1+(w*rounds+r)%7) * time.Millisecond
				tm := f.NewTimer(d)
				got := <-tm.C()
				// The clock may move between the previous tick and NewTimer,
				// never backwards, so the gap is at least d.
				if got.Sub(prev) < d {
					errs <- fmt.Sprintf("waiter %d round %d: tick %v is less than %v after %v", w, r, got, d, prev)
				}
				prev = got
			}
		})
	}
	// A waiter between ticks has no timer pending, so AdvanceToNext may
	// briefly find nothing to do; yielding lets it arm the next one.
	for remaining.Load() > 0 {
		if !f.AdvanceToNext() {
			runtime.Gosched()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := f.Pending(); got != 0 {
		t.Errorf("Pending() = %d after all waiters finished, want 0", got)
	}
}
