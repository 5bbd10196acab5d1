package dynlimit

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// Limiter paces calls to one upstream. Make one with [New]; the zero value is
// not usable. A Limiter is safe for concurrent use.
type Limiter struct {
	name      string
	policy    policy.Policy
	bucket    bucket.Bucket
	clock     clock.Clock
	maxWait   time.Duration // bucket.Forever when unbounded
	maxPause  time.Duration // the longest pause an upstream's signal may impose
	sem       chan struct{} // in-flight slots; nil when uncapped
	observers []Observer

	// mu guards the batch of plain successes reported through Done but
	// not yet shown to the policy. Done adds to it without the bucket or
	// the clock; the next permit request after flushEvery, any other
	// outcome, and Snapshot hand it to the policy as one Outcome with a
	// Count. It is what spares a shared bucket a round trip per success.
	// mu is never held while the bucket or the policy is called.
	mu sync.Mutex
	// epoch is the newest epoch the limiter has seen: the batch holds only
	// successes of permits of that epoch.
	epoch uint64
	// batched is the number of successes in the batch.
	batched uint64
	// lastFlush is the UnixNano of the last flush.
	lastFlush int64

	// changed is closed, and replaced, when a congestion event forfeits
	// the reservations or the rate rises to raiseStep times woke, the rate
	// when it was last closed (or the lowest since): waiters whose bucket
	// is a [bucket.Retimer] then ask for their new instants, or take again.
	// Guarded by mu.
	changed chan struct{}
	woke    float64
	// retimer is the bucket as a Retimer, or nil.
	retimer bucket.Retimer

	// burst is math.Float64bits of the burst after the last policy step,
	// for Burst to read without a lock.
	burst atomic.Uint64

	counters counters
}

// flushEvery bounds how long a success may wait in the batch when permits
// keep being requested. Below about a thousand permits a second every
// request flushes, so the policy sees each success before the next permit
// is granted, as if there were no batching.
const flushEvery = int64(time.Millisecond)

// raiseStep is how far the rate must rise before waiters look at their
// instants again. A reservation then waits at most a quarter longer than
// the rate in force allows, and a slow start from 5 to 1,000 req/s wakes
// them two dozen times, not once per success.
const raiseStep = 1.25

// counters count what a Snapshot reports.
type counters struct {
	granted   atomic.Uint64
	rejected  atomic.Uint64
	outcomes  [signal.NumKinds + 1]atomic.Uint64 // by Kind; the last for Kinds this package does not know
	increases atomic.Uint64
	decreases atomic.Uint64
}

// New returns a Limiter. With no options it runs [policy.DefaultAIMD] on a
// [bucket.Local] with the real clock, no in-flight cap and no max wait.
// An invalid option or policy parameter is an error that names it.
func New(opts ...Option) (*Limiter, error) {
	c := config{policy: policy.DefaultAIMD(), clock: clock.Real, maxPause: DefaultMaxPause}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&c); err != nil {
			return nil, err
		}
	}
	if err := c.policy.Validate(); err != nil {
		return nil, err
	}
	if c.bucket == nil {
		c.bucket = bucket.NewLocal()
	}
	l := &Limiter{
		name:      c.name,
		policy:    c.policy,
		bucket:    c.bucket,
		clock:     c.clock,
		maxWait:   bucket.Forever,
		maxPause:  c.maxPause,
		observers: c.observers,
	}
	if c.maxWait > 0 {
		l.maxWait = c.maxWait
	}
	if c.maxInFlight > 0 {
		l.sem = make(chan struct{}, c.maxInFlight)
	}
	l.retimer, _ = l.bucket.(bucket.Retimer)
	initial := l.policy.Initial()
	l.changed, l.woke = make(chan struct{}), initial.Rate
	if err := l.bucket.Init(context.Background(), l.clock.Now(), initial); err != nil {
		return nil, err
	}
	l.burst.Store(math.Float64bits(initial.Burst))
	return l, nil
}

// Burst returns the bucket's capacity as of the last policy step this
// limiter made (the policy's initial burst before the first): the most
// tokens one WaitN may ask for. It reads one atomic, where [Limiter.Snapshot]
// asks the bucket, which may be remote. A capacity changed under the limiter
// (by another process on a shared bucket, or a shared bucket's fallback)
// shows here after this limiter's next step, or after a WaitN, ReserveN or
// AllowN that asked for more than it.
func (l *Limiter) Burst() float64 { return math.Float64frombits(l.burst.Load()) }

// MaxPause returns the longest pause an upstream's signal may impose on the
// limiter (see [WithMaxPause]). A Transport caps the signals it acts on
// with it too, so that its retries and its errors agree with the limiter.
func (l *Limiter) MaxPause() time.Duration { return l.maxPause }

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Clock returns the limiter's clock.
func (l *Limiter) Clock() clock.Clock { return l.clock }

// Wait is shorthand for WaitN(ctx, 1).
func (l *Limiter) Wait(ctx context.Context) (Permit, error) { return l.WaitN(ctx, 1) }

// WaitN blocks until n tokens are available and no cooldown runs, then
// returns a Permit for them. The caller must call the Permit's Done once the
// call it paced has an outcome.
//
// When the wait would end after ctx's deadline or the limiter's max wait,
// WaitN returns a [*WaitError] at once, saying when capacity frees, and
// takes nothing. When ctx ends during the wait, WaitN returns ctx.Err() at
// once and gives the reserved tokens back. A waiter overtaken by a
// congestion event (a throttle reported by another caller) waits again under
// the new rate and cooldown, and a rate that rises during the wait ends it
// sooner (see [Limiter.RateChanged]). n must be > 0 and at most the burst.
func (l *Limiter) WaitN(ctx context.Context, n int) (Permit, error) {
	if n <= 0 {
		return Permit{}, badN(n)
	}
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	start := l.clock.Now()
	now := start
	if !l.tryAcquireSlot() {
		if err := l.waitSlot(ctx, start, n); err != nil {
			return Permit{}, err
		}
		now = l.clock.Now()
	}
	l.maybeFlush(now)
	for {
		// The max wait bounds the whole call, as a deadline would: the
		// time spent waiting for a slot, or for a reservation that a
		// congestion event forfeited, counts against it.
		bound, boundAt, isDeadline := l.maxWait, time.Time{}, false
		if bound != bucket.Forever {
			boundAt = start.Add(bound)
			bound = min(max(boundAt.Sub(now), 0), l.maxWait)
		}
		if dl, ok := ctx.Deadline(); ok {
			if d := dl.Sub(now); d < bound {
				bound, isDeadline = max(d, 0), true
				boundAt = now.Add(bound)
			}
		}
		r, err := l.bucket.Take(ctx, now, float64(n), bound)
		if err != nil {
			l.releaseSlot()
			return Permit{}, l.bucketError(now, err)
		}
		if !r.OK {
			l.releaseSlot()
			return Permit{}, l.reject(now, start, r, boundAt, isDeadline)
		}
		if !r.At.After(now) {
			return l.grant(now, r.Epoch, r.Tokens), nil
		}
		now, err = l.sleep(ctx, now, r)
		if err != nil {
			l.releaseSlot()
			return Permit{}, err
		}
		ok, err := l.bucket.Confirm(ctx, now, r)
		if err != nil {
			l.releaseSlot()
			return Permit{}, l.bucketError(now, err)
		}
		if ok {
			return l.grant(now, r.Epoch, r.Tokens), nil
		}
		// A congestion event forfeited the reservation: take again, under
		// the new rate and cooldown.
	}
}

// sleep waits until r is due or until ctx ends, in which case it gives r
// back. r is due at r.At, or earlier when the rate rises meanwhile and the
// bucket can tell ([bucket.Retimer]).
func (l *Limiter) sleep(ctx context.Context, now time.Time, r bucket.Reservation) (time.Time, error) {
	// A change between the Take and this read is seen at the next one: the
	// instant is then computed from all that accrued since the Take.
	var changed <-chan struct{}
	if l.retimer != nil {
		changed = l.RateChanged()
	}
	t := l.clock.NewTimer(r.At.Sub(now))
	defer t.Stop()
	for {
		select {
		case <-t.C():
			return l.clock.Now(), nil
		case <-changed:
			changed = l.RateChanged()
			now = l.clock.Now()
			due, err := l.retimer.Due(ctx, now, r)
			if err != nil {
				continue // r.At still holds
			}
			if !due.After(now) {
				return now, nil // due, or forfeited: Confirm tells
			}
			t.Reset(due.Sub(now))
		case <-ctx.Done():
			// The tokens go back even though ctx has ended: a remote bucket
			// needs a live context to hear about it.
			_ = l.bucket.Cancel(context.WithoutCancel(ctx), l.clock.Now(), r)
			return time.Time{}, ctx.Err()
		}
	}
}

// RateChanged returns a channel that is closed at the next change of the
// rate that moves waiting reservations: a congestion event, which forfeits
// them, or a rise to a quarter above the rate when the channel was last
// closed (or the lowest it has been since). A caller holding a
// [Reservation] waits on it beside the reservation's delay and, when it
// closes, asks [Reservation.DelayFrom] again: a rate that rises while
// reservations wait makes them due sooner, and a forfeited one is due at
// once, for [Reservation.PermitAt] to say so. [Limiter.WaitN] does this
// itself. Only a bucket that can retime its reservations
// ([bucket.Retimer], as [bucket.Local] does) moves them; on any other the
// channel closes all the same and DelayFrom keeps its instant.
func (l *Limiter) RateChanged() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// retime closes changed if the waiters must look at their reservations
// again: a new epoch (fresh) forfeited them, or rate, the rate after a
// policy step (0 when not known), rose raiseStep above the rate they last
// woke at. l.mu is held.
func (l *Limiter) retime(fresh bool, rate float64) {
	if fresh || rate >= l.woke*raiseStep {
		close(l.changed)
		l.changed = make(chan struct{})
		if rate > 0 {
			l.woke = rate
		}
		return
	}
	if rate > 0 && rate < l.woke {
		l.woke = rate
	}
}

// waitSlot waits for an in-flight slot for a WaitN of n tokens asked for at
// start, for no longer than the max wait.
func (l *Limiter) waitSlot(ctx context.Context, start time.Time, n int) error {
	if l.maxWait == bucket.Forever {
		select {
		case l.sem <- struct{}{}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	t := l.clock.NewTimer(l.maxWait)
	defer t.Stop()
	select {
	case l.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		err := &WaitError{Now: start, Bound: start.Add(l.maxWait)}
		l.counters.rejected.Add(1)
		if l.observers != nil {
			l.emit(Event{Kind: EventRejected, Time: l.clock.Now(), Tokens: float64(n), Err: err})
		}
		return err
	}
}

func (l *Limiter) tryAcquireSlot() bool {
	if l.sem == nil {
		return true
	}
	select {
	case l.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l *Limiter) releaseSlot() {
	if l.sem != nil {
		select {
		case <-l.sem:
		default: // more Done calls than permits; do not block
		}
	}
}

func (l *Limiter) grant(now time.Time, epoch uint64, tokens float64) Permit {
	l.counters.granted.Add(1)
	l.observe(epoch, 0, now)
	return Permit{l: l, issued: now, epoch: epoch, tokens: tokens}
}

// maybeFlush hands the batched successes to the policy if flushEvery has
// passed since the last flush (or the clock went back).
func (l *Limiter) maybeFlush(now time.Time) {
	l.mu.Lock()
	if l.batched == 0 || !l.flushDue(now) {
		l.mu.Unlock()
		return
	}
	epoch, k := l.emptyBatch(now)
	l.mu.Unlock()
	l.applyBatch(now, epoch, k)
}

// flush hands the batched successes to the policy as one outcome.
func (l *Limiter) flush(now time.Time) {
	l.mu.Lock()
	epoch, k := l.emptyBatch(now)
	l.mu.Unlock()
	l.applyBatch(now, epoch, k)
}

// flushDue reports whether flushEvery has passed since the last flush, or
// the clock went back. l.mu is held.
func (l *Limiter) flushDue(now time.Time) bool {
	t := now.UnixNano()
	return t < l.lastFlush || t-l.lastFlush >= flushEvery
}

// emptyBatch empties the batch, at now, and returns its epoch and number
// of successes. l.mu is held.
func (l *Limiter) emptyBatch(now time.Time) (epoch, k uint64) {
	k = l.batched
	l.batched, l.lastFlush = 0, now.UnixNano()
	return l.epoch, k
}

// addToBatch counts one success of a permit of the given epoch, if that is
// the batch's epoch.
func (l *Limiter) addToBatch(epoch uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if epoch != l.epoch {
		return false
	}
	l.batched++
	return true
}

// observe makes e the limiter's epoch if it is newer than the one it knew,
// and wakes the waiters if that or rate, the rate after a policy step (0
// when not known), calls for it (see retime). Successes still batched under
// the old epoch are handed to the policy as what they are: outcomes of
// permits of an older epoch.
func (l *Limiter) observe(e uint64, rate float64, now time.Time) {
	l.mu.Lock()
	l.retime(e > l.epoch, rate)
	if e <= l.epoch {
		l.mu.Unlock()
		return
	}
	old, k := l.epoch, l.batched
	l.epoch, l.batched = e, 0
	l.mu.Unlock()
	l.applyBatch(now, old, k)
}

// applyBatch hands k successes of permits of the given epoch to the policy,
// if k > 0.
func (l *Limiter) applyBatch(now time.Time, epoch, k uint64) {
	if k == 0 {
		return
	}
	l.counters.outcomes[signal.Success].Add(k)
	l.apply(now, policy.Outcome{Epoch: epoch, Tokens: 1, Count: k})
}

// reject refuses, at now, a wait asked for at asked.
func (l *Limiter) reject(now, asked time.Time, r bucket.Reservation, bound time.Time, isDeadline bool) error {
	err := &WaitError{Now: asked, RetryAt: r.At, Bound: bound, Deadline: isDeadline}
	l.counters.rejected.Add(1)
	if l.observers != nil {
		l.emit(Event{Kind: EventRejected, Time: now, Tokens: r.Tokens, Err: err})
	}
	return err
}

func (l *Limiter) bucketError(now time.Time, err error) error {
	var be *bucket.BurstError
	if errors.As(err, &be) {
		// The bucket's capacity changed under the limiter (a shared
		// bucket on its fallback, or one another process made): Burst
		// reports it from now on.
		if be.Burst >= 1 && !math.IsInf(be.Burst, 0) {
			l.burst.Store(math.Float64bits(be.Burst))
		}
		return err
	}
	if l.observers != nil {
		l.emit(Event{Kind: EventError, Time: now, Err: err})
	}
	return err
}

func (l *Limiter) emit(e Event) {
	e.Limiter = l.name
	for _, o := range l.observers {
		o.Observe(e)
	}
}

// Allow is shorthand for AllowN(time.Now(), 1) on the limiter's clock.
func (l *Limiter) Allow() (Permit, bool) { return l.AllowN(l.clock.Now(), 1) }

// AllowN returns a Permit for n tokens if they are available at now, no
// cooldown runs and an in-flight slot is free; it never blocks. An invalid
// n is never allowed.
func (l *Limiter) AllowN(now time.Time, n int) (Permit, bool) {
	if n <= 0 || !l.tryAcquireSlot() {
		return Permit{}, false
	}
	l.maybeFlush(now)
	r, err := l.bucket.Take(context.Background(), now, float64(n), 0)
	if err != nil || !r.OK {
		l.releaseSlot()
		if err != nil {
			_ = l.bucketError(now, err)
		}
		return Permit{}, false
	}
	return l.grant(now, r.Epoch, r.Tokens), true
}

// Reserve is shorthand for ReserveN(time.Now(), 1) on the limiter's clock.
func (l *Limiter) Reserve() (Reservation, error) { return l.ReserveN(l.clock.Now(), 1) }

// ReserveN reserves n tokens at now without blocking and says when they may
// be used. The caller waits until then and turns the reservation into a
// Permit with [Reservation.PermitAt], or gives it back with
// [Reservation.CancelAt]. When the reservation would be due after the
// limiter's max wait, ReserveN takes nothing and returns a [*WaitError].
// The in-flight cap applies when the reservation becomes a permit.
func (l *Limiter) ReserveN(now time.Time, n int) (Reservation, error) {
	if n <= 0 {
		return Reservation{}, badN(n)
	}
	l.maybeFlush(now)
	r, err := l.bucket.Take(context.Background(), now, float64(n), l.maxWait)
	if err != nil {
		return Reservation{}, l.bucketError(now, err)
	}
	if !r.OK {
		return Reservation{}, l.reject(now, now, r, now.Add(l.maxWait), false)
	}
	return Reservation{l: l, r: r}, nil
}

// Reservation is tokens held for a caller until their time comes; see
// [Limiter.ReserveN]. The zero Reservation holds nothing.
type Reservation struct {
	l *Limiter
	r bucket.Reservation
}

// OK reports whether the reservation holds tokens.
func (r Reservation) OK() bool { return r.l != nil }

// At returns the instant the tokens may be used, as it was when the
// reservation was made; [Reservation.DueAt] says when they may be now.
func (r Reservation) At() time.Time { return r.r.At }

// Epoch returns the epoch the reservation was made in.
func (r Reservation) Epoch() uint64 { return r.r.Epoch }

// DueAt returns the instant the tokens may be used, as of now: At, or
// earlier when the limiter's rate has risen since the reservation was made
// (see [Limiter.RateChanged]).
func (r Reservation) DueAt(now time.Time) time.Time {
	l := r.l
	if l == nil || l.retimer == nil || !r.r.At.After(now) {
		return r.r.At
	}
	due, err := l.retimer.Due(context.Background(), now, r.r)
	if err != nil {
		return r.r.At
	}
	return due
}

// DelayFrom returns how long after now the tokens may be used, as DueAt
// sees it; 0 if they already may.
func (r Reservation) DelayFrom(now time.Time) time.Duration {
	return max(r.DueAt(now).Sub(now), 0)
}

// CancelAt gives the tokens back, if their time has not come and no
// congestion event has forfeited them.
func (r Reservation) CancelAt(now time.Time) {
	if r.l != nil {
		_ = r.l.bucket.Cancel(context.Background(), now, r.r)
	}
}

// PermitAt turns the reservation into a Permit; call it once per
// reservation, since a Reservation is a value and cannot tell that it was
// already used. It fails with [ErrEarly]
// before [Reservation.DueAt], with [ErrForfeited] when a congestion event has
// happened since the reservation was made (reserve again), and with
// [ErrInFlight] when the in-flight cap is reached (the reservation stays
// good; try again when a permit is done).
func (r Reservation) PermitAt(now time.Time) (Permit, error) {
	l := r.l
	if l == nil {
		return Permit{}, ErrForfeited
	}
	if now.Before(r.DueAt(now)) {
		return Permit{}, ErrEarly
	}
	ok, err := l.bucket.Confirm(context.Background(), now, r.r)
	if err != nil {
		return Permit{}, l.bucketError(now, err)
	}
	if !ok {
		return Permit{}, ErrForfeited
	}
	if !l.tryAcquireSlot() {
		return Permit{}, ErrInFlight
	}
	return l.grant(now, r.r.Epoch, r.r.Tokens), nil
}

// Permit is the right to make one call (of Tokens tokens). Report its
// outcome with Done exactly once; the zero Permit's Done does nothing.
type Permit struct {
	l      *Limiter
	issued time.Time
	epoch  uint64
	tokens float64
}

// Epoch returns the epoch the permit was issued in.
func (p Permit) Epoch() uint64 { return p.epoch }

// Issued returns the instant the permit was granted.
func (p Permit) Issued() time.Time { return p.issued }

// Tokens returns the number of tokens the permit took.
func (p Permit) Tokens() float64 { return p.tokens }

// Done reports the outcome of the call the permit paced; see
// [Permit.DoneAt]. A plain success (no Retry-After, no quota hints) of a
// one-token permit on a limiter without observers does not even read the
// clock: it is counted in a batch the policy sees before the next permit.
func (p Permit) Done(sig signal.Signal) {
	l := p.l
	if l == nil {
		return
	}
	l.releaseSlot()
	if l.batchable(p, sig) && l.addToBatch(p.epoch) {
		return
	}
	l.doneSlow(p, l.clock.Now(), sig)
}

// DoneAt reports the outcome of the call the permit paced, at now, and
// releases its in-flight slot. The policy sees the outcome along with the
// permit's epoch, so a throttle on a permit issued before the last decrease
// does not decrease again. Done must be called once per permit: calling it
// again counts the outcome twice.
func (p Permit) DoneAt(now time.Time, sig signal.Signal) {
	l := p.l
	if l == nil {
		return
	}
	l.releaseSlot()
	if l.batchable(p, sig) && l.addToBatch(p.epoch) {
		// now is known: a flush due then goes with this success.
		l.maybeFlush(now)
		return
	}
	l.doneSlow(p, now, sig)
}

// batchable reports whether the batch can stand for sig. Status is left
// out: it is there for observers, and a limiter with observers does not
// batch; a success that carries its 200 is as plain as one that does not.
func (l *Limiter) batchable(p Permit, sig signal.Signal) bool {
	return p.tokens == 1 && l.observers == nil &&
		sig.Kind == signal.Success && sig.RetryAfter == 0 && !sig.HasRetryAfter &&
		!sig.Quota.Known() && !sig.TokenQuota.Known()
}

func (l *Limiter) doneSlow(p Permit, now time.Time, sig signal.Signal) {
	sig = sig.CapPauses(l.maxPause)
	// Batched successes happened before this outcome: the policy sees them
	// first.
	l.flush(now)
	// A Kind from a newer signal package still ends a permit: count it,
	// or the permit would stay in flight in every snapshot.
	l.counters.outcomes[min(int(sig.Kind), signal.NumKinds)].Add(1)
	next, ok := l.apply(now, policy.Outcome{Signal: sig, Epoch: p.epoch, Tokens: p.tokens, Count: 1})
	if ok && l.observers != nil {
		l.emit(Event{Kind: EventOutcome, Time: now, Signal: sig, Epoch: p.epoch, Tokens: p.tokens, State: next})
	}
}

// apply runs one policy step in the bucket and accounts for its effect.
func (l *Limiter) apply(now time.Time, o policy.Outcome) (policy.State, bool) {
	prev, next, err := l.bucket.Apply(context.Background(), l.policy, o, now)
	return next, l.stepped(now, prev, next, err)
}

// stepped accounts for a policy step from prev to next, or for the error
// that stopped it, and reports whether there was a step.
func (l *Limiter) stepped(now time.Time, prev, next policy.State, err error) bool {
	if err != nil {
		_ = l.bucketError(now, err)
		return false
	}
	l.burst.Store(math.Float64bits(next.Burst))
	if next.Rate > prev.Rate {
		l.counters.increases.Add(1)
	} else if next.Rate < prev.Rate {
		l.counters.decreases.Add(1)
	}
	l.observe(next.Epoch, next.Rate, now)
	if l.observers != nil && (next.Rate != prev.Rate || !next.CooldownUntil.Equal(prev.CooldownUntil) || next.Epoch != prev.Epoch) {
		l.emit(Event{Kind: EventRateChange, Time: now, Prev: prev, State: next})
	}
	return true
}
