package bucket

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/dynlimit/dynlimit/policy"
)

// Forever is the maxWait of [Bucket.Take] that puts no bound on the wait.
const Forever = time.Duration(math.MaxInt64)

// ErrUninitialized is returned by a bucket used before Init.
var ErrUninitialized = errors.New("bucket: used before Init")

// Bucket stores tokens and a [policy.State] and changes them atomically.
//
// Implementations must be safe for concurrent use and must never block
// while holding a lock that another call needs. They honour the instant they
// are given; they do not read a clock of their own.
type Bucket interface {
	// Init gives the bucket its starting state, with a full bucket, unless it
	// already holds one (a shared bucket another process created keeps its
	// state). Calling Init again is harmless.
	Init(ctx context.Context, now time.Time, s policy.State) error

	// Take reserves n tokens at now, n > 0 and at most the burst. The
	// reservation's At is when they may be used: now if they are there,
	// later if the bucket must refill first or a cooldown runs. When At would
	// be more than maxWait after now, nothing is taken and the reservation
	// is returned with OK false and At set, so the caller knows when
	// capacity frees. Pass [Forever] for no bound.
	Take(ctx context.Context, now time.Time, n float64, maxWait time.Duration) (Reservation, error)

	// Confirm reports whether a reservation is still good at now: false
	// when a congestion event (a new epoch) has happened since it was made,
	// in which case its tokens are already forfeited and the caller must
	// take again.
	Confirm(ctx context.Context, now time.Time, r Reservation) (bool, error)

	// Cancel gives back the tokens of a reservation that will not be used.
	// Tokens whose time has come, and reservations of an older epoch, are
	// not given back; nor is the part of them that reservations taken later
	// were scheduled behind, since those keep their instants and new takes
	// beside them would exceed the burst. A reservation due within a
	// microsecond of the latest of its epoch, or within 2^-50 of its wait
	// (8µs 292 years ahead, where a double holds an instant to
	// microseconds), counts as the latest: all of its tokens come back.
	Cancel(ctx context.Context, now time.Time, r Reservation) error

	// Apply runs one step of p on the stored state, atomically with the
	// tokens: the bucket refills at the old rate up to now, then adopts
	// policy.Sanitize(prev, policy.Pace(p.Next(prev, o, now), o.Signal,
	// now)). When the epoch changes, the bucket is drained,
	// every pending reservation is forfeited, and the refill starts again at
	// the end of the cooldown. When the new state is paced by the upstream's
	// quota (State.Paced), the bucket keeps at most one token, so the quota
	// is spent evenly. It returns the states before and after.
	//
	// Refills always run at State.RateAt: the quota's rate until its window
	// resets, the policy's rate after.
	Apply(ctx context.Context, p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State, err error)

	// Peek returns the bucket's state and tokens at now, changing nothing.
	Peek(ctx context.Context, now time.Time) (Status, error)
}

// Retimer is implemented by a [Bucket] whose pending reservations come due
// earlier when the rate rises after they were taken. A reservation taken
// at 5 tokens a second behind a hundred others is due 20 s ahead; if the
// policy doubles the rate a second later, the bucket refills twice as fast
// and the reservation is due sooner. A Limiter whose bucket is a Retimer
// wakes its waiters when the rate rises and asks for their new instants
// ([bucket.Local] is one; a bucket that is not keeps the instants it
// handed out, which is safe and slower to follow a rising rate).
type Retimer interface {
	// Due returns the instant r may be used, as of now: r.At, or earlier
	// when the rate has risen since r was taken. It is never after r.At.
	// It is r.At for a reservation not taken (OK false) or whose time has
	// come, and now for one of an older epoch, which Confirm refuses. An
	// instant it returns is an estimate at the rates in force: a cooldown
	// or a quota imposed later can move it back, never beyond r.At.
	Due(ctx context.Context, now time.Time, r Reservation) (time.Time, error)
}

// CheckState reports whether s can start a bucket, as [Bucket.Init] wants
// it: a finite rate > 0 and a finite burst >= 1. The error is a
// *policy.Error naming the field and its value.
func CheckState(s policy.State) error {
	if s.Rate <= 0 || math.IsNaN(s.Rate) || math.IsInf(s.Rate, 0) {
		return &policy.Error{Field: "rate_limit_per_sec", Value: s.Rate, Reason: "must be a finite number > 0"}
	}
	if s.Burst < 1 || math.IsNaN(s.Burst) || math.IsInf(s.Burst, 0) {
		return &policy.Error{Field: "burst_size", Value: s.Burst, Reason: "must be a finite number >= 1"}
	}
	return nil
}

// Reservation is the answer of [Bucket.Take].
type Reservation struct {
	// OK reports whether the tokens were taken.
	OK bool
	// At is the instant the tokens may be used (OK) or would have been
	// available (not OK).
	At time.Time
	// Tokens is the number of tokens asked for.
	Tokens float64
	// Epoch is the epoch the reservation was made in.
	Epoch uint64
	// Mark is the bucket's own record of the reservation's place in line,
	// for a [Retimer] to tell when it comes due; zero from a bucket that
	// is not one.
	Mark float64
}

// Status is what [Bucket.Peek] sees.
type Status struct {
	// State is the adaptive state.
	State policy.State
	// Tokens is the number of tokens available now, within [0, Burst].
	Tokens float64
	// Reserved is the number of tokens reserved by waiters whose time has
	// not come.
	Reserved float64
	// Degraded is nil while the bucket answers as itself. A shared bucket
	// that answers from its local fallback, or fails open, because its
	// store is unreachable sets it to an error that says so and why (the
	// store's error); the state and tokens above are then the fallback's.
	Degraded error
}

// BurstError reports a request for more tokens than the bucket can ever hold,
// or for a number of tokens that is not > 0.
type BurstError struct {
	// N is the number of tokens asked for.
	N float64
	// Burst is the bucket's capacity.
	Burst float64
}

func (e *BurstError) Error() string {
	if !(e.N > 0) || math.IsInf(e.N, 0) {
		return "bucket: n = " + ftoa(e.N) + ": must be a finite number > 0"
	}
	return "bucket: n = " + ftoa(e.N) + " exceeds burst_size = " + ftoa(e.Burst)
}
