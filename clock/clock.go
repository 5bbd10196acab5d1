package clock

import (
	"time"

	"github.com/dynlimit/dynlimit/internal/monotime"
)

// Clock tells the time and makes timers.
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current instant.
	Now() time.Time
	// NewTimer returns a Timer that fires once, d after Now. A d of zero or
	// less fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock, with the semantics of
// [time.Timer] since Go 1.23: Stop and Reset leave no stale value to drain.
type Timer interface {
	// C delivers the instant the timer fired.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether it stopped the
	// timer: false if it had been stopped, or had fired and its value was
	// received. A fired value nobody received is discarded, and counts as
	// stopped, as with time.Timer since Go 1.23.
	Stop() bool
	// Reset makes the timer fire d from now. It reports whether the timer was
	// active.
	Reset(d time.Duration) bool
}

// Real is the machine's clock, read through the monotonic clock: its Now is
// the wall time when the process started plus the monotonic time since.
//
// Pacing needs elapsed time, not the calendar: a Real reading never jumps
// when the system clock is stepped, and it costs one monotonic read instead
// of the two (wall and monotonic) of time.Now, which matters on the hot path
// of every permit. Its wall reading drifts from the system clock only by the
// steps and slews applied to the latter since the process started.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return monotime.At(monotime.Since()) }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
