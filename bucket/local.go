package bucket

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/dynlimit/dynlimit/policy"
)

// Local is the in-memory token bucket of one process. Its zero value is an
// empty bucket waiting for [Local.Init]; it must not be copied after first
// use.
//
// Tokens are kept as the count at an instant, last, and refilled lazily
// when the bucket is next used, as golang.org/x/time/rate does. Waiters
// reserve ahead, so the count goes below zero while they wait; [Local.Peek]
// reports that part as Reserved. A congestion event sets last to the
// cooldown's end: no token accrues before it.
type Local struct {
	mu     sync.Mutex
	init   bool
	state  policy.State
	tokens float64
	last   time.Time
	// tail is at or after the latest At handed out in the current epoch:
	// Cancel must not give back what later reservations stand on.
	tail time.Time
	// accrued counts every token the refill has added since Init, the
	// part the burst cut off included. A reservation's Mark is the value
	// it must reach for the reservation to come due, which is how [Local.Due]
	// moves it earlier when the rate rises after it was made.
	accrued float64
}

var (
	_ Bucket  = (*Local)(nil)
	_ Retimer = (*Local)(nil)
)

// NewLocal returns an empty Local bucket; the Limiter initializes it.
func NewLocal() *Local { return new(Local) }

// Init sets the state and fills the bucket, unless Init was already called.
func (b *Local) Init(_ context.Context, now time.Time, s policy.State) error {
	if err := CheckState(s); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.init {
		return nil
	}
	b.init, b.state, b.tokens, b.last = true, s, s.Burst, now
	if s.CooldownUntil.After(now) {
		b.tokens, b.last = 0, s.CooldownUntil
	}
	return nil
}

// advance refills the bucket up to now. b.mu is held.
func (b *Local) advance(now time.Time) {
	if now.After(b.last) {
		add := b.refill(now)
		b.accrued += add
		b.tokens = math.Min(b.state.Burst, b.tokens+add)
		b.last = now
	}
}

// refilled returns the tokens at now, which is after b.last. b.mu is held.
func (b *Local) refilled(now time.Time) float64 {
	return math.Min(b.state.Burst, b.tokens+b.refill(now))
}

// refill returns the tokens that accrue from b.last to now, which is after
// it, before the burst caps them: at the quota's rate until its window
// resets, at the policy's after. b.mu is held.
func (b *Local) refill(now time.Time) float64 {
	s, from, add := &b.state, b.last, 0.0
	if s.Paced(from) && s.QuotaUntil.Before(now) {
		add = s.QuotaRate * s.QuotaUntil.Sub(from).Seconds()
		from = s.QuotaUntil
	}
	return add + s.RateAt(from)*now.Sub(from).Seconds()
}

// Take reserves n tokens; see [Bucket.Take].
func (b *Local) Take(_ context.Context, now time.Time, n float64, maxWait time.Duration) (Reservation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		return Reservation{}, ErrUninitialized
	}
	if !(n > 0) || n > b.state.Burst {
		return Reservation{}, &BurstError{N: n, Burst: b.state.Burst}
	}
	b.advance(now)
	// last can be a little after now when a concurrent caller read the clock
	// later but took first: that is not a wait. Only a cooldown is.
	at := now
	if b.state.CooldownUntil.After(now) {
		at = b.state.CooldownUntil
	}
	if need := n - b.tokens; need > 0 {
		// Accrual truncates to the nanosecond, as x/time/rate does:
		// rounding up would make a bucket refilled in steps refuse, by a
		// nanosecond, the tokens that float arithmetic left a hair short.
		at = at.Add(b.state.Accrual(need, at))
	}
	r := Reservation{At: at, Tokens: n, Epoch: b.state.Epoch}
	// Sub saturates at Forever, which so bounds nothing.
	if at.Sub(now) <= maxWait {
		// The tokens that must accrue before r is due: those it lacks.
		r.Mark = b.accrued + max(n-b.tokens, 0)
		b.tokens -= n
		r.OK = true
		if at.After(b.tail) {
			b.tail = at
		}
	}
	return r, nil
}

// Confirm reports whether r was made in the current epoch.
func (b *Local) Confirm(_ context.Context, _ time.Time, r Reservation) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		return false, ErrUninitialized
	}
	return r.OK && r.Epoch == b.state.Epoch, nil
}

// Due returns the instant r may be used, as of now; see [Retimer.Due].
// A pending reservation comes due once the tokens it lacked when it was
// taken have accrued, at whatever rates were in force since, and no
// cooldown runs: r.At, or earlier when the rate has risen.
func (b *Local) Due(_ context.Context, now time.Time, r Reservation) (time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		return r.At, ErrUninitialized
	}
	if !r.OK || !r.At.After(now) {
		return r.At, nil
	}
	if r.Epoch != b.state.Epoch {
		return now, nil // forfeited: Confirm says so at once
	}
	b.advance(now)
	due := now
	if b.state.CooldownUntil.After(due) {
		due = b.state.CooldownUntil
	}
	if need := r.Mark - b.accrued; need > 0 {
		// From the refill's last instant if it is later (a cooldown's end
		// or a caller that read the clock later), as Take counts.
		if b.last.After(due) {
			due = b.last
		}
		due = due.Add(b.state.Accrual(need, due))
	}
	// Float rounding moves an instant recomputed at another time by a
	// nanosecond or so: that is not a rise of the rate. And a rate lowered
	// since (by a quota) does not break the promise r.At made: only a
	// congestion event does, through the epoch.
	if due.After(r.At.Add(-time.Microsecond)) {
		return r.At, nil
	}
	return due, nil
}

// Cancel gives back r's tokens if their time has not come and no congestion
// event has forfeited them.
func (b *Local) Cancel(_ context.Context, now time.Time, r Reservation) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		return ErrUninitialized
	}
	if !r.OK || r.Epoch != b.state.Epoch || !r.At.After(now) {
		return nil
	}
	// The reservations made after r were scheduled behind it and keep
	// their instants. Giving all of r's tokens back as well would let new
	// takes land beside them, beyond burst + rate × time: only the part of
	// r no later reservation stands on comes back, as in
	// golang.org/x/time/rate.
	give := r.Tokens
	last := isLatest(r.At, b.tail, now)
	if b.tail.After(r.At) && !last {
		give -= b.state.RateAt(r.At) * b.tail.Sub(r.At).Seconds()
	}
	if give <= 0 {
		return nil
	}
	b.advance(now)
	b.tokens = math.Min(b.state.Burst, b.tokens+give)
	if last {
		// The reservation before r is due no later than r's tokens before r.
		b.tail = r.At.Add(-policy.Seconds(r.Tokens / b.state.RateAt(r.At)))
	}
	return nil
}

// Apply runs one policy step; see [Bucket.Apply].
func (b *Local) Apply(_ context.Context, p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State, err error) {
	b.mu.Lock()
	// p.Next is caller code: never leave the lock held.
	defer b.mu.Unlock()
	if !b.init {
		return prev, next, ErrUninitialized
	}
	b.advance(now)
	prev = b.state
	// Pace changes nothing when the outcome carries no quota hints.
	next = policy.Sanitize(prev, policy.Pace(p.Next(prev, o, now), o.Signal, now))
	if next.Epoch != prev.Epoch {
		b.tokens, b.tail = 0, time.Time{}
		if next.CooldownUntil.After(b.last) {
			b.last = next.CooldownUntil
		}
	}
	b.tokens = math.Min(b.tokens, next.Burst)
	if next.Paced(now) {
		// Spend what the upstream has left evenly: no burst of saved
		// tokens into a window that can no longer take it.
		b.tokens = math.Min(b.tokens, 1)
	}
	b.state = next
	return prev, next, nil
}

// Peek returns the state and the tokens at now.
func (b *Local) Peek(_ context.Context, now time.Time) (Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		return Status{}, ErrUninitialized
	}
	tokens := b.tokens
	if now.After(b.last) {
		tokens = b.refilled(now)
	}
	st := Status{State: b.state}
	if tokens >= 0 {
		st.Tokens = tokens
	} else {
		st.Reserved = -tokens
	}
	return st, nil
}

// isLatest reports whether a reservation due at at, canceled at now, is
// the latest of its epoch, whose instant is tail, as [Bucket.Cancel] says:
// at and tail within a microsecond, or 2^-50 of the wait (8µs 292 years
// ahead). Cancel moves tail back by a reservation's tokens, truncating to
// the nanosecond: an exact comparison would take the latest reservation
// for an earlier one over a nanosecond, and give nothing back.
func isLatest(at, tail, now time.Time) bool {
	tol := max(time.Microsecond, at.Sub(now)>>50)
	d := at.Sub(tail)
	return d >= -tol && d <= tol
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
