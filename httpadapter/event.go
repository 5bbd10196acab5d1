package httpadapter

import (
	"context"
	"errors"
	"net/http"
	"net/url"
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
	// Err is the error RoundTrip returned; nil on a response. It may hold a
	// URL with its query string: log [RequestEvent.Error] instead.
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
// its chain quotes stripped of user info, query string and fragment, which
// may hold credentials. Empty for a nil err.
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
		if safe := redactURLString(ue.URL); safe != ue.URL {
			msg = strings.ReplaceAll(msg, ue.URL, safe)
		}
		e = ue
	}
	return msg
}

// redactURLString strips user info, query and fragment from a URL; one it
// cannot parse is dropped whole.
func redactURLString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	if u.User == nil && u.RawQuery == "" && !u.ForceQuery && u.Fragment == "" {
		return s
	}
	return strippedURL(*u)
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

// RouteTemplate returns req's path with every segment that varies replaced
// by "{}": one that holds a digit (an ID, an issue key, a date) but is not
// a version such as v1 or v2beta, one longer than 32 bytes (a hash), or one
// that looks like a token (16 bytes or more of mixed-case letters without a
// separator). The result is a low-cardinality name for the route, fit for a
// metric attribute: "/v1/users/123/posts" → "/v1/users/{}/posts". The query
// string is never part of it.
func RouteTemplate(req *http.Request) string {
	if req.URL == nil || req.URL.Path == "" {
		return "/"
	}
	p := req.URL.Path
	if !needsTemplate(p) {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for rest := p; rest != ""; {
		var seg string
		seg, rest = nextSegment(rest)
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		if variable(seg) {
			b.WriteString("{}")
		} else {
			b.WriteString(seg)
		}
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// nextSegment splits p after its first path segment.
func nextSegment(p string) (seg, rest string) {
	p = strings.TrimLeft(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

// needsTemplate reports whether p has a segment to replace, an empty one
// or a trailing slash: the common path of words only is returned as it is,
// without allocating.
func needsTemplate(p string) bool {
	if p[0] != '/' || strings.Contains(p, "//") || len(p) > 1 && p[len(p)-1] == '/' {
		return true
	}
	for rest := p; rest != ""; {
		var seg string
		seg, rest = nextSegment(rest)
		if variable(seg) {
			return true
		}
	}
	return false
}

// variable reports whether a path segment stands for a value.
func variable(seg string) bool {
	if len(seg) > 32 || secretLike(seg) {
		return true
	}
	if !strings.ContainsAny(seg, "0123456789") {
		return false
	}
	return !isVersion(seg)
}

// secretLike reports whether seg looks like a token rather than a word: 16
// bytes or more, no separator a name would have (. - _ ~), and both upper
// and lower case letters, as in a webhook secret (T00000000/B00000000/
// XXXXXXXXXXXXXXXXXXXXXXXX). Method names such as chat.postMessage have a
// separator; resource names are lower case.
func secretLike(seg string) bool {
	if len(seg) < 16 || strings.ContainsAny(seg, ".-_~") {
		return false
	}
	var upper, lower bool
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		upper = upper || 'A' <= c && c <= 'Z'
		lower = lower || 'a' <= c && c <= 'z'
	}
	return upper && lower
}

// isVersion reports whether seg names an API version: v1, v2, V3, v1beta1,
// v2.1.
func isVersion(seg string) bool {
	if len(seg) < 2 || len(seg) > 10 || seg[0] != 'v' && seg[0] != 'V' || seg[1] < '0' || seg[1] > '9' {
		return false
	}
	for i := 2; i < len(seg); i++ {
		c := seg[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '.') {
			return false
		}
	}
	return true
}
