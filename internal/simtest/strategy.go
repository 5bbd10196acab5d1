package simtest

import (
	"time"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"

	"github.com/dynlimit/dynlimit/policy"
)

// Strategy is how the simulated clients pace and retry: the thing being
// measured. Its retries mirror httpadapter.Transport: a throttled or
// overloaded request is retried after the upstream's Retry-After when it
// sent one, else after an exponential backoff.
type Strategy struct {
	// Name identifies the strategy in results.
	Name string `json:"name"`
	// Policy paces each client's limiter. nil means no limiter at all: a
	// request goes as soon as a worker is free.
	Policy policy.Policy `json:"-"`
	// MaxInFlight caps each client's limiter's in-flight permits; 0 = none.
	MaxInFlight int `json:"max_in_flight,omitempty"`
	// BackoffInitial, BackoffMultiplier, BackoffMax and BackoffJitter shape
	// the wait before a retry when the upstream sent no Retry-After:
	// BackoffInitial × BackoffMultiplier^(retry-1), capped at BackoffMax,
	// then moved by up to ±BackoffJitter of itself.
	BackoffInitial    time.Duration `json:"backoff_initial"`
	BackoffMultiplier float64       `json:"backoff_multiplier"`
	BackoffMax        time.Duration `json:"backoff_max"`
	BackoffJitter     float64       `json:"backoff_jitter"`
	// Backoff, when set, replaces the formula above: the wait before retry
	// number retry (1 for the first) given u, a uniform draw in [0, 1)
	// from the run's random source.
	Backoff func(retry int, u float64) time.Duration `json:"-"`
	// Classifier makes the classifier each client uses, on the simulation's
	// clock; nil means signal.HTTP.
	Classifier func(clock.Clock) signal.Classifier `json:"-"`
	// Pacer, when set, makes the pacer of each client, on the simulation's
	// clock, used instead of a dynlimit.Limiter (Policy and MaxInFlight are
	// then ignored): a worker asks it for leave before every attempt, and
	// asks again after the wait it names when it refuses; every response
	// is reported to it, throttled when the classifier says Throttled.
	Pacer func(clock.Clock) Pacer `json:"-"`
	// Breaker, when set, puts a circuit breaker with this configuration in
	// front of each client's attempts, as httpadapter.WithBreaker does. A
	// request it refuses fails for its caller, who starts the next one
	// when the breaker will probe (or a second later, if a probe is out).
	Breaker *breaker.Config `json:"-"`
}

// Pacer paces one client's requests in a simulation in place of a
// dynlimit.Limiter: a client-side rate limiter of another design, played
// on the simulation's instants. A Pacer that also has a method
// Decreases() uint64 has what it returns counted in Result.Decreases.
type Pacer interface {
	// Acquire asks, at now, for leave to send one attempt: ok, or how long
	// to wait before asking again.
	Acquire(now time.Time) (ok bool, wait time.Duration)
	// Update reports a response received at now, throttled or not.
	Update(now time.Time, throttled bool)
	// Rate is the rate, in requests per second, the pacer holds the
	// client to at now, as the trace shows it.
	Rate(now time.Time) float64
}

// WithBreaker returns st with a circuit breaker of configuration cfg,
// named name.
func WithBreaker(st Strategy, name string, cfg breaker.Config) Strategy {
	st.Name, st.Breaker = name, &cfg
	return st
}

// Dynlimit is the strategy of the library's defaults with policy p:
// httpadapter.Transport's classifier (signal.HTTP in a signal.Burst of 5
// overloads in 10 s) and backoff (500 ms ×1.5, ±50 %, at most 60 s).
func Dynlimit(name string, p policy.Policy) Strategy {
	return Strategy{
		Name: name, Policy: p,
		BackoffInitial: 500 * time.Millisecond, BackoffMultiplier: 1.5, BackoffMax: time.Minute, BackoffJitter: 0.5,
		Classifier: defaultClassifier,
	}
}

func defaultClassifier(c clock.Clock) signal.Classifier {
	b, err := signal.NewBurst(signal.HTTP{Clock: c}, 5, 10*time.Second, c)
	if err != nil { // not with these arguments; plain HTTP is the safe fallback
		return signal.HTTP{Clock: c}
	}
	return b
}

// Default is the library's default: policy.DefaultAIMD() behind the
// Transport's retries.
func Default() Strategy { return Dynlimit("dynlimit", policy.DefaultAIMD()) }

// CUBIC is the strategy of policy.CUBIC with the AWS SDK's constants
// (policy.DefaultCUBIC) behind the Transport's retries: the AWS SDK's
// adaptive algorithm inside this library's limiter, which honours
// Retry-After as a cooldown where the SDK does not (compare AWSAdaptive).
// DefaultCUBIC starts at its MaxRate and never goes above it: use CUBICFor
// for an upstream whose limit exceeds it.
func CUBIC() Strategy { return Dynlimit("cubic", policy.DefaultCUBIC()) }

// CUBICUpTo is CUBIC with its policy's ceiling (MaxRate), which is also
// where it starts, lifted to maxRate when it is lower.
func CUBICUpTo(maxRate float64) Strategy {
	c := policy.DefaultCUBIC()
	c.MaxRate = max(c.MaxRate, maxRate)
	return Dynlimit(CUBIC().Name, c)
}

// CUBICFor is CUBIC fit to play sc: when the highest hidden limit sc
// reaches within its duration exceeds DefaultCUBIC's MaxRate, the ceiling
// is lifted to twice that limit (CUBICUpTo), so that the policy can follow
// the upstream without being told its limit; otherwise it is CUBIC.
func CUBICFor(sc Scenario) Strategy {
	peak := sc.PeakRate()
	if peak <= policy.DefaultCUBIC().MaxRate {
		return CUBIC()
	}
	return CUBICUpTo(2 * peak)
}

// FixedRate is the baseline of a plain token bucket at a known rate, what
// golang.org/x/time/rate gives, behind the same retries.
func FixedRate(name string, rate, burst float64) Strategy {
	return Dynlimit(name, policy.Fixed{Rate: rate, Burst: max(burst, 1)})
}

// NaiveRetry is the baseline of no pacing and retries with exponential
// backoff, what go-retryablehttp gives by default: 1 s doubling to at most
// 30 s, honouring Retry-After.
func NaiveRetry() Strategy {
	return Strategy{
		Name:           "naive-retry",
		BackoffInitial: time.Second, BackoffMultiplier: 2, BackoffMax: 30 * time.Second,
	}
}
