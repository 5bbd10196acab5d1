package simtest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The same scenario, seed and strategy print byte-identical results.
func TestDeterministic(t *testing.T) {
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			var out [2][]byte
			for i := range out {
				r, err := Run(sc, Default())
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if err := r.WriteSummary(&buf); err != nil {
					t.Fatal(err)
				}
				js, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				out[i] = append(buf.Bytes(), js...)
			}
			if !bytes.Equal(out[0], out[1]) {
				t.Errorf("two runs differ:\n%s\n%s", out[0], out[1])
			}
		})
	}
}

// A different seed gives a different run (the seed is used at all).
func TestSeedMatters(t *testing.T) {
	sc, _ := ScenarioByName("S1")
	a, err := Run(sc, Default())
	if err != nil {
		t.Fatal(err)
	}
	sc.Seed++
	b, err := Run(sc, Default())
	if err != nil {
		t.Fatal(err)
	}
	if a.Sent == b.Sent && a.LatencyP50 == b.LatencyP50 && a.LatencyP99 == b.LatencyP99 {
		t.Errorf("seeds %d and %d gave the same run", sc.Seed-1, sc.Seed)
	}
}

// BenchmarkSimulate reports simulated requests per wall-clock second.
func BenchmarkSimulate(b *testing.B) {
	sc, _ := ScenarioByName("S1")
	var sent uint64
	b.ReportAllocs()
	for b.Loop() {
		r, err := Run(sc, Default())
		if err != nil {
			b.Fatal(err)
		}
		sent += r.Sent
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "sim-req/s")
}
