package bucket

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynlimit/dynlimit/internal/fmath"

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
//
// Besides the lock, a Local has a lock-free path for the commonest take of
// all, one token from a full bucket; see [Local.TryTakeOne].
type Local struct {
	mu     sync.Mutex
	init   bool
	state  policy.State
	tokens float64
	last   time.Time
	// tail is at or after the latest At handed out in the current epoch:
	// Cancel must not give back what later reservations stand on.
	tail time.Time

	// The fields below, up to the padding, belong to the lock-free path
	// and are guarded by mu; see fast.
	//
	// base is the origin of the fast path's instants, set by the first
	// Init and never changed: an instant t is the int64 t.Sub(base).
	base time.Time
	// span is fastSpan while the fast path is open: how long a bucket
	// holding burst - 1 tokens takes to be full again. spanRate and
	// spanBurst are the rate and burst it was computed for; spanOK says
	// whether there is one (a rate so low that the span overflows has none).
	span                int64
	spanRate, spanBurst float64
	spanOK              bool
	// pub is the word the lock published when it last opened the fast
	// path; when the word is still pub on closing, nobody took by it.
	// high is the highest word ever published or reached by a fast take:
	// the next opening publishes a higher one (see fast).
	pub, high int64

	// The fast path's words are written on every take of a busy limiter:
	// keep them off the line of the lock and the state.
	_ [64]byte

	// fast is the lock-free path's one word. 0 means closed: every take
	// goes through the lock. Otherwise it is an instant F, as an offset
	// from base: the bucket is full at every instant from F on, no
	// cooldown runs then, and the state the lock left (or the last fast
	// take made) is exact. A take at an instant n >= F finds a full bucket,
	// so it leaves burst - 1 tokens at n whatever came before; it
	// compare-and-swaps F for n + fastSpan, the instant that bucket is full
	// again. The lock holder closes the path by swapping 0 in and
	// reconstructs the tokens from the word it got back (see closeFast);
	// a fast take racing with it loses its compare-and-swap and goes
	// through the lock.
	//
	// The word never takes the same value twice: fast takes move it
	// forward, and each opening publishes a value above every one before.
	// So a compare-and-swap that succeeds proves that nothing, not even a
	// close and reopen with another rate or epoch, happened since its load,
	// and the fastSpan and fastEpoch it read after that load belong to
	// the word it replaced.
	fast atomic.Int64
	// fastSpan and fastEpoch are span and the epoch, stored before the
	// word that opens the path and unchanged until it is closed again.
	fastSpan  atomic.Int64
	fastEpoch atomic.Uint64
}

// fastLimit bounds the fast path's instants and spans so that n + span
// cannot overflow: about 146 years after base.
const fastLimit = int64(1) << 62

// fastOrigin is how far before the first Init base lies, so that the
// instants the fast path sees are positive and 0 can mean closed.
const fastOrigin = time.Duration(1) << 60

var _ Bucket = (*Local)(nil)

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
	b.base = now.Add(-fastOrigin)
	b.openFast()
	return nil
}

// TryTakeOne takes one token at now without the lock, if the bucket is
// full at now and no cooldown runs then; otherwise it takes nothing and
// reports false, and the caller calls [Local.Take]. When it reports true,
// the result is exactly that of Take(ctx, now, 1, maxWait) for any maxWait
// >= 0: a reservation, OK, at now, in the returned epoch, that leaves the
// bucket as Take would have left it.
//
// It covers the calls of a limiter that is not holding its callers back,
// which is most of them; a bucket that is drained, refilling, in a
// cooldown or paced by a quota goes through the lock. Instants are
// compared as offsets from the bucket's first one: mixing instants with
// and without a monotonic clock reading compares them differently, as it
// does for [time.Time] itself.
func (b *Local) TryTakeOne(now time.Time) (epoch uint64, ok bool) {
	w := b.fast.Load()
	if w == 0 {
		return 0, false
	}
	// base is written once, before the first word that opens the path: the
	// load above orders this read after that write.
	return b.tryTake(w, int64(now.Sub(b.base)))
}

// Origin returns the instant from which [Local.TryTakeOneAt] counts, fixed
// by the first Init; the zero Time before it.
func (b *Local) Origin() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.base
}

// TryTakeOneAt is TryTakeOne(b.Origin().Add(d)) without building the
// instant, for a caller that reads its clock as a duration since some
// instant e: it passes its reading minus b.Origin().Sub(e).
func (b *Local) TryTakeOneAt(d time.Duration) (epoch uint64, ok bool) {
	w := b.fast.Load()
	if w == 0 {
		return 0, false
	}
	return b.tryTake(w, int64(d))
}

// tryTake is the lock-free take at n, an offset from base, of a path that
// was open with the word w a moment ago.
func (b *Local) tryTake(w, n int64) (epoch uint64, ok bool) {
	for n >= w && n < fastLimit {
		// Read after the word: if the word is still w at the CAS, these
		// are the span and epoch stored before it was published.
		epoch, span := b.fastEpoch.Load(), b.fastSpan.Load()
		if b.fast.CompareAndSwap(w, n+span) {
			return epoch, true
		}
		if w = b.fast.Load(); w == 0 {
			break
		}
	}
	return 0, false
}

// closeFast shuts the lock-free path and brings tokens, last and tail up to
// date with the fast takes made since it was opened. b.mu is held; every
// method that reads or changes the tokens calls it first, and openFast
// before it lets go of the lock.
func (b *Local) closeFast() {
	// Only the lock holder opens the path: closed now, it stays closed,
	// and a plain load spares the swap's locked instruction.
	if b.fast.Load() == 0 {
		return
	}
	w := b.fast.Swap(0)
	if w == 0 || w == b.pub {
		return
	}
	// Fast takes happened; the last of them, at w - span, found the bucket
	// full and left burst - 1 tokens, as Take would have. Fast takes are
	// made at increasing instants, so it is also the latest: last and tail
	// are where the lock would have put them.
	at := b.base.Add(time.Duration(w - b.span))
	b.tokens, b.last = b.state.Burst-1, at
	if at.After(b.tail) {
		b.tail = at
	}
	b.high = max(b.high, w)
}

// openFast opens the lock-free path if the bucket will ever be full without
// a take, at the instant it will be, or later. b.mu is held and the path is
// closed.
//
// It leaves the path closed while waiters hold reservations (the tokens are
// below zero): every take then waits behind them and goes through the lock
// anyway, and the first take after they are served, through the lock too,
// opens it. A limiter kept at its rate by waiters, as the simulator's are,
// so skips the work of opening a path nobody can use after every call.
func (b *Local) openFast() {
	if b.tokens < 0 {
		return
	}
	s := &b.state
	// Paced at last, the refill would change rates on the way: the lock
	// handles it. Not paced at last, it runs at Rate from last on.
	if s.QuotaRate > 0 && s.QuotaRate < s.Rate && b.last.Before(s.QuotaUntil) {
		return
	}
	if s.Rate != b.spanRate || s.Burst != b.spanBurst {
		d, ok := fullIn(s.Burst-1, s.Rate, s.Burst)
		b.span, b.spanOK, b.spanRate, b.spanBurst = max(d, 1), ok && d < fastLimit, s.Rate, s.Burst
	}
	if !b.spanOK {
		return
	}
	d, ok := fullIn(b.tokens, s.Rate, s.Burst)
	last := int64(b.last.Sub(b.base))
	if !ok || d >= fastLimit || last <= -fastLimit || last >= fastLimit {
		return
	}
	f := last + d
	if !s.CooldownUntil.IsZero() {
		f = max(f, int64(s.CooldownUntil.Sub(b.base)))
	}
	f = max(f, b.high+1, 1)
	if f >= fastLimit {
		return
	}
	// Loads first: under the lock they see the last stores, and a span
	// and epoch that did not change need no store of their own.
	if b.fastSpan.Load() != b.span {
		b.fastSpan.Store(b.span)
	}
	if b.fastEpoch.Load() != s.Epoch {
		b.fastEpoch.Store(s.Epoch)
	}
	b.pub, b.high = f, f
	b.fast.Store(f) // publishes the two stores above
}

// fullIn returns a span of whole nanoseconds after which a bucket holding
// tokens, refilled at rate by refilled, holds exactly burst; not
// necessarily the shortest, but never shorter. ok is false when there is
// no such span that fits an int64 comfortably.
func fullIn(tokens, rate, burst float64) (d int64, ok bool) {
	if tokens >= burst {
		return 0, true
	}
	est := (burst - tokens) / rate * 1e9
	if !(est < float64(fastLimit)) {
		return 0, false
	}
	d = int64(est) + 1
	for range 8 {
		// refilled computes math.Min(burst, tokens+rate*secs), which the
		// compiler may or may not fuse into one multiply-add: the span must
		// reach burst both ways.
		secs := time.Duration(d).Seconds()
		if tokens+float64(rate*secs) >= burst && math.FMA(rate, secs, tokens) >= burst {
			return d, true
		}
		d += d>>20 + 1
	}
	return 0, false
}

// advance refills the bucket up to now. b.mu is held.
func (b *Local) advance(now time.Time) {
	if now.After(b.last) {
		b.tokens = b.refilled(now)
		b.last = now
	}
}

// refilled returns the tokens at now, which is after b.last: at the quota's
// rate until its window resets, at the policy's after. b.mu is held.
func (b *Local) refilled(now time.Time) float64 {
	s, from, tokens := &b.state, b.last, b.tokens
	rate := s.Rate
	if s.QuotaRate > 0 { // no quota hints, the usual case: no call, no copy of the state
		if s.Paced(from) && s.QuotaUntil.Before(now) {
			tokens += s.QuotaRate * s.QuotaUntil.Sub(from).Seconds()
			from = s.QuotaUntil
		}
		rate = s.RateAt(from)
	}
	return fmath.Min(s.Burst, tokens+rate*now.Sub(from).Seconds())
}

// Take reserves n tokens; see [Bucket.Take].
func (b *Local) Take(_ context.Context, now time.Time, n float64, maxWait time.Duration) (Reservation, error) {
	b.mu.Lock()
	if !b.init {
		b.mu.Unlock()
		return Reservation{}, ErrUninitialized
	}
	if !(n > 0) || n > b.state.Burst {
		burst := b.state.Burst
		b.mu.Unlock()
		return Reservation{}, &BurstError{N: n, Burst: burst}
	}
	b.closeFast()
	b.advance(now)
	// last can be a little after now when a concurrent caller read the clock
	// later but took first: that is not a wait. Only a cooldown is.
	at := now
	if b.state.CooldownUntil.After(now) {
		at = b.state.CooldownUntil
	}
	if need := n - b.tokens; need > 0 {
		// Truncated to the nanosecond, as x/time/rate does: rounding up
		// would make a bucket refilled in steps refuse, by a nanosecond, the
		// tokens that float arithmetic left a hair short.
		// b.state.Accrual(need, at), without a copy of the state for the
		// call when no quota paces the bucket.
		var d time.Duration
		if b.state.Paced(at) {
			d = b.state.Accrual(need, at)
		} else {
			d = policy.Seconds(need / b.state.Rate)
		}
		at = at.Add(d)
	}
	r := Reservation{At: at, Tokens: n, Epoch: b.state.Epoch}
	// Sub saturates at Forever: an unbounded wait needs no subtraction.
	if maxWait == Forever || at.Sub(now) <= maxWait {
		b.tokens -= n
		r.OK = true
		if at.After(b.tail) {
			b.tail = at
		}
	}
	b.openFast()
	b.mu.Unlock()
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
	b.closeFast()
	defer b.openFast()
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
	if !b.init {
		b.mu.Unlock()
		return prev, next, ErrUninitialized
	}
	b.closeFast()
	// p.Next is caller code: never leave the lock held, nor the lock-free
	// path closed. One deferred call does both.
	defer b.openAndUnlock()
	b.advance(now)
	prev = b.state
	// Pace changes nothing when the outcome carries no quota hints.
	next = policy.Sanitize(prev, policy.Pace(p.Next(prev, o, now), o.Signal.Quota, now))
	if next.Epoch != prev.Epoch {
		b.tokens, b.tail = 0, time.Time{}
		if next.CooldownUntil.After(b.last) {
			b.last = next.CooldownUntil
		}
	}
	b.tokens = fmath.Min(b.tokens, next.Burst)
	if next.Paced(now) {
		// Spend what the upstream has left evenly: no burst of saved
		// tokens into a window that can no longer take it.
		b.tokens = fmath.Min(b.tokens, 1)
	}
	b.state = next
	return prev, next, nil
}

// openAndUnlock opens the lock-free path and lets go of the lock.
func (b *Local) openAndUnlock() {
	b.openFast()
	b.mu.Unlock()
}

// Peek returns the state and the tokens at now.
func (b *Local) Peek(_ context.Context, now time.Time) (Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		return Status{}, ErrUninitialized
	}
	b.closeFast()
	defer b.openFast()
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
