package simtest

import (
	"math"
	"testing"
	"time"
)

// awsAt is an instant of a test of the AWS pacer: Epoch plus ms milliseconds.
// Epoch is a whole second, so the pacer's first half-second bucket of Unix
// time starts at Epoch.
func awsAt(ms float64) time.Time { return Epoch.Add(time.Duration(ms * float64(time.Millisecond))) }

func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want)) }

// Before its first throttle the SDK's limiter lets every attempt go at
// once, whatever the rate, and reports the measured send rate.
func TestAWSAdaptiveUnrestricted(t *testing.T) {
	a := newAWSAdaptive(Epoch)
	for i := range 1000 {
		if ok, wait := a.Acquire(Epoch); !ok || wait != 0 {
			t.Fatalf("attempt %d at the start: ok %v, wait %v; want every attempt at once", i, ok, wait)
		}
	}
	// 10 successes in the first half-second, one more in the next: the
	// first bucket's 11 responses over 0.5 s are 22/s, smoothed from 0 to
	// 0.8 × 22 = 17.6/s.
	for range 10 {
		a.Update(awsAt(100), false)
	}
	if got := a.Rate(awsAt(100)); got != 0 {
		t.Errorf("rate within the first half-second = %v, want 0 (nothing measured yet)", got)
	}
	a.Update(awsAt(500), false)
	if got := a.Rate(awsAt(500)); !near(got, 17.6) {
		t.Errorf("rate after the first half-second = %v, want the measured 17.6", got)
	}
	for i := range 1000 {
		if ok, wait := a.Acquire(awsAt(500)); !ok || wait != 0 {
			t.Fatalf("attempt %d after successes: ok %v, wait %v; want every attempt at once", i, ok, wait)
		}
	}
}

// throttled17 is a pacer that measured 17.6 responses a second and got its
// first throttle at 600 ms.
func throttled17(t *testing.T) *awsAdaptive {
	t.Helper()
	a := newAWSAdaptive(Epoch)
	for range 10 {
		a.Update(awsAt(100), false)
	}
	a.Update(awsAt(500), false) // measured 17.6/s; fill rate 0.5, 0.2 token by 600 ms
	a.Update(awsAt(600), true)
	return a
}

// A throttle sets the fill rate to 0.7 × the measured rate and turns the
// token bucket on: an attempt then waits for its token.
func TestAWSAdaptiveThrottle(t *testing.T) {
	a := throttled17(t)
	if got := a.Rate(awsAt(600)); !near(got, 0.7*17.6) {
		t.Errorf("fill rate after the throttle = %v, want 0.7 × 17.6 = 12.32", got)
	}
	if a.capacity != a.fillRate {
		t.Errorf("capacity %v, want the fill rate %v", a.capacity, a.fillRate)
	}
	// 0.2 token by 500 ms (the first refill at 100 ms, 0.5/s since), 0.05
	// more by 600 ms: 0.75 of a token to wait for at 12.32/s.
	ok, wait := a.Acquire(awsAt(600))
	want := 60876623 * time.Nanosecond // 0.75 / 12.32 s
	if ok || wait < want-time.Microsecond || wait > want+time.Microsecond {
		t.Errorf("attempt right after the throttle: ok %v, wait %v; want a wait of %v", ok, wait, want)
	}
	if ok, _ := a.Acquire(awsAt(600 + 61)); !ok {
		t.Error("attempt after the wait refused")
	}
	if ok, _ := a.Acquire(awsAt(600 + 61)); ok {
		t.Error("a second attempt at once went: the token bucket is not on")
	}
	// A second throttle, the bucket on: 0.7 × the lower of the measured
	// rate (17.6) and the fill rate (12.32).
	a.Update(awsAt(700), true)
	if got := a.Rate(awsAt(700)); !near(got, 0.7*12.32) {
		t.Errorf("fill rate after a second throttle = %v, want 0.7 × 12.32 = 8.624", got)
	}
	if a.Decreases() != 2 {
		t.Errorf("Decreases = %d, want 2", a.Decreases())
	}
}

// After a throttle at rate M the rate follows 0.4 × (t − K)³ + M, K =
// ∛(0.3 M / 0.4): 0.7 M at the throttle, M again after K seconds, 1.3 M
// after 2K; the fill rate follows it while twice the measured rate is
// higher.
func TestAWSAdaptiveCubicRecovery(t *testing.T) {
	const m = 17.6
	k := math.Cbrt(0.3 * m / 0.4) // 2.363 s
	ms := func(s float64) float64 { return 1000 * s }

	// Barely anything measured since the throttle: the fill rate is
	// capped at twice the measured rate. At 600 ms + K, in the bucket of
	// 2.5 s, the throttle and this success over 2 s: 1/s, smoothed from
	// 17.6 to 0.8 + 3.52 = 4.32.
	a := throttled17(t)
	a.Update(awsAt(600+ms(k)), false)
	if !near(a.calculatedRate, m) {
		t.Errorf("cubic rate after K = %v, want M = %v", a.calculatedRate, m)
	}
	if got := a.Rate(awsAt(600 + ms(k))); !near(got, 2*4.32) {
		t.Errorf("fill rate after K = %v, want twice the measured 4.32", got)
	}

	// With plenty measured the fill rate is the cubic itself. 30
	// responses at 2 s (the throttle and the first over 1.5 s: 4/3 per
	// second, smoothed to 0.8 × 4/3 + 0.2 × 17.6; the other 29 counted),
	// then one at 600 ms + K: 30 over the 0.5 s of the 2 s bucket, 60/s.
	a = throttled17(t)
	for range 30 {
		a.Update(awsAt(2000), false)
	}
	halfK := a.calculatedRate
	a.Update(awsAt(600+ms(k)), false)
	measured := 0.8*60 + 0.2*(0.8*2/1.5+0.2*m)
	if !near(a.measuredTxRate, measured) {
		t.Fatalf("measured rate = %v, want %v", a.measuredTxRate, measured)
	}
	if got := a.Rate(awsAt(600 + ms(k))); !near(got, m) {
		t.Errorf("fill rate after K = %v, want M = %v", got, m)
	}
	if want := 0.4*(1.4-k)*(1.4-k)*(1.4-k) + m; !near(halfK, want) || halfK >= m {
		t.Errorf("cubic rate 1.4 s after the throttle = %v, want %v, below M", halfK, want)
	}
	a.Update(awsAt(600+ms(2*k)), false)
	if !near(a.calculatedRate, 1.3*m) {
		t.Errorf("cubic rate after 2K = %v, want 1.3 M = %v", a.calculatedRate, 1.3*m)
	}
}

func TestAWSBackoff(t *testing.T) {
	for _, tc := range []struct {
		retry int
		u     float64
		want  time.Duration
	}{
		{1, 0, 0},
		{1, 0.5, time.Second},
		{2, 0.5, 2 * time.Second},
		{3, 0.25, 2 * time.Second},
		{4, 0.999, time.Duration(0.999 * 16 * float64(time.Second))},
		{5, 0, 20 * time.Second},
		{9, 0.5, 20 * time.Second},
	} {
		if got := awsBackoff(tc.retry, tc.u); got != tc.want {
			t.Errorf("awsBackoff(%d, %v) = %v, want %v", tc.retry, tc.u, got, tc.want)
		}
	}
}

// In a run, the SDK's limiter lets the clients go unrestricted until the
// first throttle, then holds them to its fill rate: the trace shows the
// measured rate before and the fill rate after, and fewer requests are
// throttled than with no pacing.
func TestAWSAdaptiveRun(t *testing.T) {
	sc, _ := ScenarioByName("S1")
	sc.Duration = d(2 * time.Minute)
	aws := mustRun(t, sc, AWSAdaptive())
	naive := mustRun(t, sc, NaiveRetry())
	if aws.Throttled == 0 || aws.Throttled >= naive.Throttled {
		t.Errorf("%d throttled, naive retries %d: want some, fewer", aws.Throttled, naive.Throttled)
	}
	if aws.Decreases != aws.Throttled {
		t.Errorf("%d decreases for %d throttled responses: want one each", aws.Decreases, aws.Throttled)
	}
	for _, s := range aws.Trace[len(aws.Trace)/2:] {
		if s.Rate < awsMinFillRate || s.Rate > 4*sc.Upstream.Rate {
			t.Fatalf("at %v the fill rate is %v, want within [0.5, 4 × the limit]", s.T, s.Rate)
		}
	}
	// Sent counts attempts, a refused Acquire none: every attempt is
	// answered but those in flight at the end.
	if answered := aws.Succeeded + aws.Throttled + aws.Overloaded; aws.Sent < answered || aws.Sent > answered+uint64(sc.Clients.Workers) {
		t.Errorf("sent %d, answered %d", aws.Sent, answered)
	}
}
