package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/otelbridge"
	"github.com/dynlimit/dynlimit/policy"
)

// discard is a span exporter that drops what it gets.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkTransport compares requests through the bare http.Transport with
// the same requests through httpadapter.Transport (never-empty limiter, the
// default classifier), against one loopback server, in the same run. The
// difference is the cost the adapter adds to a real (if fast) round trip.
//
// Each sub-benchmark gets its own server and connection pool, closed at its
// end, so that neither inherits the other's idle connections or goroutines.
func BenchmarkTransport(b *testing.B) {
	bare := func(_ *testing.B, base *http.Transport) http.RoundTripper { return base }
	adapted := func(b *testing.B, base *http.Transport) http.RoundTripper {
		a := policy.DefaultAIMD()
		a.Rate, a.MaxRate, a.Burst = hugeRate, 2*hugeRate, hugeBurst
		rt, err := httpadapter.NewTransport(base, newLimiter(b, a))
		if err != nil {
			b.Fatal(err)
		}
		return rt
	}
	// bridged records every request with the OpenTelemetry bridge.
	bridged := func(traces bool) func(b *testing.B, base *http.Transport) http.RoundTripper {
		return func(b *testing.B, base *http.Transport) http.RoundTripper { return bridgedTransport(b, base, traces) }
	}
	for _, c := range []struct {
		name string
		rt   func(*testing.B, *http.Transport) http.RoundTripper
	}{{"net-http", bare}, {"dynlimit", adapted}, {"dynlimit-otel-metrics", bridged(false)}, {"dynlimit-otel", bridged(true)}} {
		b.Run("impl="+c.name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(w, "ok")
			}))
			defer srv.Close()
			base := &http.Transport{MaxIdleConnsPerHost: 64}
			defer base.CloseIdleConnections()
			client := &http.Client{Transport: c.rt(b, base)}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(srv.URL)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			})
		})
	}
}

// bridgedTransport is a Transport recorded by the OpenTelemetry bridge into
// the SDK: metrics to a manual reader and, with traces, every span sampled
// and handed to an exporter that drops it (without, the no-op tracer).
func bridgedTransport(b *testing.B, base *http.Transport, traces bool) http.RoundTripper {
	b.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	var tp trace.TracerProvider = noop.NewTracerProvider()
	if traces {
		tp = sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discard{})))
	}
	br, err := otelbridge.New(otelbridge.WithMeterProvider(mp), otelbridge.WithTracerProvider(tp))
	if err != nil {
		b.Fatal(err)
	}
	a := policy.DefaultAIMD()
	a.Rate, a.MaxRate, a.Burst = hugeRate, 2*hugeRate, hugeBurst
	lim, err := dynlimit.New(dynlimit.WithPolicy(a), dynlimit.WithObserver(br.Observer()))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := httpadapter.NewTransport(base, lim, br.TransportOption())
	if err != nil {
		b.Fatal(err)
	}
	return rt
}
