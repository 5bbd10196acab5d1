package breaker

import (
	"errors"
	"strconv"
	"time"
)

// ErrOpen matches every [*CircuitOpenError] with errors.Is.
var ErrOpen = errors.New("breaker: circuit open")

// CircuitOpenError is returned by [Breaker.Allow] when the circuit refuses a
// call: it is open, or half-open with every probe in flight. It is returned
// before any request is made.
type CircuitOpenError struct {
	// Name is the breaker's name (see [WithName]).
	Name string
	// State is Open or HalfOpen.
	State State
	// RetryAt is when the circuit will let a probe through. It is the zero
	// time when State is HalfOpen: the next probe goes when one in flight
	// comes back, which cannot be known.
	RetryAt time.Time
}

// Error says which circuit refused, in which state and when it will probe.
func (e *CircuitOpenError) Error() string {
	msg := "breaker: circuit "
	if e.Name != "" {
		msg += strconv.Quote(e.Name) + " "
	}
	if e.State == HalfOpen {
		return msg + "half_open with all its probes in flight"
	}
	msg += e.State.String()
	if !e.RetryAt.IsZero() {
		msg += " until " + e.RetryAt.Format(time.RFC3339Nano)
	}
	return msg
}

// Is reports whether target is [ErrOpen].
func (e *CircuitOpenError) Is(target error) bool { return target == ErrOpen }

// ConfigError reports an invalid [Config] field or option, naming it and its
// value.
type ConfigError struct {
	// Field is the field's name in an override file, for example
	// "failure_threshold", or the option's name, for example "WithClock".
	Field string
	// Value is the rejected value, formatted.
	Value string
	// Reason says what a valid value looks like.
	Reason string
}

// Error names the field or option, the rejected value and the reason.
func (e *ConfigError) Error() string {
	return "breaker: " + e.Field + " = " + e.Value + ": " + e.Reason
}
