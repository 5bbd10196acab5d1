package simtest

import (
	"math"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

// AWSAdaptive is the baseline of the AWS SDK for Go v2's adaptive retry
// mode (retry.NewAdaptiveMode, aws/retry/adaptive.go): each client paces
// its attempts with the SDK's client-side rate limiter (see awsAdaptive),
// unrestricted until its first throttle, and waits before a retry for the
// upstream's Retry-After when it sent one, else for the SDK's default
// backoff (see awsBackoff). Nothing pauses the client on a Retry-After:
// the SDK's limiter does not read it. The scenario's MaxRetries bounds the
// retries, as it does for every strategy, in place of the SDK's
// MaxAttempts (3: two retries); the SDK's retry quota (500 tokens, 5 a
// retry) is not modelled. The trace's Rate is the limiter's fill rate
// once a throttle has turned its token bucket on, and before that the send
// rate it measured, as it holds the clients to no rate then.
func AWSAdaptive() Strategy {
	return Strategy{
		Name:    "aws-adaptive",
		Pacer:   func(c clock.Clock) Pacer { return newAWSAdaptive(c.Now()) },
		Backoff: awsBackoff,
	}
}

// awsMaxBackoff is the SDK's DefaultMaxBackoff (aws/retry/retry.go).
const awsMaxBackoff = 20 * time.Second

// awsBackoff is the delay of the SDK's default backoff,
// ExponentialJitterBackoff with DefaultMaxBackoff (aws/retry/
// jitter_backoff.go, the formula it keeps unless AWS_NEW_RETRIES_2026 is
// set): u × 2^attempt seconds, attempt being the number of the attempt that
// failed (1 for the first, so retry here), and DefaultMaxBackoff itself once
// attempt exceeds int(log2(20)) = 4.
func awsBackoff(retry int, u float64) time.Duration {
	if retry > int(math.Log2(float64(awsMaxBackoff)/float64(time.Second))) {
		return awsMaxBackoff
	}
	return time.Duration(u * float64(int64(1)<<uint(retry)) * float64(time.Second))
}

// The constants of the SDK's adaptive rate limit (newAdaptiveRateLimit in
// aws/retry/adaptive_ratelimit.go) and of its token bucket
// (newAdaptiveTokenBucket in aws/retry/adaptive_token_bucket.go).
const (
	awsSmooth        = 0.8 // weight of the latest measure of the send rate
	awsBeta          = 0.7 // the rate is multiplied by it on a throttle
	awsScaleConstant = 0.4 // C of the cubic recovery
	awsMinFillRate   = 0.5 // the least fill rate, requests per second
	awsMinCapacity   = 1.0 // the token bucket's least capacity
)

// awsAdaptive is the AWS SDK for Go v2's client-side rate limiter of the
// adaptive retry mode (adaptiveRateLimit in aws/retry/adaptive_ratelimit.go
// with adaptiveTokenBucket in aws/retry/adaptive_token_bucket.go), step for
// step, on the instants it is given instead of the wall clock:
//
//   - until the first throttle its token bucket is off and every attempt
//     goes at once;
//   - every response updates the measured send rate (the responses per
//     half-second bucket of Unix time, smoothed by 0.8) and the rate: on a
//     throttle, 0.7 × the lower of the measured rate and the fill rate (the
//     measured rate alone before the first), which becomes the last maximum
//     M and turns the bucket on; otherwise the cubic
//     0.4 × (t − K)³ + M, t the time since the last throttle and
//     K = ∛(M × 0.3 / 0.4), which is back at M after K seconds; either way
//     capped at twice the measured rate;
//   - the fill rate is that rate, at least 0.5 per second, and the bucket's
//     capacity the same rate, at least 1 token;
//   - an attempt takes a token, or waits (1 − tokens) / fill rate.
//
// Its Rate is the fill rate once the bucket is on, and the measured send
// rate before: the SDK holds the client to no rate then.
type awsAdaptive struct {
	enabled bool // tokenBucketEnabled

	fillRate         float64
	calculatedRate   float64
	lastRefilled     time.Time // the zero time until the first refill
	measuredTxRate   float64
	lastTxRateBucket float64 // seconds since the Unix epoch
	requestCount     int64
	lastMaxRate      float64
	lastThrottleTime time.Time
	timeWindow       float64 // K, seconds

	// the token bucket
	tokens, capacity float64

	decreases uint64 // throttled responses, each of which lowers the rate
}

func newAWSAdaptive(now time.Time) *awsAdaptive {
	return &awsAdaptive{
		lastTxRateBucket: math.Floor(unixSeconds(now)),
		lastThrottleTime: now,
		// newAdaptiveTokenBucket(0): no token, a capacity of 0.
	}
}

// unixSeconds is the SDK's timeFloat64Seconds: the Unix time of t in
// seconds, as a float64.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / float64(time.Second) }

// seconds is the SDK's secondsFloat64.
func seconds(d time.Duration) float64 { return float64(d) / float64(time.Second) }

// Acquire is AcquireToken(1).
func (a *awsAdaptive) Acquire(now time.Time) (bool, time.Duration) {
	if !a.enabled {
		return true, 0
	}
	a.refill(now)
	const amount = 1.0
	if amount > a.tokens {
		return false, time.Duration((amount - a.tokens) / a.fillRate * float64(time.Second))
	}
	a.tokens -= amount
	return true, 0
}

// Update is Update(throttled), called on every response.
func (a *awsAdaptive) Update(now time.Time, throttled bool) {
	a.updateMeasuredRate(now)
	if throttled {
		rateToUse := a.measuredTxRate
		if a.enabled {
			rateToUse = math.Min(a.measuredTxRate, a.fillRate)
		}
		a.lastMaxRate = rateToUse
		a.calculateTimeWindow()
		a.lastThrottleTime = now
		a.calculatedRate = rateToUse * awsBeta // cubicThrottle
		a.enabled = true
		a.decreases++
	} else {
		a.calculateTimeWindow()
		// cubicSuccess
		dt := seconds(now.Sub(a.lastThrottleTime))
		a.calculatedRate = awsScaleConstant*math.Pow(dt-a.timeWindow, 3) + a.lastMaxRate //nolint:staticcheck // math.Pow as the SDK has it, to the last bit
	}
	newRate := math.Min(a.calculatedRate, 2*a.measuredTxRate)
	// tokenBucketUpdateRate, then the bucket's Resize(newRate).
	a.refill(now)
	a.fillRate = math.Max(newRate, awsMinFillRate)
	a.capacity = math.Max(newRate, awsMinCapacity)
	a.tokens = math.Min(a.tokens, a.capacity)
}

// Rate is the fill rate once the token bucket is on, and the measured send
// rate before it is.
func (a *awsAdaptive) Rate(time.Time) float64 {
	if a.enabled {
		return a.fillRate
	}
	return a.measuredTxRate
}

// Decreases counts the throttled responses, each of which set the rate to
// 0.7 times the rate in use.
func (a *awsAdaptive) Decreases() uint64 { return a.decreases }

func (a *awsAdaptive) calculateTimeWindow() {
	a.timeWindow = math.Pow(a.lastMaxRate*(1-awsBeta)/awsScaleConstant, 1./3.)
}

func (a *awsAdaptive) updateMeasuredRate(now time.Time) {
	timeBucket := math.Floor(unixSeconds(now)*2) / 2
	a.requestCount++
	if timeBucket > a.lastTxRateBucket {
		currentRate := float64(a.requestCount) / (timeBucket - a.lastTxRateBucket)
		a.measuredTxRate = currentRate*awsSmooth + a.measuredTxRate*(1-awsSmooth)
		a.requestCount = 0
		a.lastTxRateBucket = timeBucket
	}
}

// refill is tokenBucketRefill: the first one only records the instant.
func (a *awsAdaptive) refill(now time.Time) {
	if a.lastRefilled.IsZero() {
		a.lastRefilled = now
		return
	}
	// The bucket's Refund: at most its capacity.
	a.tokens = math.Min(a.tokens+seconds(now.Sub(a.lastRefilled))*a.fillRate, a.capacity)
	a.lastRefilled = now
}
