package httpadapter

import (
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/dynlimit/dynlimit/breaker"
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
	breaker        *breaker.Breaker
	onRequest      func(RequestEvent)
	logger         *slog.Logger
	instruments    []Instrument
	integration    string
	tenant         string
	routeFunc      func(*http.Request) string
	secretPath     func(*url.URL) bool
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

// noMaxWait is the max wait of WithMaxWait(0): none.
const noMaxWait = time.Duration(math.MaxInt64)

// WithMaxWait caps the wait before a retry, whether it comes from the
// upstream's Retry-After or from the backoff. A retry that would need a
// longer wait is not attempted: the Transport returns an [*Error] at once.
// Default: [DefaultMaxWait]. 0 means no cap of the Transport's own, as
// dynlimit.WithMaxWait(0) does for permits: the request's context and the
// limiter's max pause (dynlimit.WithMaxPause) still bound the wait.
func WithMaxWait(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return &OptionError{Name: "WithMaxWait", Value: d.String(), Reason: "must be >= 0"}
		}
		if d == 0 {
			d = noMaxWait
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

// observed reports whether anything watches the Transport's requests: only
// then are they measured.
func (c *config) observed() bool {
	return c.onRequest != nil || c.logger != nil || len(c.instruments) > 0
}

// route returns the route of req for its event.
func (c *config) route(req *http.Request) string {
	if c.routeFunc != nil {
		return c.routeFunc(req)
	}
	return RouteTemplate(req)
}

// WithBreaker puts a circuit breaker in front of every attempt: while it is
// open, the Transport fails at once, before waiting for a permit and
// before any HTTP call, with an [*Error] that matches breaker.ErrOpen and
// wraps the *breaker.CircuitOpenError that says when it will probe. Each
// attempt's outcome (its signal's Kind) is reported to it. A breaker may be
// shared by several Transports that call the same upstream.
func WithBreaker(b *breaker.Breaker) Option {
	return optionFunc(func(c *config) error {
		if b == nil {
			return &OptionError{Name: "WithBreaker", Value: "nil", Reason: "must be a *breaker.Breaker"}
		}
		c.breaker = b
		return nil
	})
}

// WithOnRequest sets a callback that receives one [RequestEvent] per
// logical request, once it is over (after its retries): the original
// design's metrics_handler. It runs on the caller's goroutine before
// RoundTrip returns; keep it quick. Without it (and without a logger or an
// instrument) requests are not measured at all.
func WithOnRequest(f func(RequestEvent)) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return &OptionError{Name: "WithOnRequest", Value: "nil", Reason: "must be a function"}
		}
		c.onRequest = f
		return nil
	})
}

// WithLogger logs every request with l: at Debug when it got a response,
// at Warn when it failed (retries exhausted, wait too long, circuit open,
// transport error), with the attributes of its [RequestEvent]. No header,
// query string or body is ever logged. For the limiter's rate changes and
// throttles, give the limiter a dynlimit.NewLogObserver.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return &OptionError{Name: "WithLogger", Value: "nil", Reason: "must be a *slog.Logger"}
		}
		c.logger = l
		return nil
	})
}

// WithInstrument adds an [Instrument] that follows each request from the
// inside (the OpenTelemetry bridge's tracing). Several may be added; they
// start in the order given and end in the reverse order.
func WithInstrument(in Instrument) Option {
	return optionFunc(func(c *config) error {
		if in == nil {
			return &OptionError{Name: "WithInstrument", Value: "nil", Reason: "must be an Instrument"}
		}
		c.instruments = append(c.instruments, in)
		return nil
	})
}

// WithIntegration names the API in request events and logs. Default: the
// limiter's name.
func WithIntegration(name string) Option {
	return optionFunc(func(c *config) error { c.integration = name; return nil })
}

// WithTenant names the tenant requests are made for, in request events and
// logs, when the request's context names none ([ContextWithTenant]).
func WithTenant(tenant string) Option {
	return optionFunc(func(c *config) error { c.tenant = tenant; return nil })
}

// WithRoute sets how a request's route is named in request events, logs,
// spans and metrics, and as the path of the URL the Transport's errors
// quote ([Error], and [Client.Request]'s). It must return a template of low
// cardinality (no IDs) and nothing secret: use it for an API that puts a
// secret in its paths at a place [RouteTemplate]'s rule may not catch.
// Default: [RouteTemplate].
func WithRoute(f func(*http.Request) string) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return &OptionError{Name: "WithRoute", Value: "nil", Reason: "must be a function"}
		}
		c.routeFunc = f
		return nil
	})
}

// WithSecretPath marks the requests whose URL path holds a secret (a
// webhook's): f reports whether u's does. For those, instruments record
// the route ([WithRoute], else [RouteTemplate]) in place of the real path
// ([FullURLWithRoute]: the OpenTelemetry bridge's url.full;
// [RequestEvent.SecretPath] says so). The built-in rules of [FullURL] apply whatever f says. Default: no
// path is marked.
func WithSecretPath(f func(u *url.URL) bool) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return &OptionError{Name: "WithSecretPath", Value: "nil", Reason: "must be a function"}
		}
		c.secretPath = f
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
