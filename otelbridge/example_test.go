package otelbridge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/otelbridge"
)

// Wire a limiter and its Transport to OpenTelemetry: the bridge observes
// the limiter (rate changes, outcomes), reports it in its gauges once
// registered, and instruments the Transport's requests and attempts. With
// no provider given it records into the global ones (otel.SetMeterProvider,
// otel.SetTracerProvider), which record nothing until an SDK is set; pass
// WithMeterProvider and WithTracerProvider to choose. The otelbridge/test
// module reads what it records with the SDK (docs/metrics.md lists it).
func ExampleNew() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer upstream.Close()

	bridge, err := otelbridge.New()
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
		fmt.Println(resp.Status)
	}
	fmt.Println("permits granted:", lim.Snapshot().Counters.Granted)
	// Output:
	// 200 OK
	// 200 OK
	// 200 OK
	// permits granted: 3
}
