package integrations

import (
	"errors"
	"fmt"
	"github.com/dynlimit/dynlimit/internal/suggest"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/httpadapter"
)

// ErrUnknown matches, with errors.Is, the error of [NewClient] and
// [NewTransport] for a name that no configuration has; its message lists the
// names there are.
var ErrUnknown = errors.New("integrations: unknown integration")

// Option configures [NewClient] and [NewTransport].
type Option interface {
	apply(*options) error
}

type optionFunc func(*options) error

func (f optionFunc) apply(o *options) error { return f(o) }

type options struct {
	configs   map[string]Config
	overrides Overrides
	baseURL   string
	base      http.RoundTripper
	timeout   time.Duration
	headers   [][2]string
	clock     clock.Clock
	limiter   []dynlimit.Option
	transport []httpadapter.Option
	maxKeys   int
	tenant    string
	breaker   *breaker.Config
	logger    *slog.Logger
	onRequest func(httpadapter.RequestEvent)
	telemetry Telemetry
}

// WithOverrides lays o over the configurations (see [Merge]) before the
// integration is looked up.
func WithOverrides(o Overrides) Option {
	return optionFunc(func(opts *options) error { opts.overrides = o; return nil })
}

// WithConfigs replaces the built-ins as the configurations the integration
// is looked up in; overrides are laid over these. Default: [Builtin].
func WithConfigs(configs map[string]Config) Option {
	return optionFunc(func(o *options) error {
		if configs == nil {
			return errors.New("integrations: WithConfigs = nil: must be a map of configurations")
		}
		o.configs = configs
		return nil
	})
}

// WithBaseURL replaces the configuration's base URL in [NewClient]: a
// Shopify store's or a Jira site's, a proxy, a test server.
func WithBaseURL(u string) Option {
	return optionFunc(func(o *options) error {
		if u == "" {
			return errors.New(`integrations: WithBaseURL(""): want an absolute http or https URL`)
		}
		if reason := checkBaseURL(u); reason != "" {
			return fmt.Errorf("integrations: WithBaseURL = %s: %s", quoteShort(redactBaseURL(u)), reason)
		}
		o.baseURL = u
		return nil
	})
}

// WithBaseTransport sets the RoundTripper a [NewClient] client sends
// through. Default: http.DefaultTransport. [NewTransport] takes it as its
// base argument, which wins when it is not nil.
func WithBaseTransport(rt http.RoundTripper) Option {
	return optionFunc(func(o *options) error { o.base = rt; return nil })
}

// WithHTTPClientTimeout sets the overall timeout of each request of a
// [NewClient] client, waits and retries included. Default:
// httpadapter.DefaultTimeout (30 s). A throttle whose pause (Zapier's 60 s,
// say) would pass it fails at once with an *httpadapter.Error that says when
// to retry.
func WithHTTPClientTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("integrations: WithHTTPClientTimeout = %v: must be > 0", d)
		}
		o.timeout = d
		return nil
	})
}

// WithDefaultHeader adds a header that a [NewClient] client sends with every
// request (Notion-Version, say); a request's own header of the same name
// replaces it.
func WithDefaultHeader(name, value string) Option {
	return optionFunc(func(o *options) error {
		o.headers = append(o.headers, [2]string{name, value})
		return nil
	})
}

// WithClock sets the clock of the limiters and classifiers. Default:
// clock.Real.
func WithClock(c clock.Clock) Option {
	return optionFunc(func(o *options) error {
		if c == nil {
			return errors.New("integrations: WithClock = nil: must be a clock")
		}
		o.clock = c
		return nil
	})
}

// WithLimiterOptions adds options to every limiter of requests made (an
// observer, a shared bucket); they come after those the configuration sets,
// so they win. The limiter of a token budget (TokensPerSec) is made with
// its name, policy and clock only: a bucket or policy meant for requests
// would be wrong for it.
func WithLimiterOptions(opts ...dynlimit.Option) Option {
	return optionFunc(func(o *options) error { o.limiter = append(o.limiter, opts...); return nil })
}

// WithTransportOptions adds options to every httpadapter.Transport made
// (httpadapter.WithRetryNonIdempotent for Twilio, say); they come after
// those the configuration sets, so they win.
func WithTransportOptions(opts ...httpadapter.Option) Option {
	return optionFunc(func(o *options) error { o.transport = append(o.transport, opts...); return nil })
}

// WithMaxKeys bounds the number of limiters kept for an integration whose
// requests split by key (Slack methods, Airtable bases); the least recently
// used go first, and limiters idle for dynlimit.DefaultIdleTimeout go too,
// but never one that is busy (a request under way, a cooldown running): a
// request for a new key while all are busy fails with a
// *dynlimit.GroupFullError. Default: dynlimit.DefaultMaxKeys.
func WithMaxKeys(n int) Option {
	return optionFunc(func(o *options) error {
		if n < 1 {
			return fmt.Errorf("integrations: WithMaxKeys = %d: must be >= 1", n)
		}
		o.maxKeys = n
		return nil
	})
}

// redactBaseURL returns a base URL as an error may quote it: without user
// info, query or fragment, its path as a route template
// (httpadapter.RedactURL), as a credential in any of them may be why it
// was refused. One that does not parse is not quoted.
func redactBaseURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	return httpadapter.RedactURL(u)
}

// resolve applies opts and returns the validated configuration of name.
func resolve(name string, opts []Option) (options, Config, error) {
	o := options{clock: clock.Real, maxKeys: dynlimit.DefaultMaxKeys}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt.apply(&o); err != nil {
			return o, Config{}, err
		}
	}
	base := o.configs
	if base == nil {
		base = Builtin()
	}
	// Only the configuration asked for is validated: a bad entry for
	// another API must not stop this one.
	all := mergeConfigs(base, o.overrides)
	c, ok := all[name]
	if !ok {
		names := Names(all)
		if best := suggest.Closest(name, names, 2); best != "" {
			return o, Config{}, fmt.Errorf("%w %q; did you mean %q? available: %s", ErrUnknown, name, best, strings.Join(names, ", "))
		}
		return o, Config{}, fmt.Errorf("%w %q; available: %s", ErrUnknown, name, strings.Join(names, ", "))
	}
	if err := c.Validate(); err != nil {
		return o, Config{}, err
	}
	return o, c, nil
}

// NewTransport returns a RoundTripper that paces, classifies and retries
// requests to the integration name as its configuration says, sending
// through base (nil means [WithBaseTransport]'s, else
// http.DefaultTransport). Plug it into an SDK's *http.Client.
//
// The result is an *httpadapter.Transport, or, with Key (or KeyFunc) set,
// an *httpadapter.KeyedTransport: each key gets its own limiter and
// Transport, made on the first request that needs it and dropped when idle
// or when more than [WithMaxKeys] keys are in use, once nothing of it is
// under way (see dynlimit.Group). Both have a Snapshots
// method that says what their limiters are doing. With TokensPerSec set,
// requests are paced by a token budget as well (httpadapter.WithCost),
// shared by every key. An unknown name is an error that wraps [ErrUnknown]
// and lists the known ones; an invalid configuration is an [*Error].
func NewTransport(name string, base http.RoundTripper, opts ...Option) (http.RoundTripper, error) {
	o, c, err := resolve(name, opts)
	if err != nil {
		return nil, err
	}
	if base == nil {
		base = o.base
	}
	return o.newTransport(c, base)
}

// newTransport returns the paced RoundTripper of c over base.
func (o *options) newTransport(c Config, base http.RoundTripper) (http.RoundTripper, error) {
	lobs, tobs, err := o.observability(c)
	if err != nil {
		return nil, err
	}
	// Copied: o serves one call, but its slices must not grow under a
	// caller who reuses the options.
	o.limiter = append(append([]dynlimit.Option(nil), lobs...), o.limiter...)
	topts, err := o.transportOptions(c)
	if err != nil {
		return nil, err
	}
	topts = append(tobs, topts...)
	if key := c.keyFunc(); key != nil {
		gopts := []dynlimit.GroupOption{
			dynlimit.WithLimiterOptions(o.limiterOptions(c)...),
			dynlimit.WithGroupClock(o.clock),
			dynlimit.WithMaxKeys(o.maxKeys),
		}
		if c.KeyPolicy != nil {
			base := c.Policy()
			gopts = append(gopts, dynlimit.WithPerKeyOptions(func(key string) []dynlimit.Option {
				return []dynlimit.Option{dynlimit.WithPolicy(c.policyFrom(c.KeyPolicy(key, base)))}
			}))
		}
		g, err := dynlimit.NewGroup(gopts...)
		if err != nil {
			return nil, err
		}
		o.register(nil, g, nil)
		// Returned through a variable of the concrete type, a failure would
		// be a non-nil RoundTripper holding a nil pointer.
		kt, err := httpadapter.NewKeyedTransport(base, g, key, topts...)
		if err != nil {
			return nil, err
		}
		return kt, nil
	}
	lim, err := dynlimit.New(append([]dynlimit.Option{dynlimit.WithName(c.Name)}, o.limiterOptions(c)...)...)
	if err != nil {
		return nil, err
	}
	o.register(lim, nil, nil)
	t, err := httpadapter.NewTransport(base, lim, topts...)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// NewClient returns the base-URL client of the integration name: paths are
// resolved against its base URL ([WithBaseURL] replaces it; a configuration
// without one needs it), and every request is paced, classified and retried
// as the configuration says, within an overall timeout
// ([WithHTTPClientTimeout]). It is the original
// make_client_from_config(name). client.HTTPClient() is the *http.Client for
// an SDK; client.Snapshots() says what its limiters are doing, and
// client.Transport() is the RoundTripper [NewTransport] would have made.
func NewClient(name string, opts ...Option) (*httpadapter.Client, error) {
	o, c, err := resolve(name, opts)
	if err != nil {
		return nil, err
	}
	baseURL := c.BaseURL
	if o.baseURL != "" {
		baseURL = o.baseURL
	}
	if baseURL == "" {
		return nil, fmt.Errorf("integrations: %s has no base_url: set one in the overrides or pass WithBaseURL, "+
			"or use NewTransport with absolute URLs", name)
	}
	rt, err := o.newTransport(c, o.base)
	if err != nil {
		return nil, err
	}
	var copts []httpadapter.ClientOption
	for _, h := range o.headers {
		copts = append(copts, httpadapter.WithDefaultHeader(h[0], h[1]))
	}
	if o.timeout > 0 {
		copts = append(copts, httpadapter.WithTimeout(o.timeout))
	}
	return httpadapter.NewClientFor(baseURL, rt, copts...)
}

// limiterOptions are the options of every limiter of c, but its name.
func (o *options) limiterOptions(c Config) []dynlimit.Option {
	opts := []dynlimit.Option{
		dynlimit.WithPolicy(c.NewPolicy()),
		dynlimit.WithClock(o.clock),
		dynlimit.WithMaxInFlight(c.MaxInFlight),
		dynlimit.WithMaxPause(c.MaxPause()),
	}
	return append(opts, o.limiter...)
}

// transportOptions are the options of every Transport of c: its
// classifier, made per Transport, its retries and, with a token budget,
// the limiter of the budget, made here and shared by every key.
func (o *options) transportOptions(c Config) ([]httpadapter.Option, error) {
	opts := []httpadapter.Option{
		httpadapter.WithClassifierFunc(c.NewClassifier),
		httpadapter.WithMaxRetries(c.MaxRetriesOnBackoff),
		httpadapter.WithMaxWait(c.MaxWait()),
	}
	if tp, ok := c.TokenPolicy(); ok {
		tlim, err := dynlimit.New(dynlimit.WithName(c.Name+" tokens"), dynlimit.WithPolicy(tp), dynlimit.WithClock(o.clock),
			dynlimit.WithMaxPause(c.MaxPause()))
		if err != nil {
			return nil, err
		}
		o.register(tlim, nil, nil)
		cost := c.Cost
		if cost == nil {
			cost = LLMTokenCost
		}
		opts = append(opts, httpadapter.WithCost(tlim, cost))
	}
	return append(opts, o.transport...), nil
}

// keyFunc returns how c splits requests into limiters; nil for one
// limiter.
func (c Config) keyFunc() func(*http.Request) string {
	if c.KeyFunc != nil {
		return c.KeyFunc
	}
	switch c.Key {
	case KeyMethod:
		return methodKey
	case KeyBase:
		return baseKey
	case KeyEndpoint:
		return endpointKey
	case KeyHost:
		return hostKey
	}
	return nil
}

// methodKey is KeyMethod's: Slack's method, never a path segment that
// is not one (SlackMethodKey).
func methodKey(req *http.Request) string { return SlackMethodKey(req) }

// baseKey is KeyBase's: an Airtable base id, never a path segment of
// another shape (AirtableBaseKey).
func baseKey(req *http.Request) string { return AirtableBaseKey(req) }

// endpointKey returns the method, the host and the path as a template
// (httpadapter.RouteTemplate): IDs, issue keys and tokens vary within one
// endpoint, words and versions do not.
func endpointKey(req *http.Request) string {
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	return method + " " + hostKey(req) + httpadapter.RouteTemplate(req)
}

// hostKey returns the request's host, port included, in lower case.
func hostKey(req *http.Request) string {
	h := req.URL.Host
	if h == "" {
		h = req.Host
	}
	return strings.ToLower(h)
}
