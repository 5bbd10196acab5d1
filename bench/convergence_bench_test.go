package bench

import (
	"testing"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

// BenchmarkConvergence plays each scenario of the simulator's suite with
// the default configuration, the baselines and policy.CUBIC (simtest.CUBICFor,
// its ceiling lifted above the scenario's limit where that is higher), and
// reports what the run
// achieved as custom metrics: goodput and throttled share in percent, and
// simulated requests per wall-clock second. The simulation is
// deterministic, so the metrics are the same on every machine; only
// sim-req/s and ns/op depend on it.
func BenchmarkConvergence(b *testing.B) {
	for _, sc := range simtest.Scenarios() {
		rate := sc.Upstream.RateAt(0) / float64(sc.Clients.Count)
		for _, st := range []simtest.Strategy{
			simtest.Default(),
			simtest.FixedRate("fixed+30%", 1.3*rate, 1.3*rate),
			simtest.NaiveRetry(),
			simtest.AWSAdaptive(),
			simtest.CUBICFor(sc),
		} {
			b.Run(sc.Name+"/strategy="+st.Name, func(b *testing.B) {
				var r *simtest.Result
				var sent uint64
				for b.Loop() {
					var err error
					if r, err = simtest.Run(sc, st); err != nil {
						b.Fatal(err)
					}
					sent += r.Sent
				}
				b.ReportMetric(100*r.Goodput, "goodput-%")
				b.ReportMetric(100*r.ThrottledShare, "throttled-%")
				b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "sim-req/s")
			})
		}
	}
}
