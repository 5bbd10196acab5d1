package breaker

import (
	"strconv"
	"time"
)

// State is the position of a circuit.
type State uint8

const (
	// Closed lets every call through and counts failures.
	Closed State = iota
	// Open refuses every call until its interval is over.
	Open
	// HalfOpen lets a few probes through; their outcome closes or reopens
	// the circuit.
	HalfOpen
)

var stateNames = [...]string{"closed", "open", "half_open"}

// String returns "closed", "open" or "half_open", as used in logs and metric
// attributes.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Change describes one transition, as passed to the callback of
// [WithOnStateChange].
type Change struct {
	// Name is the breaker's name (see [WithName]).
	Name string
	// From and To are the states before and after.
	From, To State
	// At is the instant of the transition. For Open → HalfOpen, which
	// happens lazily, it is the instant the open interval ended, not the
	// later one at which the breaker noticed.
	At time.Time
	// OpenUntil is when the circuit will let a probe through, when To is
	// Open; the zero time otherwise.
	OpenUntil time.Time
	// Trips is the number of consecutive trips so far: 1 on the first
	// opening, one more on each reopening from HalfOpen, 0 once closed.
	Trips int
}

// Snapshot is a breaker's state and counters at one instant.
type Snapshot struct {
	// State is the state at the instant of the snapshot.
	State State
	// ConsecutiveFailures is the number of failures in a row while Closed.
	ConsecutiveFailures int
	// Trips is the number of consecutive trips (see [Change.Trips]).
	Trips int
	// OpenUntil is when the circuit will let a probe through, when State is
	// Open; the zero time otherwise.
	OpenUntil time.Time
	// ProbesOut is the number of probes in flight, when State is HalfOpen.
	ProbesOut int
	// Allowed counts the calls let through, probes included.
	Allowed uint64
	// Rejected counts the calls refused.
	Rejected uint64
	// Opened counts the transitions to Open.
	Opened uint64
}
