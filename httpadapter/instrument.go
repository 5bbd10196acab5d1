package httpadapter

import (
	"context"
	"net/http"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// Instrument follows a Transport's requests from the inside: the
// OpenTelemetry bridge (package otelbridge) implements it to make a span
// per request, a child span per wait for a permit and per attempt. Its
// methods are called synchronously on the caller's goroutine, and each
// Start has its End. A Start method may return a context derived from ctx
// (a span's); what follows it runs under that context, so an attempt's
// context reaches the base transport.
type Instrument interface {
	// StartRequest is called when the Transport gets req; ev has the
	// request's identity (integration, tenant, method, host, route)
	// filled in.
	StartRequest(ctx context.Context, req *http.Request, ev *RequestEvent) context.Context
	// StartWait and EndWait bracket the wait before attempt (1 for the
	// first): the backoff or Retry-After the last attempt called for, then
	// the wait for permits, which took waited; err is why no permit came.
	StartWait(ctx context.Context, attempt int) context.Context
	EndWait(ctx context.Context, attempt int, waited time.Duration, err error)
	// StartAttempt and EndAttempt bracket attempt: req as it is sent, then
	// the response or the error of the base transport, how it was
	// classified, and the time to it.
	StartAttempt(ctx context.Context, req *http.Request, attempt int) context.Context
	EndAttempt(ctx context.Context, attempt int, resp *http.Response, err error, sig signal.Signal, took time.Duration)
	// EndRequest is called once the request is over, with its complete
	// event.
	EndRequest(ctx context.Context, ev *RequestEvent)
}

// HeaderInjector is an [Instrument] that also writes headers into each
// attempt before it is sent, such as the trace context of the attempt's
// span (otelbridge does). The Transport calls InjectHeaders after
// StartAttempt, with that attempt's context, on a copy of the request: the
// caller's request is never changed.
type HeaderInjector interface {
	InjectHeaders(ctx context.Context, h http.Header)
}
