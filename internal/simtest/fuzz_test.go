package simtest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Scenario files are outside input: whatever they hold, ParseScenario
// either refuses them or gives a valid scenario that loads back the same
// from its own JSON, and a short run of it behaves.
func FuzzParseScenario(f *testing.F) {
	for _, sc := range Scenarios() {
		data, err := json.Marshal(sc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		``,
		`{`,
		`null`,
		`[]`,
		`{}`,
		`{"name": "x", "duration": "10s", "upstream": {"rate": 10}} trailing`,
		`{"name": "x", "duration": "10s", "upstream": {"rate": 10}}{}`,
		`{"name": "x", "duration": "abc", "upstream": {"rate": 10}}`,
		`{"name": "x", "duration": 1e300, "upstream": {"rate": 10}}`,
		`{"name": "x", "duration": -1, "upstream": {"rate": 10}}`,
		`{"name": "x", "duration": 10, "upstream": {"rate": 0.5}}`,
		`{"name": "x", "duration": 10, "upstream": {"model": "fixed_window", "limit": 3, "window": 0.5, "headers": true, "penalty": 2}}`,
		`{"name": "x", "duration": 10, "upstream": {"rate": 3, "profile": [{"at": 2, "rate": 1}, {"at": 1, "rate": 2}]}}`,
		`{"name": "x", "duration": 10, "upstream": {"rate": 3, "outages": [{"from": 1, "to": 2}, {"from": 1.5, "to": 3}], "throttles": [{"from": 0, "to": 1}]}}`,
		`{"name": "x", "duration": 10, "upstream": {"rate": 3}, "clients": {"arrivals": 20, "queue": 2, "count": 2, "max_retries": 0}}`,
		`{"name": "x", "duration": 10, "upstream": {"rate": 3, "latency": {"min": 2, "mean": 1}}}`,
		`{"name": "x", "duration": 10, "upstream": {"rate": 3, "bogus": true}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario(data)
		if err != nil {
			return
		}
		if err := sc.Validate(); err != nil {
			t.Fatalf("ParseScenario gave a scenario that does not validate: %v", err)
		}
		again, err := json.Marshal(sc)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := ParseScenario(again)
		if err != nil {
			t.Fatalf("ParseScenario of its own output %s: %v", again, err)
		}
		if diff := cmp.Diff(sc, back); diff != "" {
			t.Fatalf("round trip (-parsed +reparsed):\n%s", diff)
		}

		// A short, small run, so that each input costs milliseconds.
		sc.Duration = min(sc.Duration, Duration(10*time.Second))
		c := &sc.Clients
		c.Workers = min(c.Workers, 16)
		c.Count = min(c.Count, 4)
		c.Arrivals = min(c.Arrivals, 100)
		// The simulator adds delays to instants and draws interarrival
		// times without saturating, and reserves room for one latency per
		// request the upstream could serve: inputs past these bounds leave
		// what it is built for (an hour of delay, 0.01 arrivals a second,
		// a million requests of capacity).
		u := &sc.Upstream
		for _, x := range []*Duration{&u.RetryAfter, &u.Penalty, &u.Latency.Min, &u.Latency.Mean} {
			*x = min(*x, Duration(time.Hour))
		}
		if c.Arrivals > 0 {
			c.Arrivals = max(c.Arrivals, 0.01)
		}
		if u.Model == ModelFixedWindow && sc.Duration/u.Window > 1e5 {
			return
		}
		if capacity(*u, sc.Duration.D()) > 1e6 {
			return
		}

		r, err := Run(sc, Default())
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if r.Goodput < 0 {
			t.Errorf("goodput %v < 0", r.Goodput)
		}
		if r.ThrottledShare < 0 || r.ThrottledShare > 1 {
			t.Errorf("throttled share %v outside [0, 1]", r.ThrottledShare)
		}
		if r.Succeeded+r.Throttled+r.Overloaded > r.Sent {
			t.Errorf("%d succeeded, %d throttled, %d overloaded of %d sent", r.Succeeded, r.Throttled, r.Overloaded, r.Sent)
		}
		if r.LatencyP50 < 0 || r.LatencyP99 < r.LatencyP50 {
			t.Errorf("latency p50 %v, p99 %v", r.LatencyP50, r.LatencyP99)
		}
		if want := int(sc.Duration.D() / time.Second); len(r.Trace) != want {
			t.Errorf("%d trace samples over %v, want %d", len(r.Trace), sc.Duration.D(), want)
		}
	})
}
