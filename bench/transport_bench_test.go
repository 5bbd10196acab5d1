package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/policy"
)

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
	for _, c := range []struct {
		name string
		rt   func(*testing.B, *http.Transport) http.RoundTripper
	}{{"net-http", bare}, {"dynlimit", adapted}} {
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
