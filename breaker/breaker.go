package breaker

import (
	"sync"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Breaker is a circuit breaker; see the package documentation. Make one with
// [New]. It is safe for concurrent use.
type Breaker struct {
	cfg      Config
	openCap  time.Duration // the longest open interval
	clock    clock.Clock
	name     string
	onChange func(Change)

	mu        sync.Mutex
	state     State
	gen       uint64 // bumped on every transition
	failures  int    // consecutive, while Closed
	trips     int    // consecutive, reset when Closed
	interval  time.Duration
	openUntil time.Time // while Open

	// slots holds the id of the probe in each half-open slot, 0 when free:
	// a probe releases its own slot once, however often its Done is called.
	slots     []uint64
	probesOut int
	probeID   uint64

	allowed, rejected, opened uint64

	// Changes wait in pending[head:] until delivered (see unlock).
	pending    []Change
	head       int
	delivering bool
}

// New returns a closed Breaker. It validates cfg as given, filling in no
// default: start from [DefaultConfig]. A nil Option is ignored.
func New(cfg Config, opts ...Option) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{clock: clock.Real}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return nil, err
		}
	}
	return &Breaker{
		cfg:      cfg,
		openCap:  cfg.openCap(),
		clock:    o.clock,
		name:     o.name,
		onChange: o.onChange,
		slots:    make([]uint64, cfg.HalfOpenProbes),
	}, nil
}

// Ticket is the permission for one call, returned by [Breaker.Allow]. Report
// the call's outcome with [Ticket.Done], once; a call that was not made is
// reported as [signal.Canceled], so that a probe's slot is released. The
// zero Ticket's Done does nothing.
type Ticket struct {
	b     *Breaker
	gen   uint64
	probe uint64 // the probe's id while HalfOpen; 0 for a call while Closed
	slot  int
}

// Allow is shorthand for AllowAt(now) on the breaker's clock.
func (b *Breaker) Allow() (Ticket, error) {
	return b.AllowAt(b.clock.Now())
}

// AllowAt reports whether a call may go at now. It returns a Ticket while
// the circuit is closed, or half-open with a probe slot free; otherwise a
// [*CircuitOpenError], which matches [ErrOpen].
func (b *Breaker) AllowAt(now time.Time) (Ticket, error) {
	b.mu.Lock()
	b.advance(now)
	var t Ticket
	switch b.state {
	case Closed:
		t = Ticket{b: b, gen: b.gen}
	case HalfOpen:
		if b.probesOut < len(b.slots) {
			b.probeID++
			for i, id := range b.slots {
				if id == 0 {
					b.slots[i] = b.probeID
					t = Ticket{b: b, gen: b.gen, probe: b.probeID, slot: i}
					break
				}
			}
			b.probesOut++
		}
	}
	if t.b != nil {
		b.allowed++
		b.unlock()
		return t, nil
	}
	b.rejected++
	state, retryAt := b.state, b.openUntil
	b.unlock()
	return Ticket{}, &CircuitOpenError{Name: b.name, State: state, RetryAt: retryAt}
}

// Done is shorthand for DoneAt(now, kind) on the breaker's clock.
func (t Ticket) Done(kind signal.Kind) {
	if t.b == nil {
		return
	}
	t.DoneAt(t.b.clock.Now(), kind)
}

// DoneAt reports the outcome of the ticket's call, which ended at now. See
// the package documentation for what each Kind does; a Kind it does not
// know counts as Canceled. The outcome of a ticket issued before the
// breaker's last transition is ignored; a probe's slot went with the
// half-open spell it was issued in.
//
// Call it once per ticket. A probe's second Done is ignored, so that it
// cannot free a slot another probe holds; a second Done on a ticket issued
// while closed counts as one more outcome.
func (t Ticket) DoneAt(now time.Time, kind signal.Kind) {
	b := t.b
	if b == nil {
		return
	}
	b.mu.Lock()
	if t.gen != b.gen {
		b.mu.Unlock()
		return
	}
	v := b.judge(kind)
	switch b.state {
	case Closed:
		switch v {
		case healthy:
			b.failures = 0
		case failure:
			b.failures++
			if b.failures >= b.cfg.FailureThreshold {
				b.transition(Open, now)
			}
		}
	case HalfOpen:
		// A fresh ticket while HalfOpen is a probe; one already released
		// (Done called twice) decides nothing more.
		if t.probe == 0 || b.slots[t.slot] != t.probe {
			break
		}
		switch v {
		case healthy:
			b.transition(Closed, now)
		case failure:
			b.transition(Open, now)
		default:
			b.slots[t.slot] = 0
			b.probesOut--
		}
	}
	b.unlock()
}

// Name returns the breaker's name (see [WithName]).
func (b *Breaker) Name() string { return b.name }

// State returns the state at the breaker's clock's now: an Open circuit
// whose interval is over reads, and becomes, HalfOpen.
func (b *Breaker) State() State {
	now := b.clock.Now()
	b.mu.Lock()
	b.advance(now)
	s := b.state
	b.unlock()
	return s
}

// Snapshot returns the state and counters at the breaker's clock's now,
// advancing an Open circuit whose interval is over to HalfOpen as State
// does.
func (b *Breaker) Snapshot() Snapshot {
	now := b.clock.Now()
	b.mu.Lock()
	b.advance(now)
	s := Snapshot{
		State:               b.state,
		ConsecutiveFailures: b.failures,
		Trips:               b.trips,
		OpenUntil:           b.openUntil,
		ProbesOut:           b.probesOut,
		Allowed:             b.allowed,
		Rejected:            b.rejected,
		Opened:              b.opened,
	}
	b.unlock()
	return s
}

type verdict int8

const (
	neutral verdict = iota
	healthy
	failure
)

// judge says what an outcome tells about the upstream's health.
func (b *Breaker) judge(k signal.Kind) verdict {
	switch k {
	case signal.Success, signal.Failed:
		return healthy
	case signal.Overloaded:
		return failure
	case signal.Throttled:
		if b.cfg.CountThrottles {
			return failure
		}
	}
	return neutral
}

// advance makes an Open circuit whose interval is over at now HalfOpen.
// b.mu is held.
func (b *Breaker) advance(now time.Time) {
	if b.state == Open && !now.Before(b.openUntil) {
		b.transition(HalfOpen, b.openUntil)
	}
}

// transition moves to state to at the instant at, starts a new generation
// and queues the change for the callback. b.mu is held.
func (b *Breaker) transition(to State, at time.Time) {
	from := b.state
	b.state = to
	b.gen++
	clear(b.slots)
	b.probesOut = 0
	switch to {
	case Closed:
		b.failures, b.trips, b.interval = 0, 0, 0
		b.openUntil = time.Time{}
	case Open:
		if b.trips == 0 {
			b.interval = b.cfg.OpenInterval
		} else {
			b.interval = grow(b.interval, b.cfg.Multiplier, b.openCap)
		}
		b.trips++
		b.opened++
		b.failures = 0
		b.openUntil = at.Add(b.interval)
	case HalfOpen:
		b.openUntil = time.Time{}
	}
	if b.onChange != nil {
		c := Change{Name: b.name, From: from, To: to, At: at, Trips: b.trips}
		if to == Open {
			c.OpenUntil = b.openUntil
		}
		b.pending = append(b.pending, c)
	}
}

// unlock releases b.mu, then delivers the queued changes unless another
// goroutine is delivering them already: that one will deliver these too,
// after its own, so that the callback sees the transitions one at a time and
// in order, and can call the breaker without deadlock. b.mu is held.
func (b *Breaker) unlock() {
	if b.delivering || b.head == len(b.pending) {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	for b.head < len(b.pending) {
		c := b.pending[b.head]
		b.pending[b.head] = Change{}
		b.head++
		b.mu.Unlock()
		b.deliver(c)
		b.mu.Lock()
	}
	b.pending, b.head = b.pending[:0], 0
	b.delivering = false
	b.mu.Unlock()
}

// deliver calls the callback. Should it panic, the panic goes on to the
// caller, and the changes still queued wait for the next transition.
func (b *Breaker) deliver(c Change) {
	done := false
	defer func() {
		if !done {
			b.mu.Lock()
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	b.onChange(c)
	done = true
}
