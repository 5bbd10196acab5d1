// Command prometheus serves dynlimit's metrics at /metrics in the Prometheus
// format, through the OpenTelemetry Prometheus exporter, while a worker
// calls an upstream that throttles now and then.
//
//	go run ./examples/prometheus              # then: curl localhost:9464/metrics
//	go run ./examples/prometheus -addr :9090 -for 30s
//
// The upstream is an in-process fake (a 429 with Retry-After: 1 on every
// tenth request) so that the example needs no account; point the worker at a
// real API by building its client with integrations.NewClient and the same
// integrations.WithTelemetry(bridge).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/otelbridge"
)

func main() {
	addr := flag.String("addr", "localhost:9464", "where to serve /metrics")
	dur := flag.Duration("for", 0, "stop after this long (0: until interrupted)")
	flag.Parse()
	if err := serve(*addr, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "prometheus:", err)
		os.Exit(1)
	}
}

func serve(addr string, dur time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dur)
		defer cancel()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("serving metrics at http://%s/metrics\n", ln.Addr())
	return run(ctx, ln, nil)
}

// run serves the metrics on ln and runs the worker until ctx ends. ready,
// when not nil, is called once a first request has been recorded.
func run(ctx context.Context, ln net.Listener, ready func()) error {
	// The exporter is a reader of the SDK's meter provider, registered
	// with its own Prometheus registry rather than the global one.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	bridge, err := otelbridge.New(otelbridge.WithMeterProvider(mp), otelbridge.WithHTTPClientMetrics(true))
	if err != nil {
		return err
	}

	var n atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%10 == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer upstream.Close()

	client, err := integrations.NewClient("notion",
		integrations.WithBaseURL(upstream.URL),
		integrations.WithTelemetry(bridge))
	if err != nil {
		return err
	}
	// The rate, tokens and in-flight gauges read the limiter when
	// Prometheus scrapes.
	if t, ok := client.Transport().(*httpadapter.Transport); ok {
		bridge.RegisterLimiter(t.Limiter())
	}

	srv := &http.Server{Handler: metricsMux(reg), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close() }()

	for first := true; ctx.Err() == nil; first = false {
		resp, err := client.Request(ctx, http.MethodGet, "/v1/users/me")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		} else if ctx.Err() == nil && !errors.Is(err, httpadapter.ErrWaitTooLong) {
			return err
		}
		if first && ready != nil {
			ready()
		}
	}
	return nil
}

func metricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
