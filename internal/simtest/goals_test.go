package simtest

import (
	"math"
	"testing"
)

// A goal of the default configuration, with the figure it reaches today.
// floor is what the test holds the default to: a figure that gets worse
// fails it. Where floor is short of the goal, the goal is not met yet, and
// docs/benchmarks.md says why; met says which.
type goal struct {
	name  string
	goal  string  // the goal, as the project states it
	floor float64 // the least (or, for atMost, the most) the default may score
	// atMost: the figure must stay <= floor (throttled shares, times);
	// otherwise >= floor.
	atMost bool
	met    bool
	got    func(t *testing.T) float64
}

func (g goal) check(t *testing.T) {
	t.Helper()
	v := g.got(t)
	status := "met"
	if !g.met {
		status = "NOT met yet"
	}
	t.Logf("%-40s goal %-12s got %8.4g (%s)", g.name, g.goal, v, status)
	if g.atMost && v > g.floor || !g.atMost && v < g.floor || math.IsNaN(v) {
		t.Errorf("%s = %v, worse than the %v the default reached (goal %s)", g.name, v, g.floor, g.goal)
	}
}

func defaultOn(t *testing.T, name string) *Result {
	t.Helper()
	sc, ok := ScenarioByName(name)
	if !ok {
		t.Fatalf("no scenario %s", name)
	}
	return mustRun(t, sc, Default())
}

// TestGoals holds the default to the figures of the adaptation goals:
// every measure of the table in docs/benchmarks.md ("Goals"), met or not.
func TestGoals(t *testing.T) {
	memo := map[string]*Result{}
	run := func(t *testing.T, name string) *Result {
		if r, ok := memo[name]; ok {
			return r
		}
		r := defaultOn(t, name)
		memo[name] = r
		return r
	}
	family := func(t *testing.T) (minGoodput, maxThrottled float64) {
		minGoodput = 1
		for _, sc := range MovingLimits() {
			r := mustRun(t, sc, Default())
			minGoodput, maxThrottled = min(minGoodput, r.Goodput), max(maxThrottled, r.ThrottledShare)
		}
		return minGoodput, maxThrottled
	}
	var s8g, s8t float64
	goals := []goal{
		{name: "S1 goodput", goal: ">= 0.98", floor: 0.978,
			got: func(t *testing.T) float64 { return run(t, "S1").Goodput }},
		{name: "S1 throttled", goal: "<= 0.005", floor: 0.0071, atMost: true,
			got: func(t *testing.T) float64 { return run(t, "S1").ThrottledShare }},
		{name: "S2 seconds to 90 % of the raised limit", goal: "<= 10", floor: 31, atMost: true,
			got: func(t *testing.T) float64 {
				r := run(t, "S2")
				if len(r.Raises) != 1 || r.Raises[0].To90 < 0 {
					return math.Inf(1)
				}
				return r.Raises[0].To90.Seconds()
			}},
		{name: "S2 throttle episodes after the drop", goal: "<= 2", floor: 2, atMost: true, met: true,
			got: func(t *testing.T) float64 {
				r := run(t, "S2")
				if len(r.Drops) != 1 {
					return math.Inf(1)
				}
				return float64(r.Drops[0].Episodes)
			}},
		{name: "S3 fairness (Jain)", goal: ">= 0.95", floor: 0.975, met: true,
			got: func(t *testing.T) float64 { return run(t, "S3").Fairness }},
		{name: "S3 throttled", goal: "<= 0.01", floor: 0.022, atMost: true,
			got: func(t *testing.T) float64 { return run(t, "S3").ThrottledShare }},
		{name: "S6 goodput", goal: ">= 0.85", floor: 0.74,
			got: func(t *testing.T) float64 { return run(t, "S6").Goodput }},
		{name: "S7 seconds to 90 % of capacity", goal: "<= 8", floor: 7, atMost: true, met: true,
			got: func(t *testing.T) float64 {
				r := run(t, "S7")
				if r.Start.To90 < 0 {
					return math.Inf(1)
				}
				return r.Start.To90.Seconds()
			}},
		{name: "S8 family, lowest goodput", goal: ">= 0.85", floor: 0.51,
			got: func(t *testing.T) float64 {
				s8g, s8t = family(t)
				return s8g
			}},
		{name: "S8 family, highest throttled", goal: "<= 0.03", floor: 0.038, atMost: true,
			got: func(t *testing.T) float64 { return s8t }},
	}
	for _, g := range goals {
		g.check(t)
	}
	if testing.Short() {
		return
	}
	x, err := RunRandomUpstreams(randomSeeds, Default())
	if err != nil {
		t.Fatal(err)
	}
	goal{name: "random upstreams, lowest goodput", goal: ">= 0.90", floor: randomGoodputFloor,
		got: func(*testing.T) float64 { return x.MinGoodput }}.check(t)
	goal{name: "random upstreams, highest throttled", goal: "<= 0.02", floor: randomThrottledCeiling, atMost: true,
		got: func(*testing.T) float64 { return x.MaxThrottled }}.check(t)
}

// TestGoalsAgainstAWS: on S1–S8 the default scores goodput − 2 × throttled
// against the AWS SDK's adaptive algorithm, and sends nothing inside a
// Retry-After. The goal is a higher score on every scenario; lose lists
// the scenarios where the default scores lower today, and by how much at
// most: a loss that grows, or a new one, fails.
func TestGoalsAgainstAWS(t *testing.T) {
	lose := map[string]float64{
		// The raise after the drop: aws-adaptive finds it in 5 s, the
		// default in 31 s; 87.94 against 88.90.
		"S2-step": 0.010,
		// A limit that moves every 20 s: the default's probe is set for
		// steady limits; 56.04 against 84.63.
		"S8-moving-r3-p40": 0.29,
	}
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			d, a := mustRun(t, sc, Default()), mustRun(t, sc, AWSAdaptive())
			if d.InsideRetryAfter != 0 {
				t.Errorf("the default sent %d requests inside a Retry-After, want 0", d.InsideRetryAfter)
			}
			ds, as := score(d), score(a)
			t.Logf("score %.4f against aws-adaptive's %.4f", ds, as)
			if ds < as-lose[sc.Name] {
				t.Errorf("score %.4f, aws-adaptive %.4f: the default loses by more than %.3f", ds, as, lose[sc.Name])
			}
		})
	}
}
