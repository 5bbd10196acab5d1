package httpadapter

import (
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Defaults of the Transport's options.
const (
	// DefaultMaxRetries is the number of retries after the first attempt
	// (the original configuration's max_retries_on_backoff).
	DefaultMaxRetries = 3
	// DefaultMaxWait caps the wait before one retry.
	DefaultMaxWait = time.Minute
	// DefaultDrainLimit bounds how much of a discarded response's body is
	// read so that its connection can be reused.
	DefaultDrainLimit = 64 << 10
	// DefaultBurstOverloads overloads within DefaultBurstWindow count as a
	// throttle in the default classifier (see [WithClassifier]).
	DefaultBurstOverloads = 5
	// DefaultBurstWindow is the window of DefaultBurstOverloads.
	DefaultBurstWindow = 10 * time.Second
)

// Option configures a Transport.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

type config struct {
	classifier     signal.Classifier
	newClassifier  func(clock.Clock) signal.Classifier
	cost           *costBudget
	maxRetries     int
	maxWait        time.Duration
	newBackoff     func() backoff.BackOff
	retryAll       bool
	attemptTimeout time.Duration
	returnLast     bool
	drainLimit     int64
}

// WithClassifier sets how responses and transport errors become signals.
// Default: signal.HTTP with the limiter's clock (429 throttles; 500, 502,
// 503, 504 and transport errors are overloads; Retry-After and rate-limit
// headers read), inside a signal.Burst that turns the fifth overload within
// 10 s into a throttle, so that a failing upstream is not hammered at full
// rate while a lone 500 changes nothing. The Burst keeps state: each
// Transport made without this option has its own.
func WithClassifier(c signal.Classifier) Option {
	return optionFunc(func(cfg *config) error {
		if c == nil {
			return &OptionError{Name: "WithClassifier", Value: "nil", Reason: "must be a classifier"}
		}
		cfg.classifier = c
		return nil
	})
}

// WithClassifierFunc sets how responses become signals, as
// [WithClassifier] does, with a classifier made for each Transport by
// newClassifier from the limiter's clock. Use it for a classifier that
// keeps state (a signal.Burst counts overloads) when one set of options
// makes many Transports, as [NewKeyedTransport] does: each key then counts
// its own. WithClassifier, when also given, wins.
func WithClassifierFunc(newClassifier func(clock.Clock) signal.Classifier) Option {
	return optionFunc(func(cfg *config) error {
		if newClassifier == nil {
			return &OptionError{Name: "WithClassifierFunc", Value: "nil", Reason: "must be a function"}
		}
		cfg.newClassifier = newClassifier
		return nil
	})
}

// WithMaxRetries sets how many times a throttled or overloaded attempt is
// retried (the original configuration's max_retries_on_backoff). Default:
// [DefaultMaxRetries]; 0 turns retries off.
func WithMaxRetries(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return &OptionError{Name: "WithMaxRetries", Value: strconv.Itoa(n), Reason: "must be >= 0"}
		}
		c.maxRetries = n
		return nil
	})
}

// WithMaxWait caps the wait before a retry, whether it comes from the
// upstream's Retry-After or from the backoff. A retry that would need a
// longer wait is not attempted: the Transport returns an [*Error] at once.
// Default: [DefaultMaxWait].
func WithMaxWait(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return &OptionError{Name: "WithMaxWait", Value: d.String(), Reason: "must be > 0"}
		}
		c.maxWait = d
		return nil
	})
}

// WithBackoff sets the backoff used before a retry when the upstream sent
// no Retry-After. newBackoff is called once per request that needs a retry;
// a backoff.Stop from it ends the retries. Default: exponential from 500 ms,
// ×1.5 per retry, ±50 % jitter, at most 60 s (backoff.ExponentialBackOff's
// defaults, with no elapsed-time limit: the retry count and the request's
// deadline bound it).
func WithBackoff(newBackoff func() backoff.BackOff) Option {
	return optionFunc(func(c *config) error {
		if newBackoff == nil {
			return &OptionError{Name: "WithBackoff", Value: "nil", Reason: "must be a function"}
		}
		c.newBackoff = newBackoff
		return nil
	})
}

// WithRetryNonIdempotent allows retrying requests whose method is not
// idempotent (POST, PATCH) and that carry no Idempotency-Key. Only do this
// when the upstream guarantees that a throttled or overloaded request was
// not processed. The body must still be replayable. Default: false.
func WithRetryNonIdempotent(ok bool) Option {
	return optionFunc(func(c *config) error { c.retryAll = ok; return nil })
}

// WithAttemptTimeout bounds each attempt (from sending the request to
// reading the response headers and body) separately from the request's own
// deadline. 0, the default, means no per-attempt bound.
func WithAttemptTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return &OptionError{Name: "WithAttemptTimeout", Value: d.String(), Reason: "must be >= 0"}
		}
		c.attemptTimeout = d
		return nil
	})
}

// WithReturnLastResponse makes the Transport return the last throttled or
// overloaded response, unread, when retries are exhausted, instead of an
// [*Error]. Default: false.
func WithReturnLastResponse(ok bool) Option {
	return optionFunc(func(c *config) error { c.returnLast = ok; return nil })
}

// WithDrainLimit bounds how many bytes of a discarded response body are read
// before it is closed, so that the connection can be reused. Default:
// [DefaultDrainLimit].
func WithDrainLimit(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return &OptionError{Name: "WithDrainLimit", Value: strconv.FormatInt(n, 10), Reason: "must be >= 0"}
		}
		c.drainLimit = n
		return nil
	})
}

// OptionError reports an invalid option or argument, naming it and its value.
type OptionError struct {
	// Name is the option or argument.
	Name string
	// Value is the rejected value, formatted.
	Value string
	// Reason says what a valid value looks like.
	Reason string
}

func (e *OptionError) Error() string {
	return "httpadapter: " + e.Name + " = " + e.Value + ": " + e.Reason
}
