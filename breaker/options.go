package breaker

import "github.com/dynlimit/dynlimit/clock"

// Option configures a Breaker made by [New].
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	clock    clock.Clock
	name     string
	onChange func(Change)
}

// WithClock sets the clock. Default: [clock.Real]. Tests and the simulator
// pass a [clock.Fake]. A nil clock makes New fail.
func WithClock(c clock.Clock) Option {
	return optionFunc(func(o *options) error {
		if c == nil {
			return &ConfigError{Field: "WithClock", Value: "nil", Reason: "must be a clock"}
		}
		o.clock = c
		return nil
	})
}

// WithName names the breaker; the name appears in its errors and its
// changes. Default: "".
func WithName(name string) Option {
	return optionFunc(func(o *options) error { o.name = name; return nil })
}

// WithOnStateChange sets a function called on every transition. Default:
// none; a nil f sets none.
//
// Calls are synchronous and never made while the breaker's lock is held, so
// f may call the breaker. They come one at a time and in the order of the
// transitions: f runs on the goroutine whose call made the transition,
// unless another goroutine is already running f, in which case that one
// runs it next. f should be quick, as the caller it runs on waits for it.
func WithOnStateChange(f func(Change)) Option {
	return optionFunc(func(o *options) error { o.onChange = f; return nil })
}
