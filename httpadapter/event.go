package httpadapter

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/signal"
)

// RequestEvent is what the Transport reports for one logical request, once
// it is over, retries included: the original design's metrics event. It
// holds no header, no query string and no body, so that it can be logged or
// exported as it is.
type RequestEvent struct {
	// Integration names the API: [WithIntegration], else the limiter's
	// name.
	Integration string
	// Tenant is who the request was made for: [ContextWithTenant] on the
	// request's context, else [WithTenant]; empty when neither says.
	Tenant string
	// Method is the request's method ("GET" when it had none).
	Method string
	// Host is the URL's host, port included.
	Host string
	// Route is the path as a template ([WithRoute]; by default
	// [RouteTemplate]): low cardinality, no query string.
	Route string
	// SecretPath is set when the request's path holds a secret
	// ([WithSecretPath]): a record of its URL must use Route in place of
	// the path.
	SecretPath bool
	// Status is the status of the last response the upstream sent, on
	// any attempt: that of the response returned, or, when the request
	// ended in an error (retries exhausted after 503s, a Retry-After past
	// the max wait), the last one seen before it. 0 when no attempt got a
	// response.
	Status int
	// Attempts is the number of attempts sent to the upstream.
	Attempts int
	// Start is when the Transport got the request.
	Start time.Time
	// Elapsed is the time from Start to the end of the last attempt (to
	// the response headers, not the body, which the caller reads later).
	Elapsed time.Duration
	// Wait is the time spent waiting for permits, over all attempts.
	Wait time.Duration
	// Backoff is the time slept between attempts (Retry-After or backoff).
	Backoff time.Duration
	// Upstream is the time spent in the base transport, over all attempts.
	Upstream time.Duration
	// Signal is how the last attempt was classified.
	Signal signal.Signal
	// Snapshot is the limiter's, once the request is over. It is taken
	// when a callback ([WithOnRequest]) or a logger is set; instruments
	// alone get it zero, as reading a shared bucket costs a call.
	Snapshot dynlimit.Snapshot
	// ErrKind says why the request failed: one of the ErrKind constants;
	// empty when it did not.
	ErrKind string
	// Err is the error RoundTrip returned; nil on a response. The
	// Transport's own errors quote only a redacted URL ([RedactURL]), but a
	// base transport's error is passed on as it is and may quote one in
	// full (an *url.Error, if the base is an http.Client's): log
	// [RequestEvent.Error] instead.
	Err error
}

// Error returns Err's message with the query string and user info of any
// URL in it removed (net/http's errors quote the full URL, and a query
// string may hold a token); empty when Err is nil.
func (e *RequestEvent) Error() string { return RedactError(e.Err) }

// The kinds of failure a [RequestEvent] reports, as ErrKind; [ErrorKind]
// tells one from an error. They are metric attribute values too.
const (
	// ErrKindWaitTooLong: a permit or a retry would have come after the
	// deadline or the max wait ([ErrWaitTooLong]).
	ErrKindWaitTooLong = "wait_too_long"
	// ErrKindRetriesExhausted: every attempt allowed was throttled or
	// overloaded ([ErrRetriesExhausted]).
	ErrKindRetriesExhausted = "retries_exhausted"
	// ErrKindCircuitOpen: the circuit breaker refused the request before
	// any HTTP call ([WithBreaker]).
	ErrKindCircuitOpen = "circuit_open"
	// ErrKindCanceled: the request's context ended.
	ErrKindCanceled = "canceled"
	// ErrKindTimeout: the request's context passed its deadline, or the
	// base transport timed out.
	ErrKindTimeout = "timeout"
	// ErrKindUnreachable: no request reached the upstream: its host name
	// did not resolve, or the connection was refused or found no route
	// ([ErrUnreachable]).
	ErrKindUnreachable = "unreachable"
	// ErrKindTransport: the base transport failed otherwise (a connection
	// reset, a TLS failure, a response cut short...).
	ErrKindTransport = "transport"
)

// ErrorKind returns the ErrKind constant that describes err, or "" for a
// nil err.
func ErrorKind(err error) string {
	if err == nil {
		return "" // before ne below, which escapes: no allocation without an error
	}
	var ne interface{ Timeout() bool }
	switch {
	case errors.Is(err, ErrWaitTooLong):
		return ErrKindWaitTooLong
	case errors.Is(err, ErrRetriesExhausted):
		return ErrKindRetriesExhausted
	case errors.Is(err, breaker.ErrOpen):
		return ErrKindCircuitOpen
	case errors.Is(err, ErrUnreachable):
		return ErrKindUnreachable
	case errors.Is(err, context.Canceled):
		return ErrKindCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrKindTimeout
	}
	return ErrKindTransport
}

// RedactError returns err's message with every URL that an *url.Error in
// its chain quotes redacted as [RedactURL] does: without user info, query
// string and fragment, and with its path as a route template, any of which
// may hold credentials. The Transport's own errors ([*Error]) carry a
// redacted URL already. Empty for a nil err.
func RedactError(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for e := err; e != nil; e = errors.Unwrap(e) {
		var ue *url.Error
		if !errors.As(e, &ue) {
			break
		}
		if safe := redactURLString(ue.URL); ue.URL != "" && safe != ue.URL {
			// *url.Error quotes its URL with %q, escaping what a raw
			// replacement would miss. A wrapper may have printed it raw:
			// replaced too when it is absolute, and so cannot be mistaken
			// for a word of the message.
			msg = strings.ReplaceAll(msg, strconv.Quote(ue.URL), strconv.Quote(safe))
			if strings.Contains(ue.URL, "://") {
				msg = strings.ReplaceAll(msg, ue.URL, safe)
			}
		}
		e = ue
	}
	return msg
}

// redactURLString is RedactURL of the URL s, or of what can be told of it
// when it does not parse.
func redactURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactRaw(s)
	}
	return RedactURL(u)
}

type tenantKey struct{}

// ContextWithTenant returns ctx carrying the tenant a request is made for;
// the Transport reports it in its [RequestEvent] and logs.
func ContextWithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// TenantFromContext returns the tenant [ContextWithTenant] put in ctx.
func TenantFromContext(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(tenantKey{}).(string)
	return t, ok
}
