package dynlimit

import (
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// EventKind says what an [Event] reports.
type EventKind uint8

const (
	// EventOutcome reports that a permit came back through Done. Signal, Epoch and
	// Tokens describe it; State is the state after the policy saw it.
	EventOutcome EventKind = iota
	// EventRateChange reports that the policy changed the rate or the cooldown. Prev and
	// State are the states before and after.
	EventRateChange
	// EventRejected reports that a wait was refused because it would pass the context's
	// deadline or the max wait. Err is the [*WaitError].
	EventRejected
	// EventError reports that the bucket failed. Err says how.
	EventError
)

var eventKindNames = [...]string{"outcome", "rate_change", "rejected", "error"}

// String returns the lower-case name of k.
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return "event(?)"
}

// Event is what an [Observer] receives. Which fields are set depends on Kind.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Limiter is the limiter's name (see [WithName]).
	Limiter string
	// Time is the instant of the event, read from the limiter's clock.
	Time time.Time
	// Signal is the outcome a permit reported (EventOutcome), its pauses
	// capped at the limiter's max pause ([WithMaxPause]; PauseCapped says
	// when they were).
	Signal signal.Signal
	// Epoch is the epoch the permit was issued in (EventOutcome).
	Epoch uint64
	// Tokens is the number of tokens of the permit (EventOutcome) or of the
	// refused request (EventRejected).
	Tokens float64
	// Prev is the state before a change (EventRateChange).
	Prev policy.State
	// State is the state after the event (EventOutcome, EventRateChange).
	State policy.State
	// Err is the error of EventRejected and EventError.
	Err error
}

// Observer receives a limiter's events: one per permit outcome, one per
// rate or cooldown change, one per refused wait, one per bucket error.
// Logging, metrics and tracing plug in here.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }
