package test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"testing/synctest"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/otelbridge"
)

// otelhttpCase is one way to stack the bridge's Transport and otelhttp's.
type otelhttpCase struct {
	name string
	// stack returns the RoundTripper the caller uses, sending to up.
	stack func(t *testing.T, h *harness, up http.RoundTripper) http.RoundTripper
	// bridgeClients is the bridge's WithClientSpans.
	bridgeClients bool
	// clientSpans is how many CLIENT spans one request that took two
	// attempts must make: one per attempt, or one for the whole request,
	// and, with the bridge's on as well, the duplicates.
	clientSpans int
}

func otelhttpTransport(h *harness, base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base, otelhttp.WithTracerProvider(h.tp), otelhttp.WithMeterProvider(h.mp),
		otelhttp.WithPropagators(propagation.TraceContext{}))
}

func bridgeTransport(t *testing.T, h *harness, base http.RoundTripper) http.RoundTripper {
	t.Helper()
	lim, err := dynlimit.New(dynlimit.WithObserver(h.bridge.Observer()))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := httpadapter.NewTransport(base, lim, h.bridge.TransportOption())
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// The bridge beside the real otelhttp, in both orders, as docs/metrics.md
// tells to stack them: with WithClientSpans(false) the bridge's spans are
// INTERNAL and a trace holds otelhttp's CLIENT spans only, one per attempt
// when otelhttp is the base transport, one for the whole request when it
// wraps the bridge's. The upstream always gets the trace context of the
// span nearest to the wire, and every span is in the caller's trace.
func TestBesideOtelhttp(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	base := func(t *testing.T, h *harness, up http.RoundTripper) http.RoundTripper {
		return bridgeTransport(t, h, otelhttpTransport(h, up))
	}
	around := func(t *testing.T, h *harness, up http.RoundTripper) http.RoundTripper {
		return otelhttpTransport(h, bridgeTransport(t, h, up))
	}
	for _, tc := range []otelhttpCase{
		{"otelhttp as the base transport", base, false, 2},
		{"otelhttp around the bridge", around, false, 1},
		// Without WithClientSpans(false): two CLIENT spans per attempt, or
		// the attempts' inside the request's.
		{"otelhttp as the base, the bridge's CLIENT spans on", base, true, 4},
		{"otelhttp around, the bridge's CLIENT spans on", around, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, otelbridge.WithClientSpans(tc.bridgeClients))
				up := &scripted{statuses: []int{http.StatusTooManyRequests, http.StatusOK}}
				rt := tc.stack(t, h, up)

				ctx, root := h.tp.Tracer("caller").Start(context.Background(), "job")
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://u:p@api.example.com/v1/users/42?token=s3cr3t", nil)
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				root.End()

				spans := h.spans.Ended()
				byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
				var clients, attempts []sdktrace.ReadOnlySpan
				for _, s := range spans {
					byID[s.SpanContext().SpanID()] = s
					if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
						t.Errorf("span %s is in another trace", s.Name())
					}
					if s.SpanKind() == trace.SpanKindClient {
						clients = append(clients, s)
					}
					if s.InstrumentationScope().Name == otelbridge.ScopeName && attr(s, "dynlimit.outcome").Type() != attribute.EMPTY {
						attempts = append(attempts, s)
					}
				}
				if up.n != 2 || len(attempts) != 2 {
					t.Fatalf("%d attempts reached the upstream, %d attempt spans; want 2 and 2", up.n, len(attempts))
				}
				if len(clients) != tc.clientSpans {
					t.Errorf("%d CLIENT spans, want %d: %v", len(clients), tc.clientSpans, names(clients))
				}
				if tc.bridgeClients {
					return // the duplicates counted; the rest is for the documented stacks
				}
				for _, c := range clients {
					if c.InstrumentationScope().Name == otelbridge.ScopeName {
						t.Errorf("the bridge made the CLIENT span %s", c.Name())
					}
				}
				for i, a := range attempts {
					// The traceparent the upstream got is the span nearest
					// to the wire: otelhttp's below the attempt, else the
					// attempt's own.
					wire := a
					for _, c := range clients {
						if c.Parent().SpanID() == a.SpanContext().SpanID() {
							wire = c
						}
					}
					want := "00-" + wire.SpanContext().TraceID().String() + "-" + wire.SpanContext().SpanID().String() + "-01"
					if up.parents[i] != want {
						t.Errorf("attempt %d sent traceparent %q, want %q (%s)", i+1, up.parents[i], want, wire.Name())
					}
					if got := attr(a, "url.full").AsString(); got != "https://REDACTED:REDACTED@api.example.com/v1/users/42?token=REDACTED" {
						t.Errorf("the attempt's url.full = %q", got)
					}
				}
				for _, c := range clients {
					// Pinned so that the docs' warning stays true: otelhttp
					// v0.72 drops the user info of url.full, not the query.
					got := attr(c, "url.full").AsString()
					t.Logf("otelhttp's %s span: url.full = %s, parent %s", c.Name(), got, byID[c.Parent().SpanID()].Name())
					if got != "https://api.example.com/v1/users/42?token=s3cr3t" {
						t.Errorf("otelhttp's url.full = %q: docs/metrics.md says it keeps the query and drops the user info", got)
					}
				}
			})
		})
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name()+" ("+s.InstrumentationScope().Name+")")
	}
	return out
}
