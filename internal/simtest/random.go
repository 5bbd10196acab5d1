package simtest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/dynlimit/dynlimit/policy"
)

// The bounds of the hidden limits RandomUpstream draws, in requests per
// second.
const (
	RandomMinLimit = 1
	RandomMaxLimit = 1000
)

// RandomUpstream draws from seed a steady upstream that its client knows
// nothing about: a hidden token bucket whose limit is log-uniform in
// [RandomMinLimit, RandomMaxLimit], with a burst of 0.1 to 2 seconds' worth
// (at least 1), Retry-After 1 s on a 429 or none, a mean latency of 5 ms to
// 300 ms (its least a quarter of it), and one client with the workers to
// ask for about three times the limit, over 2 to 3 minutes, which keeps a
// run at 1000 req/s short. The same seed gives the same scenario, named
// random-upstream-<seed>.
//
// A policy whose ceiling is below the limit cannot reach it: play the
// default against the family's top with DefaultUpTo(RandomMaxLimit), any
// other AIMD with its MaxRate lifted through Dynlimit.
func RandomUpstream(seed uint64) Scenario {
	rng := rand.New(rand.NewPCG(seed, 0x6a09e667f3bcc908))
	rate := RandomMinLimit * math.Pow(RandomMaxLimit/RandomMinLimit, rng.Float64())
	lat := time.Duration(5+rng.IntN(296)) * time.Millisecond
	u := Upstream{
		Model: ModelTokenBucket, Rate: rate, Burst: max(1, rate*(0.1+1.9*rng.Float64())),
		Latency: Latency{Min: Duration(lat / 4), Mean: Duration(lat)},
	}
	if rng.IntN(2) == 0 {
		u.RetryAfter = Duration(time.Second)
	}
	dur := 2*time.Minute + time.Duration(rng.IntN(61))*time.Second
	return Scenario{
		Name: fmt.Sprintf("random-upstream-%d", seed), Seed: seed, Duration: Duration(dur),
		Upstream: u, Clients: Clients{Workers: max(2, int(3*rate*lat.Seconds())+2)},
	}.withDefaults()
}

// DefaultUpTo is Default with its policy's ceiling (MaxRate) lifted to
// maxRate when it is lower, so that it can follow an upstream above it.
func DefaultUpTo(maxRate float64) Strategy {
	a := policy.DefaultAIMD()
	a.MaxRate = max(a.MaxRate, maxRate)
	return Dynlimit(Default().Name, a)
}

// Extremes is the worst of a set of runs: the lowest goodput and the
// highest throttled share, with the scenario of each.
type Extremes struct {
	// Runs is the number of runs.
	Runs int
	// MinGoodput is the lowest Result.Goodput, in MinGoodputScenario.
	MinGoodput         float64
	MinGoodputScenario string
	// MaxThrottled is the highest Result.ThrottledShare, in
	// MaxThrottledScenario.
	MaxThrottled         float64
	MaxThrottledScenario string
}

// RunRandomUpstreams plays st against RandomUpstream(seed) for the seeds 0
// to n-1, on up to GOMAXPROCS goroutines, and returns the worst of the
// runs; a tie goes to the lower seed, so the answer is the same every time.
// The first error, in the order of the seeds, is returned instead; n <= 0
// gives the zero Extremes.
func RunRandomUpstreams(n int, st Strategy) (Extremes, error) {
	n = max(n, 0)
	results := make([]*Result, n)
	errs := make([]error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range next {
				results[i], errs[i] = Run(RandomUpstream(uint64(i)), st)
			}
		})
	}
	wg.Wait()
	if n == 0 {
		return Extremes{}, nil
	}
	x := Extremes{Runs: n, MinGoodput: math.Inf(1)}
	for i, r := range results {
		if errs[i] != nil {
			return Extremes{}, errs[i]
		}
		if r.Goodput < x.MinGoodput {
			x.MinGoodput, x.MinGoodputScenario = r.Goodput, r.Scenario
		}
		if r.ThrottledShare > x.MaxThrottled || x.MaxThrottledScenario == "" {
			x.MaxThrottled, x.MaxThrottledScenario = r.ThrottledShare, r.Scenario
		}
	}
	return x, nil
}
