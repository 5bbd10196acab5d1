package httpadapter

import (
	"errors"
	"strconv"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
)

// ErrRetriesExhausted matches, with errors.Is, an [*Error] returned because
// every allowed attempt was throttled or found the upstream overloaded.
var ErrRetriesExhausted = errors.New("httpadapter: retries exhausted")

// ErrWaitTooLong matches, with errors.Is, an [*Error] returned because the
// wait before the next attempt would pass the request's deadline or the
// Transport's max wait. It also matches dynlimit.ErrWaitTooLong.
var ErrWaitTooLong = errors.New("httpadapter: wait too long")

// Error is returned by the Transport when it gives up on a request that was
// throttled or found the upstream overloaded, or that the circuit breaker
// refused (errors.Is(err, breaker.ErrOpen), and errors.As finds the
// *breaker.CircuitOpenError). It carries what a caller needs
// to decide what to do next. The last response, if any, has been drained and
// closed (see [WithReturnLastResponse] to get it instead).
type Error struct {
	// Method and URL identify the request. The URL is redacted as
	// [RedactURL] does: scheme, host and the path as a route template
	// ([RouteTemplate]), without user info, query or fragment, so that no
	// credential in any of them (a webhook's secret path, a token in the
	// query) ends up in logs through the error.
	Method, URL string
	// Attempts is the number of attempts made.
	Attempts int
	// StatusCode is the status of the last response; 0 when the last
	// attempt got no response.
	StatusCode int
	// RetryAfter is the Retry-After of the last response, capped at the
	// limiter's max pause (dynlimit.WithMaxPause); 0 when it sent none.
	RetryAfter time.Duration
	// RetryAt is the earliest instant at which another attempt could go;
	// zero when unknown.
	RetryAt time.Time
	// Err is the cause: the last transport error, or the
	// *dynlimit.WaitError of a permit that could not be had in time.
	Err error

	sentinel error
}

func (e *Error) Error() string {
	msg := "httpadapter: " + e.Method + " " + e.URL + ": "
	switch {
	case errors.Is(e.sentinel, ErrWaitTooLong):
		msg += "gave up waiting"
	case errors.Is(e.sentinel, breaker.ErrOpen):
		msg += "circuit open"
	default:
		msg += "retries exhausted"
	}
	msg += " after " + strconv.Itoa(e.Attempts) + " attempt"
	if e.Attempts != 1 {
		msg += "s"
	}
	if e.StatusCode != 0 {
		msg += ", last status " + strconv.Itoa(e.StatusCode)
	}
	if e.RetryAfter > 0 {
		msg += ", retry-after " + e.RetryAfter.String()
	}
	if !e.RetryAt.IsZero() {
		msg += ", next attempt possible at " + e.RetryAt.Format(time.RFC3339Nano)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's kind; a wait too long
// also matches dynlimit.ErrWaitTooLong.
func (e *Error) Is(target error) bool {
	//nolint:errorlint // sentinels are compared by identity
	return target == e.sentinel || e.sentinel == ErrWaitTooLong && target == dynlimit.ErrWaitTooLong
}
