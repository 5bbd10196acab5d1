package test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/otelbridge"
	"github.com/dynlimit/dynlimit/policy"
)

// harness is a bridge recording into a manual reader and a span recorder.
type harness struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	bridge *otelbridge.Bridge
	tp     *sdktrace.TracerProvider // the bridge's, for another instrumentation beside it
	mp     *sdkmetric.MeterProvider
}

func newHarness(t *testing.T, opts ...otelbridge.Option) *harness {
	t.Helper()
	h := &harness{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	b, err := otelbridge.New(append([]otelbridge.Option{otelbridge.WithMeterProvider(mp), otelbridge.WithTracerProvider(tp)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.bridge, h.tp, h.mp = b, tp, mp
	return h
}

func (h *harness) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelbridge.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, otelbridge.ScopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// scripted answers each request with the next status; the last repeats.
type scripted struct {
	mu       sync.Mutex
	statuses []int
	n        int
	parents  []string // the traceparent header of each attempt
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	code := s.statuses[min(s.n, len(s.statuses)-1)]
	s.n++
	s.parents = append(s.parents, req.Header.Get("Traceparent"))
	s.mu.Unlock()
	h := http.Header{}
	if code == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// assertSum checks the counter name in m; its description is prose,
// checked by reading docs/metrics.md, not here.
func assertSum(t *testing.T, m map[string]metricdata.Metrics, name, unit string, points ...metricdata.DataPoint[int64]) {
	t.Helper()
	want := sum(name, unit, points...)
	want.Description = m[name].Description
	metricdatatest.AssertEqual(t, want, m[name], metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func sum(name, unit string, points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Unit: unit, Data: metricdata.Sum[int64]{
		Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: points,
	}}
}

func point(v int64, kv ...attribute.KeyValue) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attribute.NewSet(kv...), Value: v}
}

// A throttled request retried once: its metrics, and a span per request
// with a wait and a client span per attempt.
func TestTransportMetricsAndSpans(t *testing.T) {
	// The global propagator does nothing until an application sets one.
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, otelbridge.WithHTTPClientMetrics(true))
		a := policy.DefaultAIMD()
		a.Rate, a.Burst = 50, 50
		lim, err := dynlimit.New(dynlimit.WithName("notion"), dynlimit.WithPolicy(a), dynlimit.WithObserver(h.bridge.Observer()))
		if err != nil {
			t.Fatal(err)
		}
		h.bridge.RegisterLimiter(lim)
		up := &scripted{statuses: []int{429, 200}}
		rt, err := httpadapter.NewTransport(up, lim, h.bridge.TransportOption())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.notion.com/v1/users/42?token=secret", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()

		m := h.metrics(t)
		base := []attribute.KeyValue{
			attribute.String("dynlimit.integration", "notion"),
			attribute.String("http.request.method", "GET"),
			attribute.String("server.address", "api.notion.com"),
		}
		with := func(kv ...attribute.KeyValue) []attribute.KeyValue {
			return append(append([]attribute.KeyValue(nil), base...), kv...)
		}
		assertSum(t, m, "dynlimit.rate_limiting.requests", "{request}",
			point(1, with(attribute.String("dynlimit.result", "throttled"))...),
			point(1, with(attribute.String("dynlimit.result", "success"))...),
		)
		assertSum(t, m, "dynlimit.rate_limiting.retries", "{retry}", point(1, base...))
		assertSum(t, m, "dynlimit.rate_limiting.permits", "{permit}",
			point(1, attribute.String("dynlimit.limiter", "notion"), attribute.String("dynlimit.result", "throttled")),
			point(1, attribute.String("dynlimit.limiter", "notion"), attribute.String("dynlimit.result", "success")),
		)
		assertSum(t, m, "dynlimit.rate_limiting.rate.decreases", "{decrease}",
			point(1, attribute.String("dynlimit.limiter", "notion")))

		waits, ok := m["dynlimit.rate_limiting.wait.duration"].Data.(metricdata.Histogram[float64])
		if !ok || len(waits.DataPoints) != 1 || waits.DataPoints[0].Count != 2 {
			t.Errorf("wait.duration = %+v, want 2 waits in one series", m["dynlimit.rate_limiting.wait.duration"].Data)
		}
		dur, ok := m["http.client.request.duration"].Data.(metricdata.Histogram[float64])
		if !ok || len(dur.DataPoints) != 2 {
			t.Errorf("http.client.request.duration = %+v, want a series per status", m["http.client.request.duration"].Data)
		}
		rate, ok := m["dynlimit.rate_limiting.rate"].Data.(metricdata.Gauge[float64])
		if !ok || len(rate.DataPoints) != 1 || rate.DataPoints[0].Value >= 50 {
			t.Errorf("rate gauge = %+v, want one point below the initial 50/s", m["dynlimit.rate_limiting.rate"].Data)
		}

		spans := h.spans.Ended()
		var names []string
		for _, s := range spans {
			names = append(names, s.Name())
		}
		want := []string{"dynlimit.wait", "GET /v1/users/{}", "dynlimit.wait", "GET /v1/users/{}", "GET /v1/users/{}"}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("spans %v, want %v", names, want)
		}
		parent := spans[4]
		for _, s := range spans[:4] {
			if s.Parent().SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("span %s is not a child of the request's", s.Name())
			}
		}
		if spans[1].SpanKind() != trace.SpanKindClient || spans[3].SpanKind() != trace.SpanKindClient || parent.SpanKind() != trace.SpanKindInternal {
			t.Error("attempt spans are not client spans, or the request's is not internal")
		}
		for _, kv := range []struct{ key, want string }{
			{"url.template", "/v1/users/{}"}, {"url.scheme", "https"}, {"network.protocol.version", "1.1"},
			{"http.request.method", "GET"}, {"server.address", "api.notion.com"},
		} {
			if got := attr(spans[3], kv.key).AsString(); got != kv.want {
				t.Errorf("attempt span's %s = %q, want %q", kv.key, got, kv.want)
			}
		}
		if got := attr(spans[3], "server.port").AsInt64(); got != 443 {
			t.Errorf("server.port = %d, want 443", got)
		}
		// Each attempt carried its own span's trace context, and the
		// caller's request was left as it was.
		for i, s := range []sdktrace.ReadOnlySpan{spans[1], spans[3]} {
			want := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"
			if got := up.parents[i]; got != want {
				t.Errorf("attempt %d sent traceparent %q, want %q", i+1, got, want)
			}
		}
		if len(req.Header) != 0 {
			t.Errorf("the caller's request got headers %v", req.Header)
		}
		if attr(spans[1], "http.request.resend_count").Type() != attribute.EMPTY {
			t.Error("the first attempt has a resend count")
		}
		if got := attr(spans[3], "http.request.resend_count").AsInt64(); got != 1 {
			t.Errorf("second attempt's resend count = %d, want 1", got)
		}
		if got := attr(spans[1], "http.response.status_code").AsInt64(); got != 429 {
			t.Errorf("first attempt's status = %d, want 429", got)
		}
		if got := attr(spans[3], "url.full").AsString(); got != "https://api.notion.com/v1/users/42?token=REDACTED" {
			t.Errorf("url.full = %q, want the real URL with the token's value redacted", got)
		}
		if got := attr(spans[3], "url.template").AsString(); got != "/v1/users/{}" {
			t.Errorf("url.template = %q, want the route template", got)
		}
		if waited := spans[2].EndTime().Sub(spans[2].StartTime()); waited < time.Second {
			t.Errorf("second wait span lasts %v, want the 1 s Retry-After in it", waited)
		}
		for _, s := range spans {
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.String(), "secret") {
					t.Errorf("span %s holds %s=%s", s.Name(), kv.Key, kv.Value.String())
				}
			}
		}
	})
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// Without a provider the bridge uses the globals, which do nothing by
// default: it must still work.
func TestNewWithGlobals(t *testing.T) {
	b, err := otelbridge.New()
	if err != nil {
		t.Fatal(err)
	}
	lim, err := dynlimit.New(dynlimit.WithObserver(b.Observer()))
	if err != nil {
		t.Fatal(err)
	}
	b.RegisterLimiter(lim)
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
}

// With WithClientSpans(false), for otelhttp as the base transport, the
// attempt spans are internal (otelhttp makes the CLIENT span of each); with
// WithPropagation(false) nothing is written into the attempts' headers. A
// request whose final answer is a 5xx, returned as a response, ends its
// span with error.type and an Error status.
func TestAttemptSpansBesideAnotherClientInstrumentation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, otelbridge.WithClientSpans(false), otelbridge.WithPropagation(false))
		lim, err := dynlimit.New(dynlimit.WithObserver(h.bridge.Observer()))
		if err != nil {
			t.Fatal(err)
		}
		up := &scripted{statuses: []int{503}}
		rt, err := httpadapter.NewTransport(up, lim, h.bridge.TransportOption(), httpadapter.WithMaxRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://api.example.com/v1/items", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		spans := h.spans.Ended()
		var attempt, request sdktrace.ReadOnlySpan
		for _, s := range spans {
			if s.Name() == "GET /v1/items" && attempt == nil {
				attempt = s
			} else if s.Name() == "GET /v1/items" {
				request = s
			}
		}
		if attempt == nil || request == nil {
			t.Fatalf("spans %v", spans)
		}
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindClient {
				t.Errorf("span %s is a CLIENT span", s.Name())
			}
		}
		if up.parents[0] != "" {
			t.Errorf("traceparent %q sent with propagation off", up.parents[0])
		}
		if request.Status().Code != codes.Error || attr(request, "error.type").AsString() != "503" {
			t.Errorf("request span status %v, error.type %q; want Error and 503", request.Status(), attr(request, "error.type").AsString())
		}
	})
}

var _ integrations.GaugeRegistry = (*otelbridge.Bridge)(nil)

// integrations.WithTelemetry of a Bridge registers what the client makes:
// its limiter's gauges and its breaker's state show without a Register call.
func TestWithTelemetryRegistersTheGauges(t *testing.T) {
	h := newHarness(t)
	_, err := integrations.NewEnterpriseClient("notion", "tenant-7", integrations.WithTelemetry(h.bridge),
		integrations.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	m := h.metrics(t)
	rate, ok := m["dynlimit.rate_limiting.rate"].Data.(metricdata.Gauge[float64])
	if !ok || len(rate.DataPoints) != 1 {
		t.Fatalf("rate gauge = %+v, want the client's limiter", m["dynlimit.rate_limiting.rate"].Data)
	}
	if v, _ := rate.DataPoints[0].Attributes.Value("dynlimit.limiter"); v.AsString() != "notion" {
		t.Errorf("rate gauge of %q, want notion", v.AsString())
	}
	state, ok := m["dynlimit.rate_limiting.breaker.state"].Data.(metricdata.Gauge[int64])
	if !ok || len(state.DataPoints) != 1 {
		t.Fatalf("breaker state gauge = %+v, want the client's breaker", m["dynlimit.rate_limiting.breaker.state"].Data)
	}
	if v, _ := state.DataPoints[0].Attributes.Value("dynlimit.breaker"); v.AsString() != "notion/tenant-7" {
		t.Errorf("breaker gauge of %q, want notion/tenant-7", v.AsString())
	}
}

// WithURLFull replaces how url.full is made: here by the route template,
// for an API that keeps secrets in its paths.
func TestWithURLFull(t *testing.T) {
	for _, tt := range []struct {
		opt  otelbridge.Option
		want string
	}{
		{nil, "https://REDACTED:REDACTED@api.example.com/v1/users/42?page=2&api_key=REDACTED"},
		{otelbridge.WithURLFull(nil), "https://REDACTED:REDACTED@api.example.com/v1/users/42?page=2&api_key=REDACTED"},
		{otelbridge.WithURLFull(httpadapter.RedactURL), "https://api.example.com/v1/users/{}"},
	} {
		h := newHarness(t, tt.opt)
		lim, err := dynlimit.New()
		if err != nil {
			t.Fatal(err)
		}
		rt, err := httpadapter.NewTransport(&scripted{statuses: []int{200}}, lim, h.bridge.TransportOption())
		if err != nil {
			t.Fatal(err)
		}
		got := urlFulls(t, h, rt, http.MethodGet, "https://u:p@api.example.com/v1/users/42?page=2&api_key=k#f")
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("url.full %q, want [%q]", got, tt.want)
		}
	}
}

// An integration that marks its secret paths (Config.SecretPath) gets the
// route in url.full for those, whatever their shape, and the real path for
// the rest.
func TestSecretPathInURLFull(t *testing.T) {
	for _, tt := range []struct{ integration, url, want string }{
		{"slack", "https://slack.com/api/users.info?user=U1&token=t", "https://slack.com/api/users.info?user=U1&token=REDACTED"},
		{"slack", "https://proxy.internal/actions/T0/123/hellosecret", "https://proxy.internal/actions/{}/{}/{}"},
		{"slack", "https://hooks.slack.com/services/TEAM/BOT/hello?x=1", "https://hooks.slack.com/services/{}/{}/{}?x=1"},
		{"zapier", "https://hooks.zapier.com/hooks/catch/123456/hello/", "https://hooks.zapier.com/hooks/catch/{}/{}"},
		{"zapier", "https://api.zapier.com/v1/zaps/42", "https://api.zapier.com/v1/zaps/42"},
		{"github", "https://api.github.com/repos/golang/go/issues/1", "https://api.github.com/repos/golang/go/issues/1"},
	} {
		h := newHarness(t)
		rt, err := integrations.NewTransport(tt.integration, &scripted{statuses: []int{200}}, integrations.WithTelemetry(h.bridge))
		if err != nil {
			t.Fatal(err)
		}
		got := urlFulls(t, h, rt, http.MethodPost, tt.url)
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s %s: url.full %q, want [%q]", tt.integration, tt.url, got, tt.want)
		}
	}
}

// urlFulls sends one request with rt and returns the url.full of every
// span h recorded.
func urlFulls(t *testing.T, h *harness, rt http.RoundTripper, method, url string) []string {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), method, url, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	var got []string
	for _, s := range h.spans.Ended() {
		if v := attr(s, "url.full"); v.Type() != attribute.EMPTY {
			got = append(got, v.AsString())
		}
	}
	return got
}
