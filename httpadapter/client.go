package httpadapter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit"
)

// DefaultTimeout is the default overall timeout of a [Client] request,
// waits for permits and retries included: a limiter that can wait must never
// wait forever.
const DefaultTimeout = 30 * time.Second

// Client sends requests to one API: paths are resolved against a base URL,
// and every request goes through a [Transport] with an overall timeout. It
// is the Go form of the original client.request("GET", "/v1/databases",
// headers=..., timeout=...). SDKs that take an *http.Client use
// [Client.HTTPClient].
type Client struct {
	base   *url.URL
	http   *http.Client
	header http.Header
}

// ClientOption configures a Client.
type ClientOption interface {
	applyClient(*clientConfig) error
}

type clientOptionFunc func(*clientConfig) error

func (f clientOptionFunc) applyClient(c *clientConfig) error { return f(c) }

type clientConfig struct {
	timeout   time.Duration
	base      http.RoundTripper
	header    http.Header
	transport []Option
}

// WithTimeout sets the overall timeout of each request, waits and retries
// included. Default: [DefaultTimeout]. It must be > 0.
func WithTimeout(d time.Duration) ClientOption {
	return clientOptionFunc(func(c *clientConfig) error {
		if d <= 0 {
			return &OptionError{Name: "WithTimeout", Value: d.String(), Reason: "must be > 0"}
		}
		c.timeout = d
		return nil
	})
}

// WithBaseTransport sets the RoundTripper the Transport sends through.
// Default: http.DefaultTransport.
func WithBaseTransport(rt http.RoundTripper) ClientOption {
	return clientOptionFunc(func(c *clientConfig) error { c.base = rt; return nil })
}

// WithDefaultHeader adds a header sent with every request (an API version,
// say). Per-request headers of the same name replace it.
func WithDefaultHeader(name, value string) ClientOption {
	return clientOptionFunc(func(c *clientConfig) error {
		if c.header == nil {
			c.header = make(http.Header)
		}
		c.header.Add(name, value)
		return nil
	})
}

// WithTransportOptions passes options to the Client's [Transport].
func WithTransportOptions(opts ...Option) ClientOption {
	return clientOptionFunc(func(c *clientConfig) error {
		c.transport = append(c.transport, opts...)
		return nil
	})
}

// NewClient returns a Client for the API at baseURL (scheme and host, and
// optionally a path prefix), paced by lim through a [Transport].
func NewClient(baseURL string, lim *dynlimit.Limiter, opts ...ClientOption) (*Client, error) {
	return newClient(baseURL, opts, func(cfg *clientConfig) (http.RoundTripper, error) {
		t, err := NewTransport(cfg.base, lim, cfg.transport...)
		if err != nil {
			return nil, err // not t: a nil *Transport in a RoundTripper is not nil
		}
		return t, nil
	})
}

// NewClientFor returns a Client for the API at baseURL that sends through
// rt, a paced RoundTripper made beforehand: a [*KeyedTransport], say, or a
// [*Transport] with options of its own. [WithBaseTransport] and
// [WithTransportOptions] are for the Transport NewClient makes and are an
// error here.
func NewClientFor(baseURL string, rt http.RoundTripper, opts ...ClientOption) (*Client, error) {
	return newClient(baseURL, opts, func(cfg *clientConfig) (http.RoundTripper, error) {
		switch {
		case rt == nil:
			return nil, &OptionError{Name: "rt", Value: "nil", Reason: "must be an http.RoundTripper"}
		case cfg.base != nil:
			return nil, &OptionError{Name: "WithBaseTransport", Value: "set", Reason: "NewClientFor sends through rt"}
		case len(cfg.transport) > 0:
			return nil, &OptionError{Name: "WithTransportOptions", Value: "set", Reason: "NewClientFor sends through rt, made with its own options"}
		}
		return rt, nil
	})
}

func newClient(baseURL string, opts []ClientOption, transport func(*clientConfig) (http.RoundTripper, error)) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		// Quoted redacted: a token in it is no less a token for being in
		// a malformed URL.
		return nil, &OptionError{Name: "baseURL", Value: strconv.Quote(redactURLString(baseURL)),
			Reason: "must be an absolute URL with a scheme and a host"}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	cfg := clientConfig{timeout: DefaultTimeout}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyClient(&cfg); err != nil {
			return nil, err
		}
	}
	t, err := transport(&cfg)
	if err != nil {
		return nil, err
	}
	return &Client{
		base:   u,
		http:   &http.Client{Transport: t, Timeout: cfg.timeout},
		header: cfg.header,
	}, nil
}

// Snapshots returns the snapshots of the limiters that pace the Client: its
// Transport's (and that Transport's cost budget, [WithCost]), or every
// key's of a [KeyedTransport]. A RoundTripper given to [NewClientFor] that
// has no Snapshots method yields none.
func (c *Client) Snapshots() []dynlimit.Snapshot {
	if s, ok := c.http.Transport.(interface{ Snapshots() []dynlimit.Snapshot }); ok {
		return s.Snapshots()
	}
	return nil
}

// Transport returns the RoundTripper the Client sends through: a
// [*Transport] for a Client from [NewClient], rt for one from
// [NewClientFor].
func (c *Client) Transport() http.RoundTripper { return c.http.Transport }

// HTTPClient returns the Client's *http.Client, paced and retried by its
// Transport, with the overall timeout; for SDKs that take one.
func (c *Client) HTTPClient() *http.Client { return c.http }

// BaseURL returns the base URL paths are resolved against.
func (c *Client) BaseURL() *url.URL { u := *c.base; return &u }

// RequestOption sets something on one request made by [Client.Request].
type RequestOption func(*http.Request) error

// Header sets a request header.
func Header(name, value string) RequestOption {
	return func(r *http.Request) error { r.Header.Set(name, value); return nil }
}

// Query adds query parameters.
func Query(v url.Values) RequestOption {
	return func(r *http.Request) error {
		q := r.URL.Query()
		for k, vs := range v {
			for _, x := range vs {
				q.Add(k, x)
			}
		}
		r.URL.RawQuery = q.Encode()
		return nil
	}
}

// Body sets an in-memory request body, which retries can replay, with its
// content type.
func Body(contentType string, body []byte) RequestOption {
	return func(r *http.Request) error {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		return nil
	}
}

// Request sends method path (resolved against the base URL) with the
// given options, and returns the response. The request is bounded by ctx
// and by the Client's timeout, whichever ends first. A path may carry a
// query string.
//
// A failed request's error is net/http's *url.Error, whose message quotes
// the URL redacted as [RedactURL] does (no user info, query or fragment,
// the path as a route template); errors.Is and errors.As see its cause (an
// [*Error], context.DeadlineExceeded...) as they would in the original. A
// path that cannot be sent is an [*OptionError] that quotes it redacted
// too.
func (c *Client) Request(ctx context.Context, method, path string, opts ...RequestOption) (*http.Response, error) {
	ref, err := url.Parse(path)
	if err != nil {
		reason := "not a URL path"
		var ue *url.Error
		if errors.As(err, &ue) {
			reason = ue.Err.Error() // not err's: it quotes the path in full
		}
		return nil, &OptionError{Name: "path", Value: strconv.Quote(redactRaw(path)), Reason: reason}
	}
	if ref.IsAbs() || ref.Host != "" {
		return nil, &OptionError{Name: "path", Value: strconv.Quote(RedactURL(ref)), Reason: "must be relative to the base URL"}
	}
	// The leading slash goes after parsing, not before: without it
	// "/images:annotate" would parse as a URL of scheme "images", and
	// "//host/x" as a path.
	ref.Path = strings.TrimPrefix(ref.Path, "/")
	ref.RawPath = strings.TrimPrefix(ref.RawPath, "/")
	req, err := http.NewRequestWithContext(ctx, method, c.base.ResolveReference(ref).String(), nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range c.header {
		req.Header[k] = append([]string(nil), vs...)
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(req); err != nil {
			return nil, err
		}
	}
	resp, err := c.http.Do(req)
	return resp, c.redact(req, err)
}

// router is a RoundTripper that names the route of a request as its
// events do: a *Transport, a *KeyedTransport.
type router interface {
	routeOf(req *http.Request) string
}

// redact returns err, or, when it is net/http's *url.Error, a copy that
// quotes req's URL as the error of a Transport does (redactedURL) and
// wraps the same cause. The URL quoted is always the caller's, redacted,
// not that of a redirect's target, which may hold a signature.
func (c *Client) redact(req *http.Request, err error) error {
	ue, ok := err.(*url.Error) //nolint:errorlint // http.Client.Do returns the *url.Error itself
	if !ok {
		return err
	}
	u := RedactURL(req.URL)
	if r, ok := c.http.Transport.(router); ok {
		u = withRoute(req.URL, r.routeOf(req))
	}
	return &url.Error{Op: ue.Op, URL: u, Err: ue.Err}
}
