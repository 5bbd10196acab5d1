package otelbridge

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/signal"

	"time"
)

// Values of the result attribute besides the signal kinds (success,
// throttled, overloaded, failed, canceled).
const (
	// ResultRejected: a permit wait was refused, as it would have passed
	// the deadline or the max wait.
	ResultRejected = "rejected"
	// ResultCircuitOpen: the circuit breaker refused the request before
	// any HTTP call.
	ResultCircuitOpen = "circuit_open"
)

// instrument is the Transport side of the bridge.
type instrument struct{ b *Bridge }

var (
	_ httpadapter.Instrument     = instrument{}
	_ httpadapter.HeaderInjector = instrument{}
)

// Context keys of the bridge's own spans and request attributes: another
// instrument's spans may sit between them in the context.
type (
	requestKey struct{}
	waitKey    struct{}
	attemptKey struct{}
)

// request is what the bridge keeps of a logical request.
type request struct {
	span  trace.Span
	key   seriesKey // of every metric point of the request
	route string    // the route template, for the span names and url.template
	// secretPath: the path holds a secret, url.full has the route instead.
	secretPath bool
	port       int
}

// Span options made once: each one boxed per call would allocate.
var (
	internalKind = trace.WithSpanKind(trace.SpanKindInternal)
	clientKind   = trace.WithSpanKind(trace.SpanKindClient)
)

func (in instrument) StartRequest(ctx context.Context, req *http.Request, ev *httpadapter.RequestEvent) context.Context {
	r := &request{key: seriesKey{integration: ev.Integration, method: knownMethod(ev.Method)}, route: ev.Route, secretPath: ev.SecretPath}
	if req.URL != nil {
		r.key.host, r.port = req.URL.Hostname(), port(req.URL)
	}
	if in.b.cfg.tenant {
		r.key.tenant = ev.Tenant
	}
	ctx, r.span = in.b.tracer.Start(ctx, ev.Method+" "+ev.Route, internalKind)
	if r.span.IsRecording() { // not with a no-op or unsampling tracer: no attributes to build
		r.span.SetAttributes(
			IntegrationKey.String(ev.Integration),
			semconv.HTTPRequestMethodKey.String(r.key.method),
			semconv.ServerAddress(r.key.host),
			semconv.URLTemplate(ev.Route),
		)
		if r.key.tenant != "" {
			r.span.SetAttributes(TenantKey.String(r.key.tenant))
		}
	}
	return context.WithValue(ctx, requestKey{}, r)
}

func (in instrument) StartWait(ctx context.Context, attempt int) context.Context {
	ctx, span := in.b.tracer.Start(ctx, "dynlimit.wait", internalKind)
	if span.IsRecording() {
		span.SetAttributes(AttemptKey.Int(attempt))
	}
	return context.WithValue(ctx, waitKey{}, span)
}

func (in instrument) EndWait(ctx context.Context, _ int, waited time.Duration, err error) {
	r, _ := ctx.Value(requestKey{}).(*request)
	result := "granted"
	if err != nil {
		result = ResultRejected
		if !errors.Is(err, dynlimit.ErrWaitTooLong) {
			result = httpadapter.ErrorKind(err) // canceled, timeout
		}
	}
	if r != nil {
		attrs := in.b.series(r.key, result)
		in.b.waits.Record(ctx, waited.Seconds(), attrs)
		if result == ResultRejected {
			in.b.requests.Add(ctx, 1, attrs)
		}
	}
	if span, ok := ctx.Value(waitKey{}).(trace.Span); ok {
		if err != nil {
			span.SetStatus(codes.Error, result)
		}
		span.End()
	}
}

func (in instrument) StartAttempt(ctx context.Context, req *http.Request, attempt int) context.Context {
	if attempt > 1 {
		if r, ok := ctx.Value(requestKey{}).(*request); ok {
			in.b.retries.Add(ctx, 1, in.b.series(r.key, ""))
		}
	}
	r, _ := ctx.Value(requestKey{}).(*request)
	kind := clientKind
	if in.b.cfg.noClientSpans {
		kind = internalKind
	}
	name := method(req)
	if r != nil && r.route != "" {
		name += " " + r.route // {method} {url.template}, as the conventions name it
	}
	ctx, span := in.b.tracer.Start(ctx, name, kind)
	if span.IsRecording() {
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(knownMethod(method(req))),
			semconv.ServerAddress(req.URL.Hostname()),
			semconv.URLFull(in.urlFull(req.URL, r)),
			semconv.URLScheme(req.URL.Scheme),
		)
		if r != nil && r.route != "" {
			span.SetAttributes(semconv.URLTemplate(r.route))
		}
		if v := protocolVersion(req); v != "" {
			span.SetAttributes(semconv.NetworkProtocolVersion(v))
		}
		if p := port(req.URL); p > 0 {
			span.SetAttributes(semconv.ServerPort(p))
		}
		if attempt > 1 {
			span.SetAttributes(semconv.HTTPRequestResendCount(attempt - 1))
		}
	}
	return context.WithValue(ctx, attemptKey{}, span)
}

// InjectHeaders writes the trace context of the attempt in ctx into h,
// unless WithPropagation(false).
func (in instrument) InjectHeaders(ctx context.Context, h http.Header) {
	if !in.b.cfg.noPropagation {
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// protocolVersion is network.protocol.version of req as it will be sent:
// "1.1" unless the request says otherwise ("2" for HTTP/2).
func protocolVersion(req *http.Request) string {
	switch {
	case req.ProtoMajor == 2:
		return "2"
	case req.ProtoMajor == 1 && req.ProtoMinor == 0:
		return "1.0"
	}
	return "1.1"
}

func (in instrument) EndAttempt(ctx context.Context, _ int, resp *http.Response, err error, sig signal.Signal, took time.Duration) {
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	errType := ""
	switch {
	case err != nil:
		errType = httpadapter.ErrorKind(err)
	case status >= 400:
		errType = strconv.Itoa(status)
	}
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		in.b.requests.Add(ctx, 1, in.b.series(r.key, sig.Kind.String()))
		if in.b.httpDur != nil {
			attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(r.key.method), semconv.ServerAddress(r.key.host)}
			if r.port > 0 {
				attrs = append(attrs, semconv.ServerPort(r.port))
			}
			if status > 0 {
				attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
			}
			if errType != "" {
				attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
			}
			in.b.httpDur.Record(ctx, took.Seconds(), metric.WithAttributes(attrs...))
		}
	}
	span, ok := ctx.Value(attemptKey{}).(trace.Span)
	if !ok || !span.IsRecording() {
		if ok {
			span.End()
		}
		return
	}
	span.SetAttributes(OutcomeKey.String(sig.Kind.String()))
	if status > 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	if errType != "" {
		span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		span.SetStatus(codes.Error, errType)
	}
	span.End()
}

func (in instrument) EndRequest(ctx context.Context, ev *httpadapter.RequestEvent) {
	r, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return
	}
	if ev.ErrKind == httpadapter.ErrKindCircuitOpen {
		in.b.requests.Add(ctx, 1, in.b.series(r.key, ResultCircuitOpen))
	}
	if !r.span.IsRecording() {
		r.span.End()
		return
	}
	r.span.SetAttributes(AttemptsKey.Int(ev.Attempts))
	if ev.Status > 0 {
		r.span.SetAttributes(semconv.HTTPResponseStatusCode(ev.Status))
	}
	switch {
	case ev.Err != nil:
		r.span.SetAttributes(semconv.ErrorTypeKey.String(ev.ErrKind))
		r.span.SetStatus(codes.Error, ev.Error())
	case ev.Status >= 500:
		// The final answer was a server error, returned as a response
		// (retries exhausted with the last response, or not retried).
		r.span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(ev.Status)))
		r.span.SetStatus(codes.Error, strconv.Itoa(ev.Status))
	}
	r.span.End()
}

func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// urlFull is url.full of u, a request's URL: WithURLFull's function, else
// httpadapter.FullURL, with the route for the path when the Transport marks
// it secret.
func (in instrument) urlFull(u *url.URL, r *request) string {
	if f := in.b.cfg.urlFull; f != nil {
		return f(u)
	}
	if r != nil && r.secretPath {
		return httpadapter.FullURLWithRoute(u, r.route)
	}
	return httpadapter.FullURL(u)
}

// knownMethod folds a method outside HTTP's own set into "_OTHER", as the
// semantic conventions ask, so that a caller's made-up methods do not
// multiply the series.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// port returns u's port, explicit or the scheme's; 0 when unknown.
func port(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	switch u.Scheme {
	case "http":
		return 80
	case "https":
		return 443
	}
	return 0
}
