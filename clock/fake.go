package clock

import (
	"sync"
	"time"
)

// Fake is a Clock that moves only when told to. It is safe for concurrent
// use; its zero value is not usable, make one with [NewFake].
//
// A timer made by a Fake fires when the clock is moved to or past its
// deadline: the instant is sent on the timer's channel, which has a buffer of
// one, so firing never blocks the goroutine that moves the clock.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer // pending timers, unordered
	seq    uint64       // creation order, to fire timers due together FIFO
}

var _ Clock = (*Fake)(nil)

// NewFake returns a Fake clock that reads start until it is moved.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start}
}

// Now returns the fake current instant.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once the clock reaches Now()+d. A d of
// zero or less fires at once.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.schedule(t, d)
	return t
}

// Advance moves the clock forward by d and fires every timer whose deadline
// is reached, in deadline order. A negative d is treated as zero: a Fake
// never goes back.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		d = 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.moveTo(f.now.Add(d))
}

// Set moves the clock to t and fires every timer whose deadline is reached.
// Setting an instant before the current one is allowed (a wall clock can step
// back too); no timer fires then.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		f.now = t
		return
	}
	f.moveTo(t)
}

// AdvanceToNext moves the clock to the deadline of the earliest pending
// timer and fires it (and any other timer due at the same instant). It
// reports false, and does not move, when no timer is pending.
func (f *Fake) AdvanceToNext() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	next, ok := f.next()
	if !ok {
		return false
	}
	if next.Before(f.now) {
		next = f.now
	}
	f.moveTo(next)
	return true
}

// Pending returns the number of timers that have not fired and were not
// stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// NextDeadline returns the deadline of the earliest pending timer, and false
// when there is none.
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next()
}

func (f *Fake) next() (time.Time, bool) {
	var (
		min time.Time
		ok  bool
	)
	for _, t := range f.timers {
		if !ok || t.deadline.Before(min) {
			min, ok = t.deadline, true
		}
	}
	return min, ok
}

// moveTo fires due timers in deadline order, with Now reading each timer's
// deadline as it fires, then settles on to. f.mu is held.
func (f *Fake) moveTo(to time.Time) {
	for {
		i := -1
		for j, t := range f.timers {
			if !t.deadline.After(to) && (i < 0 || t.before(f.timers[i])) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		t := f.timers[i]
		f.remove(i)
		if t.deadline.After(f.now) {
			f.now = t.deadline
		}
		select {
		case t.c <- f.now:
		default: // a value is already waiting; like time.Timer, do not block
		}
	}
	f.now = to
}

func (f *Fake) schedule(t *fakeTimer, d time.Duration) {
	t.deadline = f.now.Add(d)
	f.seq++
	t.seq = f.seq
	if d <= 0 {
		select {
		case t.c <- f.now:
		default:
		}
		return
	}
	f.timers = append(f.timers, t)
}

// unschedule removes t from the pending timers and reports whether it was
// there. f.mu is held.
func (f *Fake) unschedule(t *fakeTimer) bool {
	for i, p := range f.timers {
		if p == t {
			f.remove(i)
			return true
		}
	}
	return false
}

func (f *Fake) remove(i int) {
	last := len(f.timers) - 1
	f.timers[i] = f.timers[last]
	f.timers[last] = nil
	f.timers = f.timers[:last]
}

type fakeTimer struct {
	f        *Fake
	c        chan time.Time
	deadline time.Time
	seq      uint64
}

// before orders timers by deadline, then by the order they were armed in.
func (t *fakeTimer) before(u *fakeTimer) bool {
	if !t.deadline.Equal(u.deadline) {
		return t.deadline.Before(u.deadline)
	}
	return t.seq < u.seq
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	stopped := t.f.unschedule(t)
	return t.drain() || stopped
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.f.unschedule(t)
	was = t.drain() || was
	t.f.schedule(t, d)
	return was
}

// drain discards a fired value nobody read, so that Stop and Reset leave no
// stale tick behind, and reports whether there was one. As with time.Timer
// since Go 1.23, a timer whose value was not received counts as not yet
// fired: Stop and Reset then report true.
func (t *fakeTimer) drain() bool {
	select {
	case <-t.c:
		return true
	default:
		return false
	}
}
