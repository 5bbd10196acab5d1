package dynlimit

import (
	"strconv"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/policy"
)

// Option configures a Limiter made by [New].
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	name        string
	policy      policy.Policy
	bucket      bucket.Bucket
	clock       clock.Clock
	maxInFlight int
	maxWait     time.Duration
	maxPause    time.Duration
	observers   []Observer
}

// WithName names the limiter; the name is carried by its events and
// snapshots. Default: "".
func WithName(name string) Option {
	return optionFunc(func(c *config) error { c.name = name; return nil })
}

// WithPolicy sets the policy that decides the rate. Default:
// [policy.DefaultAIMD]. The policy is validated by New.
func WithPolicy(p policy.Policy) Option {
	return optionFunc(func(c *config) error {
		if p == nil {
			return &ArgError{Name: "WithPolicy", Value: "nil", Reason: "must be a policy"}
		}
		c.policy = p
		return nil
	})
}

// WithBucket sets the bucket that holds the tokens and the state. Default: a
// new [bucket.Local]. New initializes it with the policy's initial state
// unless it already holds one.
func WithBucket(b bucket.Bucket) Option {
	return optionFunc(func(c *config) error {
		if b == nil {
			return &ArgError{Name: "WithBucket", Value: "nil", Reason: "must be a bucket"}
		}
		c.bucket = b
		return nil
	})
}

// WithClock sets the clock. Default: [clock.Real]. Tests and the simulator
// pass a [clock.Fake].
func WithClock(c clock.Clock) Option {
	return optionFunc(func(cfg *config) error {
		if c == nil {
			return &ArgError{Name: "WithClock", Value: "nil", Reason: "must be a clock"}
		}
		cfg.clock = c
		return nil
	})
}

// WithMaxInFlight caps the number of permits out at once (granted, not yet
// Done). 0, the default, means no cap.
func WithMaxInFlight(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return &ArgError{Name: "WithMaxInFlight", Value: strconv.Itoa(n), Reason: "must be >= 0"}
		}
		c.maxInFlight = n
		return nil
	})
}

// WithMaxWait bounds how long Wait may wait, whatever the context allows: a
// wait that would be longer fails at once with a [*WaitError]. 0, the
// default, means no bound other than the context's deadline.
func WithMaxWait(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return &ArgError{Name: "WithMaxWait", Value: d.String(), Reason: "must be >= 0"}
		}
		c.maxWait = d
		return nil
	})
}

// DefaultMaxPause is the default of [WithMaxPause]: an hour, the longest
// quota window the built-in APIs document (GitHub's hourly reset).
const DefaultMaxPause = time.Hour

// WithMaxPause caps any pause an upstream can impose on the limiter: a
// cooldown for a Retry-After, a cooldown until an exhausted quota's reset,
// and the pacing of a quota's remaining units until its reset. A longer
// Retry-After or reset, whatever its form (seconds, an HTTP-date, a Unix
// time, a duration string), is acted on as d: the limiter pauses for d
// and then lets the next request through, whose answer says again what
// the upstream wants. [Permit.Done] caps the signal it is given before the
// policy and the bucket see it, and reports the capped values, with
// [signal.Signal.PauseCapped] set, to its observers. Default:
// [DefaultMaxPause]. d must be > 0.
func WithMaxPause(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return &ArgError{Name: "WithMaxPause", Value: d.String(), Reason: "must be > 0"}
		}
		c.maxPause = d
		return nil
	})
}

// WithObserver adds observers that receive the limiter's events. They are
// called synchronously, in order, on the goroutine that caused the event,
// so they must be quick and must not call back into the limiter's blocking
// methods. Default: none, which costs nothing.
func WithObserver(obs ...Observer) Option {
	return optionFunc(func(c *config) error {
		for _, o := range obs {
			if o == nil {
				return &ArgError{Name: "WithObserver", Value: "nil", Reason: "must be an observer"}
			}
		}
		c.observers = append(c.observers, obs...)
		return nil
	})
}
