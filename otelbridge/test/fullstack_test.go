package test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/otelbridge"
)

// handlerTransport serves requests with a handler, without a network, so
// that a test can run in a synctest bubble.
type handlerTransport http.HandlerFunc

func (h handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	rec := httptest.NewRecorder()
	h(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// The whole stack, as integrations.NewEnterpriseClient assembles it, against an upstream
// that throttles, then recovers, then goes down: the callback, the logs,
// the metrics and the spans each tell the story, and no credential appears
// in any of them.
func TestEnterpriseClientFullStack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const secret = "s3cr3t-t0ken"
		var n atomic.Int32
		up := handlerTransport(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+secret {
				t.Errorf("the upstream did not get the credential")
			}
			switch i := n.Add(1); {
			case i == 1:
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			case i <= 3:
				fmt.Fprint(w, `{"object":"list"}`)
			default:
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})

		var logs bytes.Buffer
		logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		reader := sdkmetric.NewManualReader()
		spans := tracetest.NewSpanRecorder()
		bridge, err := otelbridge.New(
			otelbridge.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))),
			otelbridge.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))))
		if err != nil {
			t.Fatal(err)
		}
		var events []httpadapter.RequestEvent
		cb := breaker.DefaultConfig()
		cb.FailureThreshold, cb.OpenInterval = 3, time.Minute
		client, err := integrations.NewEnterpriseClient("notion", "tenant-123",
			integrations.WithBaseTransport(up),
			integrations.WithBreaker(cb),
			integrations.WithLogger(logger),
			integrations.WithTelemetry(bridge),
			integrations.WithOnRequest(func(ev httpadapter.RequestEvent) { events = append(events, ev) }),
			integrations.WithDefaultHeader("Notion-Version", "2022-06-28"),
		)
		if err != nil {
			t.Fatal(err)
		}
		call := func() (int, error) {
			resp, err := client.Request(context.Background(), http.MethodGet, "/v1/databases/abc123?filter_token="+secret,
				httpadapter.Header("Authorization", "Bearer "+secret), httpadapter.Header("Cookie", "sid="+secret))
			if err != nil {
				return 0, err
			}
			_ = resp.Body.Close()
			return resp.StatusCode, nil
		}
		// 1: a 429, retried after its Retry-After: 200. 2: 200.
		for range 2 {
			if code, err := call(); err != nil || code != 200 {
				t.Fatalf("got %d, %v; want 200", code, err)
			}
		}
		// 3: 503, retried three times; the third overload in a row opens the
		// breaker, which stops the retries.
		if _, err := call(); err == nil || !strings.Contains(err.Error(), "circuit open") {
			t.Fatalf("err = %v, want the circuit open", err)
		}
		// 4: refused before any call.
		sent := n.Load()
		if _, err := call(); err == nil || n.Load() != sent {
			t.Fatalf("err = %v, %d calls more; want a refusal and none", err, n.Load()-sent)
		}

		// The callback: one event per logical request.
		if len(events) != 4 {
			t.Fatalf("%d events, want 4", len(events))
		}
		if ev := events[0]; ev.Integration != "notion" || ev.Tenant != "tenant-123" || ev.Attempts != 2 || ev.Status != 200 ||
			ev.Route != "/v1/databases/{}" || ev.Backoff != 2*time.Second {
			t.Errorf("first event = %+v", ev)
		}
		if ev := events[3]; ev.ErrKind != httpadapter.ErrKindCircuitOpen || ev.Attempts != 0 {
			t.Errorf("last event = %+v, want circuit_open, no attempt", ev)
		}

		// The logs.
		out := logs.String()
		for _, want := range []string{`"msg":"throttled"`, `"msg":"rate changed"`, `"msg":"request"`, `"msg":"request failed"`,
			`"msg":"circuit breaker open"`, `"tenant":"tenant-123"`, `"error_kind":"circuit_open"`} {
			if !strings.Contains(out, want) {
				t.Errorf("logs lack %s", want)
			}
		}

		// The metrics.
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		results := map[string]int64{}
		var dump strings.Builder
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				fmt.Fprintf(&dump, "%s %+v\n", m.Name, m.Data)
				if m.Name != "dynlimit.rate_limiting.requests" {
					continue
				}
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					r, _ := dp.Attributes.Value("dynlimit.result")
					results[r.AsString()] += dp.Value
				}
			}
		}
		if results["throttled"] != 1 || results["success"] != 2 || results["overloaded"] != 3 || results["circuit_open"] != 2 {
			t.Errorf("requests by result = %v, want 1 throttled, 2 success, 3 overloaded, 2 circuit_open", results)
		}

		// The spans: one per request with its waits and attempts.
		var roots, attempts int
		for _, s := range spans.Ended() {
			switch {
			case s.Name() == "GET /v1/databases/{}" && s.SpanKind() == trace.SpanKindInternal:
				roots++
			case s.Name() == "GET /v1/databases/{}" && s.SpanKind() == trace.SpanKindClient:
				attempts++
			}
			fmt.Fprintf(&dump, "span %s %v %v\n", s.Name(), s.Attributes(), s.Status())
		}
		if roots != 4 || attempts != 6 {
			t.Errorf("%d request spans and %d attempt spans, want 4 and 6", roots, attempts)
		}

		// No credential anywhere.
		everything := out + dump.String() + fmt.Sprintf("%+v", events)
		for _, ev := range events {
			everything += ev.Error()
		}
		for _, leak := range []string{secret, "Bearer", "sid="} {
			if strings.Contains(everything, leak) {
				t.Errorf("%q appears in the logs, metrics, spans or events", leak)
			}
		}
	})
}
