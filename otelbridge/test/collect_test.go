package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/otelbridge"
)

// Record a limiter and its Transport into an OpenTelemetry meter provider
// (here read by hand; in production, an exporter's).
func Example_collect() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer upstream.Close()

	reader := sdkmetric.NewManualReader()
	bridge, err := otelbridge.New(otelbridge.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	if err != nil {
		panic(err)
	}
	lim, err := dynlimit.New(dynlimit.WithName("example"), dynlimit.WithObserver(bridge.Observer()))
	if err != nil {
		panic(err)
	}
	bridge.RegisterLimiter(lim)
	rt, err := httpadapter.NewTransport(nil, lim, bridge.TransportOption())
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: rt}
	for range 3 {
		resp, err := client.Get(upstream.URL + "/v1/items")
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var names []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if s, ok := m.Data.(metricdata.Sum[int64]); ok {
			names = append(names, fmt.Sprintf("%s = %d", m.Name, s.DataPoints[0].Value))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Println(n)
	}
	// Output:
	// dynlimit.rate_limiting.permits = 3
	// dynlimit.rate_limiting.requests = 3
}
