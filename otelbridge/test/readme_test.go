package test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"testing/synctest"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/otelbridge"
)

// The README's "In production" snippet, as written there (with a breaker
// that opens at the first 503 and an upstream that answers 503): it builds,
// and its errors.As finds the *breaker.CircuitOpenError once the breaker is
// open.
func TestReadmeInProductionSnippet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		meterProvider, tracerProvider := sdkmetric.NewMeterProvider(), sdktrace.NewTracerProvider()
		ctx, token := context.Background(), "t0ken"
		cb := breaker.DefaultConfig()
		cb.FailureThreshold = 1

		bridge, err := otelbridge.New( // OpenTelemetry metrics and spans
			otelbridge.WithMeterProvider(meterProvider),   // yours; without these, the global providers,
			otelbridge.WithTracerProvider(tracerProvider)) // which record nothing until an SDK is set
		if err != nil {
			t.Fatal(err)
		}
		client, err := integrations.NewEnterpriseClient("notion", "tenant-123", // breaker + slog
			integrations.WithTelemetry(bridge),
			integrations.WithOnRequest(func(ev httpadapter.RequestEvent) { /* your metrics */ }),
			integrations.WithBreaker(cb), integrations.WithLogger(slog.New(slog.DiscardHandler)),
			integrations.WithBaseTransport(handlerTransport(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })))
		if err != nil {
			t.Fatal(err)
		}
		var opened bool
		for range 3 {
			resp, err := client.Request(ctx, http.MethodGet, "/v1/users/me", httpadapter.Header("Authorization", "Bearer "+token))
			if resp != nil {
				_ = resp.Body.Close()
			}
			var open *breaker.CircuitOpenError
			if errors.As(err, &open) { /* the breaker is open: fail fast until open.RetryAt */
				opened = !open.RetryAt.IsZero()
			}
		}
		if !opened {
			t.Error("errors.As never found a *breaker.CircuitOpenError with a RetryAt")
		}
	})
}
