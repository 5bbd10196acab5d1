package otelbridge

import (
	"errors"
	"net/url"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
)

// ScopeName is the instrumentation scope of the bridge's meter and tracer:
// its import path.
const ScopeName = "github.com/dynlimit/dynlimit/otelbridge"

// Version is the instrumentation scope's version.
const Version = "0.1.0"

// Attribute keys of the bridge's own (the standard HTTP ones come from the
// semantic conventions).
const (
	// LimiterKey is the limiter's name (dynlimit.WithName; a key of a
	// group).
	LimiterKey = attribute.Key("dynlimit.limiter")
	// IntegrationKey is the API the Transport calls
	// (httpadapter.WithIntegration, else the limiter's name).
	IntegrationKey = attribute.Key("dynlimit.integration")
	// ResultKey is what became of a request or a permit; see
	// docs/metrics.md for the values.
	ResultKey = attribute.Key("dynlimit.result")
	// BreakerKey is the circuit breaker's name (breaker.WithName).
	BreakerKey = attribute.Key("dynlimit.breaker")
	// TenantKey is the tenant of a request, recorded only with
	// [WithTenantAttribute].
	TenantKey = attribute.Key("dynlimit.tenant")
	// AttemptsKey is the number of attempts of a logical request (spans).
	AttemptsKey = attribute.Key("dynlimit.attempts")
	// AttemptKey is the attempt a permit wait was for (spans).
	AttemptKey = attribute.Key("dynlimit.attempt")
	// OutcomeKey is how an attempt was classified (spans).
	OutcomeKey = attribute.Key("dynlimit.outcome")
)

// Option configures a [Bridge].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	mp         metric.MeterProvider
	tp         trace.TracerProvider
	httpClient bool
	tenant     bool
	// noClientSpans makes the attempt spans internal; noPropagation stops
	// the trace context going into the attempts' headers.
	noClientSpans, noPropagation bool
	// urlFull makes the url.full attribute of the attempt spans.
	urlFull func(*url.URL) string
}

// WithMeterProvider sets where metrics go. Default: otel.GetMeterProvider()
// at New.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// WithTracerProvider sets where spans go. Default:
// otel.GetTracerProvider() at New.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithHTTPClientMetrics makes the Transport option also record the
// standard http.client.request.duration, one point per attempt, with
// http.request.method, server.address, server.port,
// http.response.status_code and error.type. Leave it off when the base
// transport is already otelhttp's, which records it too.
func WithHTTPClientMetrics(on bool) Option {
	return optionFunc(func(c *config) { c.httpClient = on })
}

// WithClientSpans sets whether each attempt's span is a CLIENT span (the
// default), as the HTTP semantic conventions ask of the span around one
// HTTP request. Turn it off when the base transport is otelhttp's, which
// makes a CLIENT span of its own for each attempt: the bridge's attempt
// spans are then INTERNAL, the parents of otelhttp's, and a trace holds one
// CLIENT span per attempt, not two.
func WithClientSpans(on bool) Option {
	return optionFunc(func(c *config) { c.noClientSpans = !on })
}

// WithPropagation sets whether the Transport option writes the trace
// context of each attempt into its headers, with otel.GetTextMapPropagator()
// (traceparent with the default W3C propagator), so that the upstream sees
// the trace without otelhttp. On by default; with otelhttp as the base
// transport, otelhttp writes them again, from its own span.
func WithPropagation(on bool) Option {
	return optionFunc(func(c *config) { c.noPropagation = !on })
}

// WithURLFull sets how the url.full attribute of each attempt span is
// made from the request's URL. Default: httpadapter.FullURL, the real URL
// with user info, the values of credential-like query parameters and the
// secrets of known webhook paths redacted, and, for a request whose path
// the Transport marks secret (httpadapter.WithSecretPath: the slack and
// zapier integrations' webhooks), the route in place of the path. Give it
// a function of your own when your API keeps other secrets in its URLs: f
// gets the real URL and decides alone; httpadapter.RedactURL records the
// route template (no ID, no query). A nil f is the default.
func WithURLFull(f func(u *url.URL) string) Option {
	return optionFunc(func(c *config) { c.urlFull = f })
}

// WithTenantAttribute adds the tenant of each request (from
// httpadapter.ContextWithTenant or WithTenant) to the Transport's metrics
// and spans. Off by default: tenant IDs are many, and each one is a new
// time series.
func WithTenantAttribute(on bool) Option {
	return optionFunc(func(c *config) { c.tenant = on })
}

// Bridge records dynlimit's limiters, Transports and breakers into
// OpenTelemetry. Make one with [New]; it is safe for concurrent use.
type Bridge struct {
	cfg    config
	tracer trace.Tracer

	requests   metric.Int64Counter
	waits      metric.Float64Histogram
	retries    metric.Int64Counter
	httpDur    metric.Float64Histogram
	permits    metric.Int64Counter
	decreases  metric.Int64Counter
	rate       metric.Float64ObservableGauge
	tokens     metric.Float64ObservableGauge
	inFlight   metric.Int64ObservableGauge
	brkState   metric.Int64ObservableGauge
	registered reg

	sets  sync.Map // seriesKey or limiterKey → metric.MeasurementOption
	nsets atomic.Int64

	mu       sync.Mutex
	limiters map[*dynlimit.Limiter]struct{}
	groups   map[*dynlimit.Group]struct{}
	breakers map[*breaker.Breaker]struct{}
}

type reg = metric.Registration

// New returns a Bridge whose instruments are made from the providers.
func New(opts ...Option) (*Bridge, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	m := c.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version), metric.WithSchemaURL(semconv.SchemaURL))
	b := &Bridge{
		cfg:      c,
		tracer:   c.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(Version), trace.WithSchemaURL(semconv.SchemaURL)),
		limiters: make(map[*dynlimit.Limiter]struct{}),
		groups:   make(map[*dynlimit.Group]struct{}),
		breakers: make(map[*breaker.Breaker]struct{}),
	}
	var err, e error
	b.requests, e = m.Int64Counter("dynlimit.rate_limiting.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests the Transport sent or refused, by result."))
	err = errors.Join(err, e)
	b.waits, e = m.Float64Histogram("dynlimit.rate_limiting.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent waiting for a permit before an attempt."),
		metric.WithExplicitBucketBoundaries(0, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	err = errors.Join(err, e)
	b.retries, e = m.Int64Counter("dynlimit.rate_limiting.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Attempts after the first of a request."))
	err = errors.Join(err, e)
	if c.httpClient {
		b.httpDur, e = m.Float64Histogram("http.client.request.duration", metric.WithUnit("s"),
			metric.WithDescription("Duration of HTTP client requests."),
			metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
		err = errors.Join(err, e)
	}
	b.permits, e = m.Int64Counter("dynlimit.rate_limiting.permits", metric.WithUnit("{permit}"),
		metric.WithDescription("Permit outcomes reported to limiters, and waits they refused, by result."))
	err = errors.Join(err, e)
	b.decreases, e = m.Int64Counter("dynlimit.rate_limiting.rate.decreases", metric.WithUnit("{decrease}"),
		metric.WithDescription("Times a limiter lowered its rate."))
	err = errors.Join(err, e)
	b.rate, e = m.Float64ObservableGauge("dynlimit.rate_limiting.rate", metric.WithUnit("{request}/s"),
		metric.WithDescription("A limiter's current rate: the policy's, or the upstream quota's while that is lower."))
	err = errors.Join(err, e)
	b.tokens, e = m.Float64ObservableGauge("dynlimit.rate_limiting.tokens", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens available in a limiter's bucket."))
	err = errors.Join(err, e)
	b.inFlight, e = m.Int64ObservableGauge("dynlimit.rate_limiting.in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("Permits granted and not yet done."))
	err = errors.Join(err, e)
	b.brkState, e = m.Int64ObservableGauge("dynlimit.rate_limiting.breaker.state", metric.WithUnit("{state}"),
		metric.WithDescription("A circuit breaker's state: 0 closed, 1 half-open, 2 open."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	b.registered, err = m.RegisterCallback(b.observe, b.rate, b.tokens, b.inFlight, b.brkState)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Observer returns a dynlimit.Observer that counts a limiter's permit
// outcomes and refused waits (dynlimit.rate_limiting.permits) and its rate
// decreases. Give it to dynlimit.WithObserver.
func (b *Bridge) Observer() dynlimit.Observer { return observer{b} }

// TransportOption returns the httpadapter option that records the
// Transport's requests and traces them.
func (b *Bridge) TransportOption() httpadapter.Option {
	return httpadapter.WithInstrument(instrument{b})
}

// Shutdown stops reading the registered limiters, groups and breakers.
func (b *Bridge) Shutdown() error { return b.registered.Unregister() }
