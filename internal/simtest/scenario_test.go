package simtest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Every built-in scenario, families in full, survives a trip through its
// JSON form, so the files written from them load back as the same
// scenario.
func TestParseScenarioBuiltins(t *testing.T) {
	for _, sc := range AllScenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			data, err := json.Marshal(sc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseScenario(data)
			if err != nil {
				t.Fatalf("ParseScenario(%s): %v", data, err)
			}
			if diff := cmp.Diff(sc, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseScenarioDefaults(t *testing.T) {
	tests := []struct {
		name string
		json string
		want Scenario
	}{
		{
			name: "token bucket",
			json: `{"name": "tb", "duration": 90, "upstream": {"rate": 7}}`,
			want: Scenario{
				Name: "tb", Duration: d(90 * time.Second),
				Upstream: Upstream{Model: ModelTokenBucket, Rate: 7, Burst: 7},
				Clients:  Clients{Count: 1, Workers: 8, Queue: 1000, MaxRetries: 3},
			},
		},
		{
			name: "fixed window",
			json: `{"name": "fw", "seed": 9, "duration": "1m30s", "upstream": {"model": "fixed_window", "limit": 5}}`,
			want: Scenario{
				Name: "fw", Seed: 9, Duration: d(90 * time.Second),
				Upstream: Upstream{Model: ModelFixedWindow, Limit: 5, Window: d(time.Minute)},
				Clients:  Clients{Count: 1, Workers: 8, Queue: 1000, MaxRetries: 3},
			},
		},
		{
			name: "everything set",
			json: `{
				"name": "all", "description": "d", "seed": 3, "duration": "2m",
				"upstream": {
					"model": "token_bucket", "rate": 10, "burst": 2.5, "headers": true,
					"retry_after": 1.5, "penalty": "10s",
					"latency": {"min": "20ms", "mean": 0.08},
					"profile": [{"at": 0, "rate": 4}, {"at": "1m", "rate": 12}],
					"outages": [{"from": "30s", "to": "40s"}],
					"throttles": [{"from": 0, "to": 2}]
				},
				"clients": {"count": 2, "workers": 3, "arrivals": 4.5, "queue": 5, "max_retries": 6}
			}`,
			want: Scenario{
				Name: "all", Description: "d", Seed: 3, Duration: d(2 * time.Minute),
				Upstream: Upstream{
					Model: ModelTokenBucket, Rate: 10, Burst: 2.5, Headers: true,
					RetryAfter: d(1500 * time.Millisecond), Penalty: d(10 * time.Second),
					Latency:   Latency{Min: d(20 * time.Millisecond), Mean: d(80 * time.Millisecond)},
					Profile:   []Step{{At: 0, Rate: 4}, {At: d(time.Minute), Rate: 12}},
					Outages:   []Span{{From: d(30 * time.Second), To: d(40 * time.Second)}},
					Throttles: []Span{{From: 0, To: d(2 * time.Second)}},
				},
				Clients: Clients{Count: 2, Workers: 3, Arrivals: 4.5, Queue: 5, MaxRetries: 6},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScenario([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseScenarioErrors(t *testing.T) {
	const ok = `{"name": "x", "duration": "1m", "upstream": {"rate": 10}}`
	tests := []struct {
		name string
		json string
		want string // in the error
	}{
		{"empty", ``, "EOF"},
		{"not an object", `[]`, "cannot unmarshal array"},
		{"null is an empty scenario", `null`, "duration = 0s"},
		{"unknown top-level field", `{"name": "x", "duration": "1m", "upstream": {"rate": 10}, "bogus": 1}`, `unknown field "bogus"`},
		{"unknown upstream field", `{"name": "x", "duration": "1m", "upstream": {"rate": 10, "rat": 1}}`, `unknown field "rat"`},
		{"unknown step field", `{"name": "x", "duration": "1m", "upstream": {"rate": 10, "profile": [{"at": 1, "limits": 2}]}}`, `unknown field "limits"`},
		{"unknown clients field", `{"name": "x", "duration": "1m", "upstream": {"rate": 10}, "clients": {"worker": 2}}`, `unknown field "worker"`},
		{"trailing object", ok + ` {}`, "data after the JSON object"},
		{"trailing number", ok + "\n1", "data after the JSON object"},
		{"trailing string", ok + ` "x"`, "data after the JSON object"},
		{"second scenario", ok + ok, "data after the JSON object"},
		{"wrong type", `{"name": "x", "duration": "1m", "upstream": {"rate": "ten"}}`, "upstream.rate"},
		{"bad duration string", `{"name": "x", "duration": "abc", "upstream": {"rate": 10}}`, `duration "abc"`},
		{"huge duration number", `{"name": "x", "duration": 1e300, "upstream": {"rate": 10}}`, "duration 1e300"},
		{"invalid after defaults", `{"name": "x", "duration": "1m", "upstream": {"rate": 10, "profile": [{"at": 5, "rate": 1}, {"at": 5, "rate": 2}]}}`,
			`scenario "x": upstream.profile[1].at = 5s`},
		{"too long", `{"name": "x", "duration": "1001h", "upstream": {"rate": 10}}`, "duration = 1001h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := ParseScenario([]byte(tt.json))
			if err == nil {
				t.Fatalf("ParseScenario(%s) = %+v, want an error", tt.json, sc)
			}
			if !strings.HasPrefix(err.Error(), "simtest: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want one starting with \"simtest: \" and holding %q", err, tt.want)
			}
			if diff := cmp.Diff(Scenario{}, sc); diff != "" {
				t.Errorf("a failed parse returned a scenario (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: `"1m30s"`, want: 90 * time.Second},
		{in: `90`, want: 90 * time.Second},
		{in: `1.5`, want: 1500 * time.Millisecond},
		{in: `0`, want: 0},
		{in: `"0s"`, want: 0},
		{in: `1e-9`, want: time.Nanosecond},
		{in: `-2`, want: -2 * time.Second}, // Validate says whether a negative fits the field
		{in: `"-1.5h"`, want: -90 * time.Minute},
		{in: `9e9`, want: 9e9 * time.Second},
		{in: `"2562047h"`, want: 2562047 * time.Hour},
		{in: `"abc"`, wantErr: true},
		{in: `""`, wantErr: true},
		{in: `"90"`, wantErr: true}, // a string must carry its unit
		{in: `"1x"`, wantErr: true},
		{in: `"9999999h"`, wantErr: true},
		{in: `NaN`, wantErr: true},
		{in: `Inf`, wantErr: true},
		{in: `+Inf`, wantErr: true},
		{in: `-Inf`, wantErr: true},
		{in: `1e10`, wantErr: true},
		{in: `-1e10`, wantErr: true},
		{in: `1e300`, wantErr: true},
		{in: `1e400`, wantErr: true},
		{in: `true`, wantErr: true},
		{in: `[]`, wantErr: true},
		{in: `{}`, wantErr: true},
		{in: `"\x"`, wantErr: true},
	}
	for _, tt := range tests {
		var got Duration
		err := got.UnmarshalJSON([]byte(tt.in))
		switch {
		case tt.wantErr && err == nil:
			t.Errorf("UnmarshalJSON(%s) = %v, want an error", tt.in, got.D())
		case !tt.wantErr && err != nil:
			t.Errorf("UnmarshalJSON(%s): %v", tt.in, err)
		case !tt.wantErr && got.D() != tt.want:
			t.Errorf("UnmarshalJSON(%s) = %v, want %v", tt.in, got.D(), tt.want)
		}
	}
}

func TestDurationJSONRoundTrip(t *testing.T) {
	for _, v := range []time.Duration{0, 1, time.Millisecond, 1500 * time.Millisecond, 90 * time.Second, 1000 * time.Hour, -time.Second, math.MaxInt64} {
		data, err := json.Marshal(Duration(v))
		if err != nil {
			t.Fatal(err)
		}
		if want := `"` + v.String() + `"`; string(data) != want {
			t.Errorf("Marshal(%v) = %s, want %s", v, data, want)
		}
		var back Duration
		if err := json.Unmarshal(data, &back); err != nil || back.D() != v {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", data, back.D(), err, v)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	clientDefaults := Clients{Count: 1, Workers: 8, Queue: 1000, MaxRetries: 3}
	tests := []struct {
		name string
		in   Scenario
		want Scenario
	}{
		{
			name: "empty",
			in:   Scenario{},
			// A burst below one token could never serve a request.
			want: Scenario{Upstream: Upstream{Model: ModelTokenBucket, Burst: 1}, Clients: clientDefaults},
		},
		{
			name: "burst is the rate",
			in:   Scenario{Upstream: Upstream{Rate: 12.5}},
			want: Scenario{Upstream: Upstream{Model: ModelTokenBucket, Rate: 12.5, Burst: 12.5}, Clients: clientDefaults},
		},
		{
			name: "window is a minute, and a fixed window gets no burst",
			in:   Scenario{Upstream: Upstream{Model: ModelFixedWindow, Limit: 5, Rate: 3}},
			want: Scenario{Upstream: Upstream{Model: ModelFixedWindow, Limit: 5, Rate: 3, Window: d(time.Minute)}, Clients: clientDefaults},
		},
		{
			name: "a token bucket gets no window",
			in:   Scenario{Upstream: Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 2}},
			want: Scenario{Upstream: Upstream{Model: ModelTokenBucket, Rate: 1, Burst: 2}, Clients: clientDefaults},
		},
		{
			name: "set values stay",
			in: Scenario{
				Upstream: Upstream{Model: ModelFixedWindow, Limit: 5, Window: d(time.Second)},
				Clients:  Clients{Count: 2, Workers: 3, Arrivals: 1, Queue: 4, MaxRetries: 5},
			},
			want: Scenario{
				Upstream: Upstream{Model: ModelFixedWindow, Limit: 5, Window: d(time.Second)},
				Clients:  Clients{Count: 2, Workers: 3, Arrivals: 1, Queue: 4, MaxRetries: 5},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.withDefaults()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, got.withDefaults()); diff != "" {
				t.Errorf("not idempotent (-once +twice):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	base := func() Scenario {
		return Scenario{
			Name: "base", Duration: d(time.Minute),
			Upstream: Upstream{Model: ModelTokenBucket, Rate: 10, Burst: 10},
		}.withDefaults()
	}
	fw := func(s *Scenario) {
		s.Upstream = Upstream{Model: ModelFixedWindow, Limit: 10, Window: d(time.Minute)}
	}
	tests := []struct {
		name string
		mod  func(*Scenario)
		want string // "" for valid
	}{
		{"base", func(*Scenario) {}, ""},
		{"longest duration", func(s *Scenario) { s.Duration = d(1000 * time.Hour) }, ""},
		{"burst of one", func(s *Scenario) { s.Upstream.Burst = 1 }, ""},
		{"fixed window", fw, ""},
		{"step at 0", func(s *Scenario) { s.Upstream.Profile = []Step{{At: 0, Rate: 1}} }, ""},
		{"latency min equals mean", func(s *Scenario) { s.Upstream.Latency = Latency{Min: d(time.Second), Mean: d(time.Second)} }, ""},
		{"bounds of clients", func(s *Scenario) { s.Clients = Clients{Count: 1000, Workers: 10000, Queue: 1, MaxRetries: 100} }, ""},
		{"no retries", func(s *Scenario) { s.Clients.MaxRetries = 0 }, ""},
		{"fixed window step needs no rate", func(s *Scenario) { fw(s); s.Upstream.Profile = []Step{{At: d(time.Second), Limit: 3}} }, ""},

		{"zero duration", func(s *Scenario) { s.Duration = 0 }, "duration = 0s"},
		{"negative duration", func(s *Scenario) { s.Duration = d(-time.Second) }, "duration = -1s"},
		{"too long", func(s *Scenario) { s.Duration = d(1000*time.Hour + 1) }, "duration = 1000h0m0.000000001s"},
		{"unknown model", func(s *Scenario) { s.Upstream.Model = "leaky" }, `upstream.model = "leaky"`},
		{"zero rate", func(s *Scenario) { s.Upstream.Rate = 0 }, "upstream.rate = 0"},
		{"negative rate", func(s *Scenario) { s.Upstream.Rate = -1 }, "upstream.rate = -1"},
		{"infinite rate", func(s *Scenario) { s.Upstream.Rate = math.Inf(1) }, "upstream.rate = +Inf"},
		{"NaN rate", func(s *Scenario) { s.Upstream.Rate = math.NaN() }, "upstream.rate = NaN"},
		{"burst below one", func(s *Scenario) { s.Upstream.Burst = 0.5 }, "upstream.burst = 0.5"},
		{"infinite burst", func(s *Scenario) { s.Upstream.Burst = math.Inf(1) }, "upstream.burst = +Inf"},
		{"NaN burst", func(s *Scenario) { s.Upstream.Burst = math.NaN() }, "upstream.burst = NaN"},
		{"zero limit", func(s *Scenario) { fw(s); s.Upstream.Limit = 0 }, "upstream.limit = 0"},
		{"zero window", func(s *Scenario) { fw(s); s.Upstream.Window = 0 }, "upstream.window = 0s"},
		{"negative window", func(s *Scenario) { fw(s); s.Upstream.Window = d(-time.Minute) }, "upstream.window = -1m0s"},
		{"negative retry-after", func(s *Scenario) { s.Upstream.RetryAfter = d(-time.Second) }, "upstream.retry_after = -1s"},
		{"negative penalty", func(s *Scenario) { s.Upstream.Penalty = d(-2 * time.Second) }, "upstream.penalty = -2s"},
		{"negative latency", func(s *Scenario) { s.Upstream.Latency.Min = d(-time.Millisecond) }, "upstream.latency = {min -1ms, mean 0s}"},
		{"mean below min", func(s *Scenario) {
			s.Upstream.Latency = Latency{Min: d(2 * time.Second), Mean: d(time.Second)}
		}, "upstream.latency = {min 2s, mean 1s}"},
		{"negative step", func(s *Scenario) { s.Upstream.Profile = []Step{{At: d(-time.Second), Rate: 1}} }, "upstream.profile[0].at = -1s"},
		{"repeated step", func(s *Scenario) {
			s.Upstream.Profile = []Step{{At: d(10 * time.Second), Rate: 1}, {At: d(10 * time.Second), Rate: 2}}
		}, "upstream.profile[1].at = 10s"},
		{"steps out of order", func(s *Scenario) {
			s.Upstream.Profile = []Step{{At: 0, Rate: 1}, {At: d(20 * time.Second), Rate: 2}, {At: d(15 * time.Second), Rate: 3}}
		}, "upstream.profile[2].at = 15s"},
		{"step without rate", func(s *Scenario) {
			s.Upstream.Profile = []Step{{At: 0, Rate: 1}, {At: d(time.Second), Limit: 5}}
		}, "upstream.profile[1].rate = 0"},
		{"step with NaN rate", func(s *Scenario) { s.Upstream.Profile = []Step{{At: 0, Rate: math.NaN()}} }, "upstream.profile[0].rate = NaN"},
		{"fixed window step without limit", func(s *Scenario) {
			fw(s)
			s.Upstream.Profile = []Step{{At: d(time.Second), Rate: 5}}
		}, "upstream.profile[0].limit = 0"},
		{"empty outage", func(s *Scenario) {
			s.Upstream.Outages = []Span{{From: 0, To: d(time.Second)}, {From: d(20 * time.Second), To: d(20 * time.Second)}}
		}, "upstream.outages[1] = [20s, 20s)"},
		{"outage before the start", func(s *Scenario) {
			s.Upstream.Outages = []Span{{From: d(-time.Second), To: d(time.Second)}}
		}, "upstream.outages[0] = [-1s, 1s)"},
		{"backward throttle span", func(s *Scenario) {
			s.Upstream.Throttles = []Span{{From: d(2 * time.Second), To: d(time.Second)}}
		}, "upstream.throttles[0] = [2s, 1s)"},
		{"no clients", func(s *Scenario) { s.Clients.Count = 0 }, "clients.count = 0"},
		{"too many clients", func(s *Scenario) { s.Clients.Count = 1001 }, "clients.count = 1001"},
		{"no workers", func(s *Scenario) { s.Clients.Workers = 0 }, "clients.workers = 0"},
		{"too many workers", func(s *Scenario) { s.Clients.Workers = 10001 }, "clients.workers = 10001"},
		{"negative arrivals", func(s *Scenario) { s.Clients.Arrivals = -1 }, "clients.arrivals = -1"},
		{"NaN arrivals", func(s *Scenario) { s.Clients.Arrivals = math.NaN() }, "clients.arrivals = NaN"},
		{"infinite arrivals", func(s *Scenario) { s.Clients.Arrivals = math.Inf(1) }, "clients.arrivals = +Inf"},
		{"no queue", func(s *Scenario) { s.Clients.Queue = 0 }, "clients.queue = 0"},
		{"negative retries", func(s *Scenario) { s.Clients.MaxRetries = -2 }, "clients.max_retries = -2"},
		{"too many retries", func(s *Scenario) { s.Clients.MaxRetries = 101 }, "clients.max_retries = 101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := base()
			tt.mod(&sc)
			err := sc.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.want == "":
			case err == nil:
				t.Errorf("Validate = nil, want an error holding %q", tt.want)
			case !strings.HasPrefix(err.Error(), `simtest: scenario "base": `+tt.want+": "):
				t.Errorf("Validate = %q, want it to start with %q", err, `simtest: scenario "base": `+tt.want+": ")
			}
		})
	}
}

func TestScenarioByName(t *testing.T) {
	tests := []struct {
		name, want string
	}{
		{"S1", "S1-steady"},
		{"s1", "S1-steady"},
		{"S2-STEP", "S2-step"},
		{"s6-in", "S6-in-flight"},
		{"S", ""},
		{"S1-", ""},
		{"S1-steady-x", ""},
		{"", ""},
		{"S7", "S7-slow-start"},
		// S8 is the representative of its family; its other members are
		// found by name.
		{"S8", "S8-moving-r3-p40"},
		{"s8-moving", "S8-moving-r3-p40"},
		{"S8-moving-r2-p20", "S8-moving-r2-p20"},
		{"s8-moving-r4-p120", "S8-moving-r4-p120"},
		{"S8-moving-r4-p12", ""},
		{"S9", ""},
	}
	for _, tt := range tests {
		sc, ok := ScenarioByName(tt.name)
		if ok != (tt.want != "") || sc.Name != tt.want {
			t.Errorf("ScenarioByName(%q) = %q, %v; want %q", tt.name, sc.Name, ok, tt.want)
		}
	}
}

// The built-ins, families in full, carry their defaults and validate, and
// their names are distinct: they are looked up by name.
func TestScenariosValid(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range AllScenarios() {
		if err := sc.Validate(); err != nil {
			t.Error(err)
		}
		if diff := cmp.Diff(sc, sc.withDefaults()); diff != "" {
			t.Errorf("%s lacks defaults (-have +with defaults):\n%s", sc.Name, diff)
		}
		if seen[sc.Name] {
			t.Errorf("two scenarios named %s", sc.Name)
		}
		seen[sc.Name] = true
	}
}

// The suite is S1 to S8 in order, S8 one member of its family.
func TestScenariosOrder(t *testing.T) {
	var names []string
	for _, sc := range Scenarios() {
		short, _, _ := strings.Cut(sc.Name, "-")
		names = append(names, short)
	}
	if got, want := strings.Join(names, " "), "S1 S2 S3 S4 S5 S6 S7 S8"; got != want {
		t.Errorf("Scenarios() = %s, want %s", got, want)
	}
	s8 := Scenarios()[7]
	for _, sc := range MovingLimits() {
		if sc.Name == s8.Name {
			if diff := cmp.Diff(sc, s8); diff != "" {
				t.Errorf("S8 differs from its family's %s (-family +S8):\n%s", sc.Name, diff)
			}
			return
		}
	}
	t.Errorf("S8 %s is not in MovingLimits()", s8.Name)
}

// The S8 family: every ratio and period, each a square wave that starts
// high and moves every half period, to the end of the run.
func TestMovingLimits(t *testing.T) {
	scs := MovingLimits()
	if len(scs) != 12 {
		t.Fatalf("%d scenarios, want 12", len(scs))
	}
	i := 0
	for _, ratio := range []float64{2, 3, 4} {
		for _, period := range []time.Duration{20 * time.Second, 40 * time.Second, time.Minute, 2 * time.Minute} {
			sc := scs[i]
			i++
			if want := fmt.Sprintf("S8-moving-r%g-p%d", ratio, int(period.Seconds())); sc.Name != want {
				t.Errorf("scenario %d is %s, want %s", i, sc.Name, want)
				continue
			}
			u := sc.Upstream
			steps := 0
			for at := time.Duration(0); at < sc.Duration.D(); at += period / 2 {
				want := 4 * ratio
				if (at/(period/2))%2 == 1 {
					want = 4
				}
				if got := u.RateAt(at); got != want {
					t.Errorf("%s: limit at %v = %v, want %v", sc.Name, at, got, want)
				}
				if got := u.RateAt(at + period/2 - time.Nanosecond); got != want {
					t.Errorf("%s: limit just before %v = %v, want %v", sc.Name, at+period/2, got, want)
				}
				steps++
			}
			if len(u.Profile) != steps-1 {
				t.Errorf("%s: %d steps, want %d", sc.Name, len(u.Profile), steps-1)
			}
			r := mustRun(t, Scenario{Name: sc.Name, Seed: sc.Seed, Duration: sc.Duration, Upstream: u, Clients: sc.Clients}, NaiveRetry())
			if len(r.Drops)+len(r.Raises) != len(u.Profile) {
				t.Errorf("%s: %d drops and %d raises analysed for %d steps", sc.Name, len(r.Drops), len(r.Raises), len(u.Profile))
			}
		}
	}
}

// S7 asks for three times its 200 req/s: enough workers at its latency.
func TestSlowStart(t *testing.T) {
	sc, _ := ScenarioByName("S7")
	u := sc.Upstream
	if u.Rate != 200 || u.Burst != 200 || len(u.Profile) != 0 {
		t.Fatalf("S7's upstream %+v, want a steady 200 req/s, burst 200", u)
	}
	if demand := float64(sc.Clients.Workers) / u.Latency.Mean.D().Seconds(); demand < 3*u.Rate {
		t.Errorf("%d workers at %v ask for %.0f req/s, want at least 3 × %v", sc.Clients.Workers, u.Latency.Mean.D(), demand, u.Rate)
	}
	r := mustRun(t, sc, FixedRate("fixed", u.Rate, u.Burst))
	if r.Start.Until != sc.Duration.D() || r.Start.To90 < 0 || r.Start.To90 > 10*time.Second {
		t.Errorf("a fixed rate at the limit: start %+v, want 90%% of the limit within 10 s", r.Start)
	}
}
