package simtest

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/policy"
)

// randomGoodputFloor is the lowest goodput, and randomThrottledCeiling the
// highest throttled share, that the default reaches over the first
// randomSeeds random upstreams (max_rate 1000 covers them all): 81.38 % on
// random-upstream-2 (2.2 req/s, a burst of 1, two workers: started above
// the limit, the default takes 23 s to settle, and each probe's throttle
// costs a large share of few requests) and 7.22 % on random-upstream-8 (2 req/s,
// a burst of 1.9: each probe's throttle is a large share of few
// requests), rounded. The goal is >= 90 % and <= 2 % (see goals_test.go);
// neither figure may move away from it.
const (
	randomGoodputFloor     = 0.81
	randomThrottledCeiling = 0.073
	randomSeeds            = 24
)

func TestRandomUpstreams(t *testing.T) {
	x, err := RunRandomUpstreams(randomSeeds, Default())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("over %d random upstreams: goodput at least %.2f%% (%s), throttled at most %.2f%% (%s)",
		x.Runs, 100*x.MinGoodput, x.MinGoodputScenario, 100*x.MaxThrottled, x.MaxThrottledScenario)
	if x.MinGoodput < randomGoodputFloor {
		t.Errorf("goodput %.2f%% on %s, want >= %.0f%%", 100*x.MinGoodput, x.MinGoodputScenario, 100*randomGoodputFloor)
	}
	if x.MaxThrottled > randomThrottledCeiling {
		t.Errorf("throttled %.2f%% on %s, want <= %.1f%%", 100*x.MaxThrottled, x.MaxThrottledScenario, 100*randomThrottledCeiling)
	}
}

// RandomUpstream draws within its bounds, the limits spread over the three
// decades, and the same seed gives the same scenario.
func TestRandomUpstream(t *testing.T) {
	var decades [3]int
	for seed := range uint64(1000) {
		sc := RandomUpstream(seed)
		if err := sc.Validate(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(sc, RandomUpstream(seed)); diff != "" {
			t.Fatalf("seed %d drew two scenarios (-first +second):\n%s", seed, diff)
		}
		u := sc.Upstream
		lat := u.Latency.Mean.D()
		switch {
		case u.Rate < RandomMinLimit || u.Rate > RandomMaxLimit:
			t.Fatalf("%s: limit %v", sc.Name, u.Rate)
		case u.Burst < 1 || u.Burst > max(1, 2*u.Rate) || u.Burst < min(0.1*u.Rate, 1) && u.Burst != 1:
			t.Fatalf("%s: burst %v for a limit of %v", sc.Name, u.Burst, u.Rate)
		case lat < 5*time.Millisecond || lat > 300*time.Millisecond || u.Latency.Min != u.Latency.Mean/4:
			t.Fatalf("%s: latency %+v", sc.Name, u.Latency)
		case sc.Duration.D() < 2*time.Minute || sc.Duration.D() > 3*time.Minute:
			t.Fatalf("%s: duration %v", sc.Name, sc.Duration.D())
		case u.RetryAfter != 0 && u.RetryAfter != d(time.Second):
			t.Fatalf("%s: Retry-After %v", sc.Name, u.RetryAfter.D())
		}
		if demand := float64(sc.Clients.Workers) / lat.Seconds(); demand < 3*u.Rate {
			t.Fatalf("%s: %d workers at %v ask for %.0f req/s, want at least 3 × %v", sc.Name, sc.Clients.Workers, lat, demand, u.Rate)
		}
		decades[min(int(math.Log10(u.Rate)), 2)]++
	}
	for i, n := range decades {
		if n < 250 {
			t.Errorf("%d limits in [%v, %v), want about a third of 1000", n, math.Pow(10, float64(i)), math.Pow(10, float64(i+1)))
		}
	}
}

// RunRandomUpstreams reports the worst of the runs it would give one by
// one.
func TestRunRandomUpstreams(t *testing.T) {
	st := NaiveRetry()
	x, err := RunRandomUpstreams(6, st)
	if err != nil {
		t.Fatal(err)
	}
	want := Extremes{Runs: 6, MinGoodput: math.Inf(1), MaxThrottled: -1}
	for seed := range uint64(6) {
		r := mustRun(t, RandomUpstream(seed), st)
		if r.Goodput < want.MinGoodput {
			want.MinGoodput, want.MinGoodputScenario = r.Goodput, r.Scenario
		}
		if r.ThrottledShare > want.MaxThrottled {
			want.MaxThrottled, want.MaxThrottledScenario = r.ThrottledShare, r.Scenario
		}
	}
	if x != want {
		t.Errorf("RunRandomUpstreams = %+v, want %+v", x, want)
	}
	if x, err := RunRandomUpstreams(0, st); err != nil || x != (Extremes{}) {
		t.Errorf("RunRandomUpstreams(0) = %+v, %v; want nothing", x, err)
	}
}

// DefaultUpTo lifts the default's ceiling, and only that.
func TestDefaultUpTo(t *testing.T) {
	sc := RandomUpstream(21) // close to 1000 req/s
	lifted := mustRun(t, sc, DefaultUpTo(RandomMaxLimit))
	low := policy.DefaultAIMD()
	low.MaxRate = 100 // below the upstream's limit
	capped := mustRun(t, sc, Dynlimit(Default().Name, low))
	top := 0.0
	for _, s := range lifted.Trace {
		top = max(top, s.Rate)
	}
	if top > RandomMaxLimit || lifted.Succeeded <= capped.Succeeded {
		t.Errorf("lifted: top rate %v, %d succeeded; capped: %d succeeded; want the lifted above the capped, within %v",
			top, lifted.Succeeded, capped.Succeeded, RandomMaxLimit)
	}
	same := mustRun(t, RandomUpstream(1), DefaultUpTo(1)) // a ceiling below the default's is no ceiling
	if diff := cmp.Diff(mustRun(t, RandomUpstream(1), Default()), same); diff != "" {
		t.Errorf("DefaultUpTo(1) played differently from Default() (-Default +DefaultUpTo):\n%s", diff)
	}
}
