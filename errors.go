package dynlimit

import (
	"errors"
	"strconv"
	"time"
)

// ErrWaitTooLong matches every [*WaitError] with errors.Is.
var ErrWaitTooLong = errors.New("dynlimit: wait too long")

// ErrInFlight is returned by [Reservation.PermitAt] when the limiter's
// in-flight cap is reached; the reservation stays good.
var ErrInFlight = errors.New("dynlimit: max in-flight reached")

// ErrForfeited is returned by [Reservation.PermitAt] when a congestion event
// (a rate decrease or a new cooldown) happened after the reservation was
// made: its tokens are forfeited and the caller must reserve again.
var ErrForfeited = errors.New("dynlimit: reservation forfeited by a congestion event")

// ErrEarly is returned by [Reservation.PermitAt] before the reservation's
// time.
var ErrEarly = errors.New("dynlimit: reservation used before its time")

// WaitError reports a wait that would end after the context's deadline or
// after the limiter's max wait. It is returned at once, without waiting, and
// nothing is reserved.
type WaitError struct {
	// Now is when the wait was asked for.
	Now time.Time
	// RetryAt is the earliest instant the request could have been granted,
	// had no one else asked in between. It is the zero time when the wait
	// was for an in-flight slot, whose release time is unknown.
	RetryAt time.Time
	// Bound is the instant the wait was not allowed to pass.
	Bound time.Time
	// Deadline is true when Bound is the context's deadline, false when it
	// is the limiter's max wait.
	Deadline bool
}

// Delay returns how long the request would have waited; 0 when unknown.
func (e *WaitError) Delay() time.Duration {
	if e.RetryAt.IsZero() {
		return 0
	}
	return e.RetryAt.Sub(e.Now)
}

func (e *WaitError) Error() string {
	bound := "the limiter's max wait"
	if e.Deadline {
		bound = "the context deadline"
	}
	if e.RetryAt.IsZero() {
		return "dynlimit: no in-flight slot freed before " + bound
	}
	return "dynlimit: wait of " + e.Delay().String() + " would pass " + bound +
		" (capacity frees at " + e.RetryAt.Format(time.RFC3339Nano) + ")"
}

// Is reports whether target is [ErrWaitTooLong].
func (e *WaitError) Is(target error) bool { return target == ErrWaitTooLong }

// ArgError reports an invalid argument or option, naming it and its value.
type ArgError struct {
	// Name is the argument or option, for example "n" or "WithMaxInFlight".
	Name string
	// Value is the rejected value, formatted.
	Value string
	// Reason says what a valid value looks like.
	Reason string
}

func (e *ArgError) Error() string {
	return "dynlimit: " + e.Name + " = " + e.Value + ": " + e.Reason
}

func badN(n int) error {
	return &ArgError{Name: "n", Value: strconv.Itoa(n), Reason: "must be > 0"}
}
