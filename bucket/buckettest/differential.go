package buckettest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// RunDifferential runs the differential property: the bucket newBucket
// returns must decide as [bucket.Local], the reference, does. For each of
// a fixed set of seeds it initializes a fresh Local and a fresh bucket
// under test with one policy's starting state and drives both with the
// same random sequence of calls at the same instants: takes of random
// sizes and bounds, cancels and confirms of the reservations both granted,
// peeks, takes of invalid sizes, and policy steps on random outcomes,
// among them extreme ones: Retry-After of 0, of milliseconds, of hours, of
// centuries and up to the largest Duration (what a header of 99999999999
// seconds or an HTTP-date after 2318 parses to), and quota hints with
// Remaining 0, 1 or more and a reset from 0 to the largest Duration.
//
// The policies are AIMD (two of them), Fixed, CUBIC (two), and an AIMD
// whose steps also move Since, Updated and Measured, as a policy whose
// growth depends on time does: a shared bucket writes the successes of the
// first and the last as changes of the rate, and CUBIC's as whole states.
//
// Every answer is compared: a take must be granted or refused alike, in
// the same epoch, and be due at the same instant; a policy step must leave
// the same state, cooldown, quota window, since, updated and measured rate
// included; a peek must see the same state and tokens. Rates may differ by rounding, instants by a
// millisecond, token counts by what accrues in a millisecond at the
// highest rate the sequence reached; and a reservation's instant by a
// millisecond plus the time that many tokens take to accrue at the slowest
// rate in force, which is long when a quota paces the bucket at a unit per
// century (a bucket that keeps instants centuries ahead in doubles holds
// them to microseconds, and at that pace a microsecond's worth of tokens
// is hours). Nothing else may differ. The first difference fails the
// seed's subtest, with the calls that led to it. Once the two hold a
// reservation due more than a millisecond apart, how much a cancel gives
// back (what later reservations stand on) differs as much, and no cancel
// is made until a congestion event has forfeited it.
//
// newBucket has the contract of [Run]'s: a bucket never initialized that
// shares no state with any other. The sequence's instants start at
// 2026-01-01 00:00 UTC and are made up, so a bucket that has a clock of
// its own must be given the caller's.
func RunDifferential(t *testing.T, newBucket func(t *testing.T) bucket.Bucket) {
	t.Helper()
	policies := []policy.Policy{
		policy.AIMD{
			Rate: 4, Burst: 5, IncreaseFactor: 0.25, DecreaseFactor: 0.5,
			MinRate: 0.5, MaxRate: 20, CooldownMultiplier: 1.5,
		},
		policy.DefaultAIMD(),
		policy.Fixed{Rate: 2.5, Burst: 3},
		policy.DefaultCUBIC(),
		timed{policy.DefaultAIMD()},
		policy.CUBIC{Rate: 2, Burst: 4, MinRate: 0.5, MaxRate: 20, Beta: 0.5, ScaleConstant: 2, Smooth: 0.5},
	}
	for seed := range uint64(diffSeeds()) {
		p := policies[seed%uint64(len(policies))]
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			d := newDiff(t, seed, p, bucket.NewLocal(), newBucket(t))
			d.run(steps())
		})
	}
}

// diffSeeds is the number of sequences RunDifferential runs: a sequence
// costs little, and the extreme hints need many to be met early and late.
func diffSeeds() int {
	if testing.Short() {
		return 8
	}
	return 64
}

// diff drives a reference and a bucket under test alike.
type diff struct {
	t        *testing.T
	rng      *rand.Rand
	p        policy.Policy
	ref, sub harness
	now      time.Time
	// held are the reservations both granted: the reference's and the
	// subject's, at the same index.
	held [][2]bucket.Reservation
	// extreme is the probability that a policy step's outcome carries an
	// extreme hint: once one did, the rest of the sequence is mostly
	// waits behind it, so some seeds see it early and others late.
	extreme float64
	// maxRate is the highest rate the reference reached, for the token
	// tolerance.
	maxRate float64
	// loose is set when the two granted a reservation of epoch looseEpoch
	// due more than farTolerance apart: cancels wait for the next epoch.
	loose      bool
	looseEpoch uint64
	log        []string
}

func newDiff(t *testing.T, seed uint64, p policy.Policy, ref, sub bucket.Bucket) *diff {
	d := &diff{
		t:   t,
		rng: rand.New(rand.NewPCG(seed, 3)),
		p:   p,
		ref: harness{t: t, b: ref},
		sub: harness{t: t, b: sub},
		now: t0,
	}
	d.extreme = []float64{0.01, 0.05}[seed%2]
	s := p.Initial()
	d.maxRate = s.Rate
	d.ref.init(t0, s)
	d.sub.init(t0, s)
	d.note("Init(%+v)", s)
	return d
}

func (d *diff) note(format string, args ...any) {
	d.log = append(d.log, rel(d.now)+": "+fmt.Sprintf(format, args...))
}

// fail reports a difference with the calls that led to it, and stops.
func (d *diff) fail(format string, args ...any) {
	d.t.Helper()
	from := max(0, len(d.log)-12)
	d.t.Fatalf("%s\nreference: bucket.Local; the last calls:\n\t%s", fmt.Sprintf(format, args...), strings.Join(d.log[from:], "\n\t"))
}

func (d *diff) run(steps int) {
	d.t.Helper()
	for range steps {
		d.now = d.now.Add(randomStep(d.rng))
		switch op := d.rng.IntN(100); {
		case op < 40:
			d.take()
		case op < 48:
			d.cancel()
		case op < 55:
			d.confirm()
		case op < 85:
			d.apply()
		case op < 90:
			d.invalidTake()
		default:
			d.peek()
		}
	}
	d.peek()
}

// tokenSlack is how far token counts may be from the reference's: what
// accrues in farTolerance at the highest rate the sequence reached, and
// rounding.
func (d *diff) tokenSlack(burst float64) float64 {
	return d.maxRate*farTolerance.Seconds() + tokenTolerance*math.Max(1, burst)
}

func (d *diff) take() {
	d.t.Helper()
	st := d.ref.peek(d.now).State
	n, maxWait := randomN(d.rng, st.Burst), randomWait(d.rng)
	d.note("Take(%v, %s)", n, waitString(maxWait))
	r := d.ref.take(d.now, n, maxWait)
	s := d.sub.take(d.now, n, maxWait)
	// The slowest rate in force until the reservation is due: the
	// quota's, if it paces the bucket now.
	slowest := st.Rate
	if st.Paced(d.now) {
		slowest = st.QuotaRate
	}
	slack := farTolerance + policy.Seconds(d.tokenSlack(st.Burst)/slowest)
	if diff := r.At.Sub(s.At); r.OK != s.OK || r.Epoch != s.Epoch || diff < -slack || diff > slack {
		d.fail("Take(%s, %v, %s) = OK %v at %s in epoch %d; the reference's: OK %v at %s in epoch %d",
			rel(d.now), n, waitString(maxWait), s.OK, rel(s.At), s.Epoch, r.OK, rel(r.At), r.Epoch)
	}
	if r.OK {
		d.held = append(d.held, [2]bucket.Reservation{r, s})
		if !nearInstant(r.At, s.At) {
			d.loose, d.looseEpoch = true, r.Epoch
		}
	}
}

func (d *diff) pick() ([2]bucket.Reservation, bool) {
	if len(d.held) == 0 {
		return [2]bucket.Reservation{}, false
	}
	return d.held[d.rng.IntN(len(d.held))], true
}

func (d *diff) cancel() {
	d.t.Helper()
	rs, ok := d.pick()
	if !ok {
		return
	}
	if d.loose {
		if d.ref.peek(d.now).State.Epoch == d.looseEpoch {
			return
		}
		d.loose = false
	}
	d.note("Cancel(the reservation due at %s)", rel(rs[0].At))
	d.ref.cancel(d.now, rs[0])
	d.sub.cancel(d.now, rs[1])
}

func (d *diff) confirm() {
	d.t.Helper()
	rs, ok := d.pick()
	if !ok {
		return
	}
	d.note("Confirm(the reservation due at %s)", rel(rs[0].At))
	if r, s := d.ref.confirm(d.now, rs[0]), d.sub.confirm(d.now, rs[1]); r != s {
		d.fail("Confirm(%s) of a reservation of epoch %d = %v; the reference's: %v", rel(d.now), rs[1].Epoch, s, r)
	}
}

func (d *diff) invalidTake() {
	d.t.Helper()
	burst := d.ref.peek(d.now).State.Burst
	n := []float64{0, -1, math.NaN(), math.Inf(1), burst + 0.5, burst * 2}[d.rng.IntN(6)]
	d.note("Take(%v): invalid", n)
	_, rerr := d.ref.b.Take(d.t.Context(), d.now, n, bucket.Forever)
	_, serr := d.sub.b.Take(d.t.Context(), d.now, n, bucket.Forever)
	var rb, sb *bucket.BurstError
	if !errors.As(rerr, &rb) || !errors.As(serr, &sb) || rb.Burst != sb.Burst {
		d.fail("Take(%s, %v) = %v; the reference's: %v", rel(d.now), n, serr, rerr)
	}
}

func (d *diff) apply() {
	d.t.Helper()
	epoch := d.ref.peek(d.now).State.Epoch
	if rs, ok := d.pick(); ok && d.rng.IntN(2) == 0 {
		epoch = rs[0].Epoch
	}
	o := d.outcome(epoch)
	d.note("Apply(%s)", outcomeString(o))
	rprev, rnext := d.ref.apply(d.p, o, d.now)
	sprev, snext := d.sub.apply(d.p, o, d.now)
	d.sameState("Apply's prev", sprev, rprev)
	d.sameState("Apply's next", snext, rnext)
	d.maxRate = math.Max(d.maxRate, rnext.Rate)
}

func (d *diff) peek() {
	d.t.Helper()
	d.note("Peek")
	r, s := d.ref.peek(d.now), d.sub.peek(d.now)
	d.sameState("Peek's state", s.State, r.State)
	tol := d.tokenSlack(r.State.Burst)
	if math.Abs(r.Tokens-s.Tokens) > tol || math.Abs(r.Reserved-s.Reserved) > tol {
		d.fail("Peek(%s) = %v tokens, %v reserved; the reference's: %v, %v", rel(d.now), s.Tokens, s.Reserved, r.Tokens, r.Reserved)
	}
}

// sameState fails on a state that differs from the reference's want beyond
// rounding.
func (d *diff) sameState(what string, got, want policy.State) {
	d.t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	if got.Epoch != want.Epoch || got.Burst != want.Burst || !near(got.Rate, want.Rate) ||
		!near(got.QuotaRate, want.QuotaRate) || !near(got.Ceiling, want.Ceiling) || !near(got.Measured, want.Measured) ||
		!nearInstant(got.CooldownUntil, want.CooldownUntil) || !nearInstant(got.QuotaUntil, want.QuotaUntil) ||
		!nearInstant(got.Since, want.Since) || !nearInstant(got.Updated, want.Updated) {
		d.fail("%s at %s: %s\nthe reference's: %s", what, rel(d.now), stateString(got), stateString(want))
	}
}

// outcome returns a random outcome of a permit of epoch.
func (d *diff) outcome(epoch uint64) policy.Outcome {
	rng := d.rng
	kinds := []signal.Kind{signal.Success, signal.Success, signal.Success, signal.Throttled, signal.Overloaded, signal.Failed, signal.Canceled}
	o := policy.Outcome{
		Signal: signal.Signal{Kind: kinds[rng.IntN(len(kinds))]},
		Epoch:  epoch,
		Tokens: 1,
		Count:  uint64(rng.IntN(4)),
	}
	extreme := rng.Float64() < d.extreme
	switch x := rng.IntN(6); {
	case extreme && x < 3:
		o.Signal.RetryAfter, o.Signal.HasRetryAfter = hugeSpan(rng), true
	case extreme:
		o.Signal.Quota = signal.Quota{Limit: 100, Remaining: float64(rng.IntN(3)), HasRemaining: true, Reset: hugeSpan(rng)}
	case x < 2:
		o.Signal.RetryAfter, o.Signal.HasRetryAfter = smallSpan(rng), true
	case x < 3:
		remaining := []float64{0, 1, float64(rng.IntN(50)), 1000}[rng.IntN(4)]
		o.Signal.Quota = signal.Quota{Limit: 100, Remaining: remaining, HasRemaining: true, Reset: smallSpan(rng), Refills: rng.IntN(2) == 0}
	case x < 4 && rng.IntN(4) == 0:
		o.Signal.TokenQuota = signal.Quota{Limit: 1e5, Remaining: 5e4, HasRemaining: true, Reset: time.Minute}
	}
	return o
}

// smallSpan is a Retry-After or quota reset as upstreams send them: 0
// (retry at once, or a window that just reset), milliseconds, seconds.
func smallSpan(rng *rand.Rand) time.Duration {
	switch rng.IntN(4) {
	case 0:
		return 0
	case 1:
		return time.Duration(rng.IntN(1000)) * time.Millisecond
	case 2:
		return time.Duration(rng.IntN(10)) * time.Second
	default:
		return time.Duration(rng.Int64N(int64(time.Minute)))
	}
}

// hugeSpan is a Retry-After or quota reset hours to centuries long, up to
// the largest Duration: what a header of 99999999999 seconds, a reset of
// 1e15 or an HTTP-date after 2318 parses to.
func hugeSpan(rng *rand.Rand) time.Duration {
	switch rng.IntN(6) {
	case 0:
		return time.Duration(rng.IntN(48)+1) * time.Hour
	case 1:
		return time.Duration(rng.IntN(290)+1) * year
	case 2:
		return 1 << 62
	case 3:
		return math.MaxInt64 - time.Duration(rng.Int64N(int64(time.Hour)))
	default:
		return math.MaxInt64
	}
}

func outcomeString(o policy.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v ×%d of epoch %d", o.Signal.Kind, o.N(), o.Epoch)
	if o.Signal.HasRetryAfter || o.Signal.RetryAfter != 0 {
		fmt.Fprintf(&b, ", Retry-After %v", o.Signal.RetryAfter)
	}
	if q := o.Signal.Quota; q.HasRemaining {
		fmt.Fprintf(&b, ", %v left, reset in %v", q.Remaining, q.Reset)
		if q.Refills {
			b.WriteString(", refilling")
		}
	}
	if o.Signal.TokenQuota.HasRemaining {
		b.WriteString(", token quota")
	}
	return b.String()
}

func stateString(s policy.State) string {
	return fmt.Sprintf("rate %v, burst %v, cooldown until %s, epoch %d, quota rate %v until %s, ceiling %v, since %s, measured %v at %s",
		s.Rate, s.Burst, rel(s.CooldownUntil), s.Epoch, s.QuotaRate, rel(s.QuotaUntil), s.Ceiling, rel(s.Since), s.Measured, rel(s.Updated))
}

// timed is an AIMD whose steps also move Since (to the last decrease, or
// the first outcome), Updated and Measured (a count of outcomes that halves
// every second), as a policy whose growth depends on time does. Its
// RateBounds are AIMD's, so a shared bucket writes its successes' steps as
// changes of the rate that carry the other three. A Count of k is k
// outcomes at one instant, as the contract of policy.Policy wants.
type timed struct{ policy.AIMD }

func (p timed) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	next := p.AIMD.Next(s, o, now)
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
