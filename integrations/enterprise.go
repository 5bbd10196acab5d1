package integrations

import (
	"errors"
	"log/slog"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
)

// Telemetry is what records a client's limiters and requests:
// *otelbridge.Bridge is one. It is an interface here so that integrations
// does not make every user depend on OpenTelemetry.
type Telemetry interface {
	// Observer returns the observer every limiter of the client gets.
	Observer() dynlimit.Observer
	// TransportOption returns the option every Transport of the client
	// gets.
	TransportOption() httpadapter.Option
}

// GaugeRegistry is a [Telemetry] that also reports gauges of the limiters,
// groups and breakers it is given (rate, tokens, in flight, breaker state):
// *otelbridge.Bridge is one. A client made [WithTelemetry] of one registers
// everything it makes: its limiter or group of keyed limiters, the token
// budget's limiter, and its breaker.
type GaugeRegistry interface {
	Telemetry
	RegisterLimiter(l *dynlimit.Limiter)
	RegisterGroup(g *dynlimit.Group)
	RegisterBreaker(b *breaker.Breaker)
}

// register hands what the client made to its telemetry's gauges, if it
// keeps any.
func (o *options) register(lim *dynlimit.Limiter, g *dynlimit.Group, b *breaker.Breaker) {
	r, ok := o.telemetry.(GaugeRegistry)
	if !ok {
		return
	}
	if lim != nil {
		r.RegisterLimiter(lim)
	}
	if g != nil {
		r.RegisterGroup(g)
	}
	if b != nil {
		r.RegisterBreaker(b)
	}
}

// WithTenant names the tenant the client works for: its request events,
// logs and (when asked for) metrics carry it, and its breaker and limiters
// are named after it. A request's own context can name another
// (httpadapter.ContextWithTenant).
func WithTenant(tenant string) Option {
	return optionFunc(func(o *options) error { o.tenant = tenant; return nil })
}

// WithBreaker puts a circuit breaker in front of the client's requests: after
// cfg.FailureThreshold overloads (5xx, transport errors) in a row it fails
// every request at once with an error that matches breaker.ErrOpen (the
// original CircuitOpenError) until cfg.OpenInterval has passed, then lets a
// probe through. One breaker per client, shared by its keys: an upstream
// that is down is down for every key. Start from breaker.DefaultConfig().
func WithBreaker(cfg breaker.Config) Option {
	return optionFunc(func(o *options) error {
		if err := cfg.Validate(); err != nil {
			return err
		}
		o.breaker = &cfg
		return nil
	})
}

// WithLogger logs with l: every request at Debug and failed ones at Warn
// (httpadapter.WithLogger), the limiters' rate changes and throttles
// (dynlimit.NewLogObserver), and the breaker's state changes. Nothing
// secret is logged: no header, no query string, no body.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) error {
		if l == nil {
			return errors.New("integrations: WithLogger = nil: must be a *slog.Logger")
		}
		o.logger = l
		return nil
	})
}

// WithOnRequest calls f with one httpadapter.RequestEvent per request, after
// its retries: the original design's metrics_handler.
func WithOnRequest(f func(httpadapter.RequestEvent)) Option {
	return optionFunc(func(o *options) error {
		if f == nil {
			return errors.New("integrations: WithOnRequest = nil: must be a function")
		}
		o.onRequest = f
		return nil
	})
}

// WithTelemetry records the client's limiters and requests with t (an
// *otelbridge.Bridge).
func WithTelemetry(t Telemetry) Option {
	return optionFunc(func(o *options) error {
		if t == nil {
			return errors.New("integrations: WithTelemetry = nil: must be a Telemetry such as an *otelbridge.Bridge")
		}
		o.telemetry = t
		return nil
	})
}

// NewEnterpriseClient returns the client of [NewClient] for the integration
// name and a tenant, with what a production worker wants around it: the
// original design's EnterpriseClient. On top of the configuration's pacing
// and retries it has a circuit breaker (breaker.DefaultConfig(), or
// [WithBreaker]'s), and logs with slog.Default() (or [WithLogger]'s).
// Add [WithOnRequest] for a metrics callback, [WithTelemetry] for
// OpenTelemetry, [WithBaseURL] and [WithOverrides] for the rest.
func NewEnterpriseClient(name, tenant string, opts ...Option) (*httpadapter.Client, error) {
	all := []Option{WithTenant(tenant), WithBreaker(breaker.DefaultConfig()), WithLogger(slog.Default())}
	return NewClient(name, append(all, opts...)...)
}

// observability returns the limiter and Transport options that the
// tenant, logger, callback and telemetry options call for, and the breaker
// of the client if it has one.
func (o *options) observability(c Config) (lopts []dynlimit.Option, topts []httpadapter.Option, err error) {
	if o.logger != nil {
		lopts = append(lopts, dynlimit.WithObserver(dynlimit.NewLogObserver(o.logger)))
		topts = append(topts, httpadapter.WithLogger(o.logger))
	}
	if o.telemetry != nil {
		lopts = append(lopts, dynlimit.WithObserver(o.telemetry.Observer()))
		topts = append(topts, o.telemetry.TransportOption())
	}
	if o.onRequest != nil {
		topts = append(topts, httpadapter.WithOnRequest(o.onRequest))
	}
	topts = append(topts, httpadapter.WithIntegration(c.Name))
	if c.Route != nil {
		topts = append(topts, httpadapter.WithRoute(c.Route))
	}
	if c.SecretPath != nil {
		topts = append(topts, httpadapter.WithSecretPath(c.SecretPath))
	}
	if o.tenant != "" {
		topts = append(topts, httpadapter.WithTenant(o.tenant))
	}
	if o.breaker != nil {
		name := c.Name
		if o.tenant != "" {
			name += "/" + o.tenant
		}
		bopts := []breaker.Option{breaker.WithName(name), breaker.WithClock(o.clock)}
		if o.logger != nil {
			bopts = append(bopts, breaker.WithOnStateChange(httpadapter.LogBreakerChanges(o.logger)))
		}
		b, err := breaker.New(*o.breaker, bopts...)
		if err != nil {
			return nil, nil, err
		}
		o.register(nil, nil, b)
		topts = append(topts, httpadapter.WithBreaker(b))
	}
	return lopts, topts, nil
}
