package buckettest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/signal"
)

// t0 is the first instant of every subtest; each names its later instants
// after it.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	// timeTolerance is how far an instant a bucket computes may be from the
	// suite's: float seconds since the Unix epoch resolve about a quarter of
	// a microsecond at today's dates.
	timeTolerance = time.Microsecond
	// tokenTolerance absorbs the rounding of rate × elapsed time.
	tokenTolerance = 1e-9
)

// base refills one token every 250ms, an interval that float seconds hold
// exactly.
var base = policy.State{Rate: 4, Burst: 4}

// throttling starts from base. A fresh throttle without Retry-After halves
// the rate to 2 tokens/s and pauses 1.5 intervals of it, 750ms; a success
// doubles the rate to 8 tokens/s, so old and new rates are easy to tell
// apart. It is plain AIMD that keeps no measure of time (mechanics): the
// states it leaves are exactly the ones written below. RunDifferential
// plays policies that move Since, Updated and Measured.
var throttling = mechanics{policy.AIMD{
	Rate:               4,
	Burst:              4,
	IncreaseFactor:     4,
	DecreaseFactor:     0.5,
	MinRate:            0.5,
	MaxRate:            100,
	CooldownMultiplier: 1.5,
}}

// mechanics is an AIMD whose steps leave Since, Updated and Measured as
// they found them.
type mechanics struct{ policy.AIMD }

func (m mechanics) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	next := m.AIMD.Next(s, o, now)
	next.Since, next.Updated, next.Measured = s.Since, s.Updated, s.Measured
	return next
}

// Run runs the conformance suite. newBucket must return a bucket that has
// never been initialized and shares no state with any other it returned; it
// is called at least once per subtest, with the subtest's t, so that it can
// register cleanups.
func Run(t *testing.T, newBucket func(t *testing.T) bucket.Bucket) {
	t.Helper()
	tests := []struct {
		name string
		run  func(*testing.T, func(*testing.T) bucket.Bucket)
	}{
		{"UseBeforeInit", testUseBeforeInit},
		{"InitStartsFull", testInitStartsFull},
		{"InitAgainKeepsState", testInitAgainKeepsState},
		{"InitRejectsInvalidState", testInitRejectsInvalidState},
		{"InitDuringCooldown", testInitDuringCooldown},
		{"TakeUpToBurstIsImmediate", testTakeUpToBurst},
		{"FractionalTokens", testFractionalTokens},
		{"RefillCapsAtBurst", testRefillCapsAtBurst},
		{"MaxWait", testMaxWait},
		{"Forever", testForever},
		{"InvalidN", testInvalidN},
		{"Confirm", testConfirm},
		{"CancelBeforeAt", testCancelBeforeAt},
		{"CancelAfterAt", testCancelAfterAt},
		{"CancelMidQueue", testCancelMidQueue},
		{"CancelWholeQueue", testCancelWholeQueue},
		{"CancelRejected", testCancelRejected},
		{"CancelOlderEpoch", testCancelOlderEpoch},
		{"ApplyThrottle", testApplyThrottle},
		{"ApplyThrottleRetryAfter", testApplyThrottleRetryAfter},
		{"ApplySuccess", testApplySuccess},
		{"ApplySanitizes", testApplySanitizes},
		{"HugeRetryAfter", testHugeRetryAfter},
		{"QuotaFarReset", testQuotaFarReset},
		{"CooldownAtTimesEnd", testCooldownAtTimesEnd},
		{"QuotaPacesEvenly", testQuotaPacesEvenly},
		{"QuotaExhaustedWaitsForReset", testQuotaExhausted},
		{"QuotaPlentyChangesNothing", testQuotaPlenty},
		{"PeekReportsReserved", testPeekReportsReserved},
		{"PropertyFixed", testPropertyFixed},
		{"PropertyAIMD", testPropertyAIMD},
		{"ConcurrentTakes", testConcurrentTakes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newBucket) })
	}
}

func testUseBeforeInit(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	b := newBucket(t)
	ctx := t.Context()
	t1 := t0.Add(time.Second)
	forged := bucket.Reservation{OK: true, At: t1, Tokens: 1}

	if _, err := b.Take(ctx, t0, 1, bucket.Forever); !errors.Is(err, bucket.ErrUninitialized) {
		t.Errorf("Take before Init: err = %v, want ErrUninitialized", err)
	}
	if _, err := b.Confirm(ctx, t0, forged); !errors.Is(err, bucket.ErrUninitialized) {
		t.Errorf("Confirm before Init: err = %v, want ErrUninitialized", err)
	}
	if err := b.Cancel(ctx, t0, forged); !errors.Is(err, bucket.ErrUninitialized) {
		t.Errorf("Cancel before Init: err = %v, want ErrUninitialized", err)
	}
	if _, _, err := b.Apply(ctx, throttling, throttle(0), t0); !errors.Is(err, bucket.ErrUninitialized) {
		t.Errorf("Apply before Init: err = %v, want ErrUninitialized", err)
	}
	if _, err := b.Peek(ctx, t0); !errors.Is(err, bucket.ErrUninitialized) {
		t.Errorf("Peek before Init: err = %v, want ErrUninitialized", err)
	}

	// The failed calls must have left nothing behind for Init to keep.
	h := harness{t: t, b: b}
	h.init(t0, base)
	st := h.wantStatus(t0, base.Burst, 0)
	h.wantState("Peek(t0).State", st.State, base)
}

func testInitStartsFull(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	st := h.wantStatus(t0, base.Burst, 0)
	h.wantState("Peek(t0).State", st.State, base)

	// A full bucket stays full: idle time adds nothing beyond the burst.
	t1 := t0.Add(time.Hour)
	h.wantStatus(t1, base.Burst, 0)
}

func testInitAgainKeepsState(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 3, 0)

	other := policy.State{Rate: 10, Burst: 20}
	h.init(t0, other)
	st := h.wantStatus(t0, 1, 0)
	h.wantState("state after a second Init", st.State, base)

	// Neither a refill to the top nor the other rate: the bucket goes on at
	// its own.
	t1 := t0.Add(250 * time.Millisecond)
	h.init(t1, other)
	st = h.wantStatus(t1, 2, 0)
	h.wantState("state after a third Init", st.State, base)
}

func testInitRejectsInvalidState(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	for _, tc := range []struct {
		name  string
		s     policy.State
		field string
		value float64
	}{
		{"zero rate", policy.State{Rate: 0, Burst: 4}, "rate_limit_per_sec", 0},
		{"negative rate", policy.State{Rate: -1, Burst: 4}, "rate_limit_per_sec", -1},
		{"NaN rate", policy.State{Rate: math.NaN(), Burst: 4}, "rate_limit_per_sec", math.NaN()},
		{"infinite rate", policy.State{Rate: math.Inf(1), Burst: 4}, "rate_limit_per_sec", math.Inf(1)},
		{"zero burst", policy.State{Rate: 4, Burst: 0}, "burst_size", 0},
		{"burst below one", policy.State{Rate: 4, Burst: 0.5}, "burst_size", 0.5},
		{"negative burst", policy.State{Rate: 4, Burst: -3}, "burst_size", -3},
		{"NaN burst", policy.State{Rate: 4, Burst: math.NaN()}, "burst_size", math.NaN()},
		{"infinite burst", policy.State{Rate: 4, Burst: math.Inf(1)}, "burst_size", math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBucket(t)
			err := b.Init(t.Context(), t0, tc.s)
			if err == nil {
				t.Fatalf("Init(%+v) = nil, want an error", tc.s)
			}
			if msg, v := err.Error(), ftoa(tc.value); !strings.Contains(msg, tc.field) || !strings.Contains(msg, v) {
				t.Errorf("Init(%+v) = %q, want a message naming %s and %s", tc.s, msg, tc.field, v)
			}
			if _, err := b.Take(t.Context(), t0, 1, bucket.Forever); !errors.Is(err, bucket.ErrUninitialized) {
				t.Errorf("Take after a rejected Init: err = %v, want ErrUninitialized", err)
			}
			h := harness{t: t, b: b}
			h.init(t0, base)
			h.wantStatus(t0, base.Burst, 0)
		})
	}
}

func testInitDuringCooldown(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	cooldownEnd := t0.Add(time.Second)
	s := policy.State{Rate: 4, Burst: 4, CooldownUntil: cooldownEnd, Epoch: 3}
	h := start(t, newBucket, s)
	st := h.peek(t0)
	h.wantState("Peek(t0).State", st.State, s)

	r := h.rejectTake(t0, 1, 0)
	h.wantNotBefore("take during the initial cooldown", r, cooldownEnd)
	r = h.mustTake(t0, 1, bucket.Forever)
	h.wantNotBefore("take during the initial cooldown", r, cooldownEnd)
	if r.Epoch != s.Epoch {
		t.Errorf("reservation epoch = %d, want %d", r.Epoch, s.Epoch)
	}
}

func testTakeUpToBurst(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	for i := range int(base.Burst) {
		r := h.mustTake(t0, 1, 0)
		h.wantAt(fmt.Sprintf("token %d", i+1), r, t0)
		if r.Epoch != base.Epoch {
			t.Errorf("token %d: epoch = %d, want %d", i+1, r.Epoch, base.Epoch)
		}
	}
	h.wantStatus(t0, 0, 0)

	t1 := t0.Add(250 * time.Millisecond) // 1/rate later
	r := h.rejectTake(t0, 1, 0)
	h.wantAt("token after the burst", r, t1)
	r = h.mustTake(t1, 1, 0)
	h.wantAt("token after the burst, taken when due", r, t1)

	t2 := t1.Add(250 * time.Millisecond)
	r = h.mustTake(t1, 1, bucket.Forever)
	h.wantAt("next token", r, t2)
	h.wantStatus(t1, 0, 1)
}

func testFractionalTokens(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, policy.State{Rate: 4, Burst: 2.5})
	r := h.mustTake(t0, 2.5, 0) // the whole burst in one take
	h.wantAt("whole burst", r, t0)

	t1 := t0.Add(125 * time.Millisecond) // half a token at 4/s
	r = h.rejectTake(t0, 0.5, 0)
	h.wantAt("half a token", r, t1)
	r = h.mustTake(t1, 0.5, 0)
	h.wantAt("half a token, taken when due", r, t1)
	h.wantStatus(t1, 0, 0)
}

func testRefillCapsAtBurst(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)

	t1 := t0.Add(500 * time.Millisecond)
	h.wantStatus(t1, 2, 0)

	t2 := t0.Add(time.Hour)
	h.wantStatus(t2, base.Burst, 0)
	r := h.mustTake(t2, base.Burst, 0)
	h.wantAt("burst after an idle hour", r, t2)
	t3 := t2.Add(250 * time.Millisecond)
	r = h.rejectTake(t2, 1, 0)
	h.wantAt("token after the burst", r, t3)
}

func testMaxWait(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	t2 := t0.Add(500 * time.Millisecond)
	t3 := t0.Add(750 * time.Millisecond)

	r := h.rejectTake(t0, 2, 250*time.Millisecond)
	h.wantAt("2 tokens beyond maxWait", r, t2)
	r = h.rejectTake(t0, 2, 400*time.Millisecond)
	h.wantAt("2 tokens beyond maxWait", r, t2)
	h.wantStatus(t0, 0, 0) // rejected takes took nothing

	// A wait of exactly maxWait is within it.
	r = h.mustTake(t0, 2, 500*time.Millisecond)
	h.wantAt("2 tokens within maxWait", r, t2)
	h.wantStatus(t0, 0, 2)

	r = h.rejectTake(t0, 1, 500*time.Millisecond)
	h.wantAt("token behind the reservation", r, t3)
	h.wantStatus(t0, 0, 2)

	// At of a rejected take is when capacity frees: taken then, it is
	// immediate.
	r = h.mustTake(r.At, 1, 0)
	h.wantAt("token taken when capacity frees", r, t3)
}

func testForever(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	r := h.mustTake(t0, 4, bucket.Forever)
	h.wantAt("first queued burst", r, t0.Add(time.Second))
	r = h.mustTake(t0, 4, bucket.Forever)
	h.wantAt("second queued burst", r, t0.Add(2*time.Second))
	h.wantStatus(t0, 0, 8)

	// One token every 1024s: a wait of 17 minutes is still within Forever.
	slow := start(t, newBucket, policy.State{Rate: 1.0 / 1024, Burst: 1})
	slow.mustTake(t0, 1, 0)
	t1 := t0.Add(1024 * time.Second)
	r = slow.rejectTake(t0, 1, 1023*time.Second)
	slow.wantAt("slow token beyond maxWait", r, t1)
	r = slow.mustTake(t0, 1, bucket.Forever)
	slow.wantAt("slow token", r, t1)
}

func testInvalidN(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	for _, n := range []float64{0, math.Copysign(0, -1), -1, math.NaN(), math.Inf(1), math.Inf(-1), 4.5, 100} {
		_, err := h.b.Take(t.Context(), t0, n, bucket.Forever)
		var be *bucket.BurstError
		if !errors.As(err, &be) {
			t.Errorf("Take(n = %v): err = %v, want a *bucket.BurstError", n, err)
			continue
		}
		if !sameFloat(be.N, n) || be.Burst != base.Burst {
			t.Errorf("Take(n = %v): BurstError{N: %v, Burst: %v}, want {N: %v, Burst: %v}", n, be.N, be.Burst, n, base.Burst)
		}
		if msg := err.Error(); !strings.Contains(msg, ftoa(n)) {
			t.Errorf("Take(n = %v): error %q does not name the value", n, msg)
		}
	}
	h.wantStatus(t0, base.Burst, 0)
}

func testConfirm(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	r := h.mustTake(t0, 1, bucket.Forever)
	if !h.confirm(t0, r) {
		t.Errorf("Confirm(t0) of a pending reservation of the current epoch = false")
	}
	if !h.confirm(r.At, r) {
		t.Errorf("Confirm(At) of a reservation of the current epoch = false")
	}
	rejected := h.rejectTake(t0, 1, 0)
	if h.confirm(rejected.At, rejected) {
		t.Errorf("Confirm of a rejected reservation = true")
	}
}

func testCancelBeforeAt(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	r := h.mustTake(t0, 1, bucket.Forever)
	due := t0.Add(250 * time.Millisecond)
	h.wantAt("reservation", r, due)

	t1 := t0.Add(100 * time.Millisecond)
	h.cancel(t1, r)
	h.wantStatus(t1, 0.4, 0)
	r = h.mustTake(t1, 1, bucket.Forever)
	h.wantAt("reservation after a cancel", r, due)
}

func testCancelAfterAt(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	r := h.mustTake(t0, 1, bucket.Forever) // due at t0+250ms

	t1 := t0.Add(500 * time.Millisecond)
	h.cancel(t1, r)
	h.wantStatus(t1, 1, 0)

	// At its At, a reservation's time has come.
	r = h.mustTake(t1, 2, bucket.Forever)
	h.cancel(r.At, r)
	h.wantStatus(r.At, 0, 0)

	// So has that of tokens taken at once, at the very instant.
	t2 := t0.Add(time.Hour)
	r = h.mustTake(t2, 1, 0)
	h.cancel(t2, r)
	h.wantStatus(t2, 3, 0)
}

func testCancelMidQueue(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	first := h.mustTake(t0, 4, bucket.Forever)
	second := h.mustTake(t0, 4, bucket.Forever)
	h.wantAt("first queued burst", first, t0.Add(time.Second))
	h.wantAt("second queued burst", second, t0.Add(2*time.Second))

	// second keeps its instant and stands on the time first left it:
	// whatever comes back, a whole burst more cannot be due beside it.
	h.cancel(t0, first)
	h.wantStatus(second.At, 0, 0)
	r := h.mustTake(t0, 4, bucket.Forever)
	if want := second.At.Add(time.Second); r.At.Before(want.Add(-timeTolerance)) {
		t.Errorf("a burst taken after cancelling the middle of the queue is due at %s, before %s", rel(r.At), rel(want))
	}
}

func testCancelRejected(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	r := h.rejectTake(t0, 1, 0)
	h.cancel(t0, r)
	h.wantStatus(t0, 0, 0)
}

func testCancelOlderEpoch(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	r := h.mustTake(t0, 1, bucket.Forever)

	_, next := h.apply(throttling, throttle(r.Epoch), t0)
	if next.Epoch == r.Epoch {
		t.Fatalf("a fresh throttle left the epoch at %d", next.Epoch)
	}
	h.cancel(t0, r)
	h.wantStatus(t0, 0, 0)
	r = h.mustTake(t0, 1, bucket.Forever)
	h.wantAfterCooldown("take after the throttle", r, t0, next, 1)
}

func testApplyThrottle(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 2, 0)
	pending := h.mustTake(t0, 4, bucket.Forever) // due at t0+500ms

	t1 := t0.Add(100 * time.Millisecond)
	before := h.peek(t1)
	prev, next := h.apply(throttling, throttle(pending.Epoch), t1)
	h.wantState("prev", prev, before.State)
	cooldownEnd := t1.Add(750 * time.Millisecond)
	h.wantState("next", next, policy.State{Rate: 2, Burst: 4, CooldownUntil: cooldownEnd, Epoch: 1})

	// Drained, and the pending reservation forfeited with its tokens.
	st := h.wantStatus(t1, 0, 0)
	h.wantState("Peek(t1).State", st.State, next)
	if h.confirm(t1, pending) || h.confirm(pending.At, pending) {
		t.Errorf("Confirm of a reservation made before the throttle = true")
	}

	// Nothing accrues during the cooldown; the refill starts at its end, at
	// the new rate.
	h.wantStatus(cooldownEnd.Add(-time.Millisecond), 0, 0)
	h.wantStatus(cooldownEnd, 0, 0)
	h.wantStatus(cooldownEnd.Add(500*time.Millisecond), 1, 0)

	r := h.rejectTake(t1, 1, 0)
	h.wantAfterCooldown("take during the cooldown", r, t1, next, 1)
	r = h.mustTake(t1, 2, bucket.Forever)
	h.wantAfterCooldown("take during the cooldown", r, t1, next, 2)
	if r.Epoch != next.Epoch {
		t.Errorf("reservation epoch = %d, want %d", r.Epoch, next.Epoch)
	}
	if !h.confirm(r.At, r) {
		t.Errorf("Confirm of a reservation made after the throttle = false")
	}
	t2 := t1.Add(500 * time.Millisecond) // still cooling down
	r = h.mustTake(t2, 1, bucket.Forever)
	h.wantNotBefore("take late in the cooldown", r, cooldownEnd)
	h.wantAt("take late in the cooldown", r, cooldownEnd.Add(1500*time.Millisecond))
}

func testApplyThrottleRetryAfter(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	t1 := t0.Add(100 * time.Millisecond)
	o := throttle(0)
	o.Signal.RetryAfter = 3 * time.Second
	_, next := h.apply(throttling, o, t1)
	h.wantState("next", next, policy.State{Rate: 2, Burst: 4, CooldownUntil: t1.Add(3 * time.Second), Epoch: 1})
	h.wantStatus(t1, 0, 0)
	r := h.mustTake(t1, 1, bucket.Forever)
	h.wantAfterCooldown("take during the Retry-After", r, t1, next, 1)
}

func testApplySuccess(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	pending := h.mustTake(t0, 1, bucket.Forever) // due at t0+250ms

	t1 := t0.Add(500 * time.Millisecond) // 2 tokens at the old rate, one of them reserved
	prev, next := h.apply(throttling, success(pending.Epoch), t1)
	h.wantState("prev", prev, base)
	h.wantState("next", next, policy.State{Rate: 8, Burst: 4})
	st := h.wantStatus(t1, 1, 0)
	h.wantState("Peek(t1).State", st.State, next)

	// 1 + 8/s × 250ms; the new rate from t0 on would give 4, the old one 2.
	t2 := t1.Add(250 * time.Millisecond)
	h.wantStatus(t2, 3, 0)
	if !h.confirm(pending.At, pending) {
		t.Errorf("an increase forfeited a pending reservation")
	}
}

// steady keeps base's rate whatever happens, so that only the quota hints
// move the pace.
var steady = policy.Fixed{Rate: 4, Burst: 4}

func withQuota(epoch uint64, remaining float64, reset time.Duration) policy.Outcome {
	o := success(epoch)
	o.Signal.Quota = signal.Quota{Limit: 100, Remaining: remaining, HasRemaining: true, Reset: reset}
	return o
}

func testQuotaPacesEvenly(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	// 2 units left for 4 s: 0.5/s, far below the policy's 4/s.
	t4 := t0.Add(4 * time.Second)
	_, next := h.apply(steady, withQuota(0, 2, 4*time.Second), t0)
	h.wantState("next", next, policy.State{Rate: 4, Burst: 4, QuotaRate: 0.5, QuotaUntil: t4})
	// The full bucket keeps one token: no burst into the window.
	h.wantStatus(t0, 1, 0)
	h.mustTake(t0, 1, 0)
	r := h.mustTake(t0, 1, bucket.Forever)
	h.wantAt("second take in the window", r, t0.Add(2*time.Second))
	// The third token accrues at 0.5/s from t0+2s: due at the reset.
	r = h.mustTake(t0, 1, bucket.Forever)
	h.wantAt("third take, at the reset", r, t4)
	r = h.mustTake(t0, 1, bucket.Forever)
	h.wantAt("fourth take, after the reset at the policy's rate", r, t4.Add(250*time.Millisecond))
	// After the reset the policy's rate and burst are in force again.
	h.wantStatus(t4.Add(750*time.Millisecond), 2, 0)
	h.wantStatus(t4.Add(5*time.Second), 4, 0)
}

func testQuotaExhausted(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	t2 := t0.Add(2 * time.Second)
	_, next := h.apply(steady, withQuota(0, 0, 2*time.Second), t0)
	h.wantState("next", next, policy.State{Rate: 4, Burst: 4, CooldownUntil: t2, Epoch: 1})
	h.wantStatus(t0, 0, 0)
	h.rejectTake(t0.Add(time.Second), 1, 0)
	r := h.mustTake(t0, 1, bucket.Forever)
	h.wantNotBefore("take while the quota is exhausted", r, t2)
	h.wantAt("take while the quota is exhausted", r, t2.Add(250*time.Millisecond))
}

func testQuotaPlenty(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	_, next := h.apply(steady, withQuota(0, 1000, 10*time.Second), t0)
	if next.Paced(t0) {
		t.Errorf("state %+v is paced by a quota of 100/s against a rate of 4/s", next)
	}
	h.wantStatus(t0, 4, 0)
	for range 4 {
		h.mustTake(t0, 1, 0)
	}
}

// rogue is a policy that returns whatever its function makes of the state.
type rogue func(policy.State) policy.State

func (f rogue) Initial() policy.State                                           { return base }
func (f rogue) Next(s policy.State, _ policy.Outcome, _ time.Time) policy.State { return f(s) }
func (f rogue) Validate() error                                                 { return nil }

func testApplySanitizes(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	initial := policy.State{Rate: 4, Burst: 4, Epoch: 2}
	cooldownEnd := t0.Add(time.Second)
	for _, tc := range []struct {
		name    string
		next    func(policy.State) policy.State
		want    policy.State
		drained bool
	}{
		{
			name: "NaN rate",
			next: func(s policy.State) policy.State { s.Rate = math.NaN(); return s },
			want: initial,
		},
		{
			name: "infinite rate",
			next: func(s policy.State) policy.State { s.Rate = math.Inf(1); return s },
			want: initial,
		},
		{
			name: "negative rate",
			next: func(s policy.State) policy.State { s.Rate = -4; return s },
			want: initial,
		},
		{
			name: "zero burst",
			next: func(s policy.State) policy.State { s.Burst = 0; return s },
			want: initial,
		},
		{
			name: "NaN burst",
			next: func(s policy.State) policy.State { s.Burst = math.NaN(); return s },
			want: initial,
		},
		{
			name: "epoch going back",
			next: func(s policy.State) policy.State { s.Epoch = 0; return s },
			want: initial,
		},
		{
			name:    "decrease without epoch bump",
			next:    func(s policy.State) policy.State { s.Rate = 2; return s },
			want:    policy.State{Rate: 2, Burst: 4, Epoch: 3},
			drained: true,
		},
		{
			name:    "cooldown without epoch bump",
			next:    func(s policy.State) policy.State { s.CooldownUntil = cooldownEnd; return s },
			want:    policy.State{Rate: 4, Burst: 4, CooldownUntil: cooldownEnd, Epoch: 3},
			drained: true,
		},
		{
			name:    "decrease with epoch going back",
			next:    func(s policy.State) policy.State { s.Rate, s.Epoch = 1, 0; return s },
			want:    policy.State{Rate: 1, Burst: 4, Epoch: 3},
			drained: true,
		},
		{
			name: "everything wrong",
			next: func(policy.State) policy.State {
				return policy.State{Rate: math.NaN(), Burst: math.Inf(-1), CooldownUntil: cooldownEnd}
			},
			want:    policy.State{Rate: 4, Burst: 4, CooldownUntil: cooldownEnd, Epoch: 3},
			drained: true,
		},
		{
			// Legitimate, and no congestion event: the tokens are capped.
			name: "lower burst",
			next: func(s policy.State) policy.State { s.Burst = 2; return s },
			want: policy.State{Rate: 4, Burst: 2, Epoch: 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, newBucket, initial)
			h.mustTake(t0, 1, 0)
			p := rogue(tc.next)
			prev, next := h.apply(p, success(initial.Epoch), t0)
			h.wantState("prev", prev, initial)
			h.wantState("next", next, tc.want)
			h.wantState("next against policy.Sanitize", next, policy.Sanitize(prev, tc.next(prev)))

			tokens := math.Min(3, tc.want.Burst)
			if tc.drained {
				tokens = 0
			}
			st := h.wantStatus(t0, tokens, 0)
			h.wantState("Peek(t0).State", st.State, tc.want)

			r := h.mustTake(t0, 1, bucket.Forever)
			if tc.drained {
				h.wantAfterCooldown("take after the change", r, t0, tc.want, 1)
			} else {
				h.wantAt("take after the change", r, t0)
			}
		})
	}
}

func testPeekReportsReserved(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	h := start(t, newBucket, base)
	h.mustTake(t0, 4, 0)
	for range 3 {
		h.mustTake(t0, 1, bucket.Forever) // due at t0+250ms, +500ms, +750ms
	}
	h.wantStatus(t0, 0, 3)
	h.wantStatus(t0.Add(250*time.Millisecond), 0, 2)
	h.wantStatus(t0.Add(750*time.Millisecond), 0, 0)
	h.wantStatus(t0.Add(time.Second), 1, 0)
	h.wantStatus(t0.Add(time.Hour), base.Burst, 0)
	h.wantStatus(t0, 0, 3) // the later looks changed nothing
}

// testPropertyFixed drives a bucket with a constant rate through random
// operations and checks that no window of time ever sees more tokens used
// than the burst plus what the rate refills in it.
func testPropertyFixed(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	rates := []float64{0.5, 1, 2.5, 4, 10, 100}
	bursts := []float64{1, 1.5, 3, 10}
	for seed := range uint64(seeds()) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			p := policy.Fixed{Rate: rates[rng.IntN(len(rates))], Burst: bursts[rng.IntN(len(bursts))]}
			want := p.Initial()
			h := start(t, newBucket, want)
			var grants []*grant
			now := t0
			for range steps() {
				now = now.Add(randomStep(rng))
				switch op := rng.IntN(100); {
				case op < 50:
					r, _ := h.randomTake(rng, now, want.Burst)
					if r.OK {
						grants = append(grants, &grant{r: r})
					}
				case op < 65:
					g := pick(rng, grants, now)
					if g == nil || g.canceled {
						break
					}
					h.cancel(now, g.r)
					g.canceled = now.Before(g.r.At)
				case op < 75:
					prev, next := h.apply(p, randomOutcome(rng, want.Epoch), now)
					h.wantState("prev", prev, want)
					h.wantState("next", next, want)
				case op < 85:
					h.invalidTake(rng, now, want.Burst)
				default:
					h.peek(now)
				}
				st := h.peek(now)
				h.wantState(fmt.Sprintf("Peek(%s).State", rel(now)), st.State, want)
				if t.Failed() {
					t.FailNow()
				}
			}
			checkSpans(t, grants, p.Rate, p.Burst)
		})
	}
}

// testPropertyAIMD drives an adapting bucket through random operations and
// outcomes, checking the bucket's side of the invariants: tokens within
// [0, Burst], the policy's decision adopted as Sanitize says, pending
// reservations forfeited by congestion events, and no take due before the
// cooldown it was made in ends.
func testPropertyAIMD(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	p := policy.AIMD{
		Rate:               4,
		Burst:              5,
		IncreaseFactor:     0.25,
		DecreaseFactor:     0.5,
		MinRate:            0.5,
		MaxRate:            20,
		CooldownMultiplier: 1.5,
	}
	for seed := range uint64(seeds()) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			h := start(t, newBucket, p.Initial())
			var held []bucket.Reservation
			now := t0
			last := h.peek(now)
			for range steps() {
				now = now.Add(randomStep(rng))
				switch op := rng.IntN(100); {
				case op < 45:
					r, before := h.randomTake(rng, now, last.State.Burst)
					if r.OK {
						held = append(held, r)
					}
					if r.Epoch != before.State.Epoch {
						t.Errorf("Take(%s): epoch = %d, want %d", rel(now), r.Epoch, before.State.Epoch)
					}
				case op < 55:
					if len(held) > 0 {
						h.cancel(now, held[rng.IntN(len(held))])
					}
				case op < 65:
					if len(held) == 0 {
						break
					}
					r := held[rng.IntN(len(held))]
					good := h.confirm(now, r)
					if epoch := h.peek(now).State.Epoch; good != (r.Epoch == epoch) {
						t.Errorf("Confirm(%s) of a reservation of epoch %d = %v in epoch %d", rel(now), r.Epoch, good, epoch)
					}
				case op < 90:
					epoch := last.State.Epoch
					if len(held) > 0 && rng.IntN(2) == 0 {
						epoch = held[rng.IntN(len(held))].Epoch
					}
					o := randomOutcome(rng, epoch)
					before := h.peek(now)
					prev, next := h.apply(p, o, now)
					h.wantState("prev", prev, before.State)
					h.wantState(fmt.Sprintf("next after %+v at %s", o, rel(now)), next, policy.Sanitize(prev, p.Next(prev, o, now)))
					if next.Epoch != prev.Epoch {
						h.wantStatus(now, 0, 0)
					}
				default:
					h.invalidTake(rng, now, last.State.Burst)
				}
				st := h.peek(now)
				if st.State.Rate < p.MinRate || st.State.Rate > p.MaxRate {
					t.Errorf("Peek(%s): rate %v outside [%v, %v]", rel(now), st.State.Rate, p.MinRate, p.MaxRate)
				}
				if st.State.Epoch < last.State.Epoch {
					t.Errorf("Peek(%s): epoch went back from %d to %d", rel(now), last.State.Epoch, st.State.Epoch)
				}
				last = st
				if t.Failed() {
					t.FailNow()
				}
			}
		})
	}
}

// testConcurrentTakes has 32 goroutines take at the same instants. Exact
// counts catch lost updates as well as double grants.
func testConcurrentTakes(t *testing.T, newBucket func(*testing.T) bucket.Bucket) {
	const (
		workers = 32
		rounds  = 20
		step    = time.Second
	)
	p := policy.Fixed{Rate: 4, Burst: 10}
	h := start(t, newBucket, p.Initial())
	ctx := t.Context()
	now := t0
	for round := range rounds {
		if round > 0 {
			now = now.Add(step)
		}
		at := now
		var granted atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r, err := h.b.Take(ctx, at, 1, 0)
				if err != nil {
					t.Errorf("Take(%s): %v", rel(at), err)
					return
				}
				if r.OK {
					granted.Add(1)
					if !nearTime(r.At, at) {
						t.Errorf("Take(%s) granted at %s", rel(at), rel(r.At))
					}
					if ok, err := h.b.Confirm(ctx, at, r); err != nil || !ok {
						t.Errorf("Confirm(%s) = %v, %v; want true", rel(at), ok, err)
					}
				}
				// Readers and writers that change nothing contend with the
				// takers for the race detector.
				switch w % 4 {
				case 0:
					if _, err := h.b.Peek(ctx, at); err != nil {
						t.Errorf("Peek(%s): %v", rel(at), err)
					}
				case 1:
					if _, _, err := h.b.Apply(ctx, p, success(r.Epoch), at); err != nil {
						t.Errorf("Apply(%s): %v", rel(at), err)
					}
				}
			})
		}
		wg.Wait()
		want := p.Burst
		if round > 0 {
			want = math.Min(p.Burst, p.Rate*step.Seconds())
		}
		switch got := float64(granted.Load()); {
		case got > p.Burst:
			t.Fatalf("round %d at %s: %v tokens granted at one instant, burst is %v", round, rel(at), got, p.Burst)
		case got != want:
			t.Fatalf("round %d at %s: %v tokens granted, want %v", round, rel(at), got, want)
		}
	}

	// Concurrent waiters queue one behind the other: every slot is handed
	// out once.
	at := now
	ats := make(chan time.Time, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			r, err := h.b.Take(ctx, at, 1, bucket.Forever)
			if err != nil || !r.OK {
				t.Errorf("Take(%s, Forever) = %+v, %v", rel(at), r, err)
				return
			}
			ats <- r.At
		})
	}
	wg.Wait()
	close(ats)
	var got []time.Time
	for a := range ats {
		got = append(got, a)
	}
	slices.SortFunc(got, time.Time.Compare)
	for i, a := range got {
		if want := at.Add(time.Duration(i+1) * 250 * time.Millisecond); !nearTime(a, want) {
			t.Errorf("waiter %d of %d is due at %s, want %s", i+1, len(got), rel(a), rel(want))
		}
	}
	h.wantStatus(at, 0, workers)
}

// grant is a reservation the property test holds, and whether a Cancel
// before its At gave it back.
type grant struct {
	r        bucket.Reservation
	canceled bool
}

// pick returns a random grant, most often one still pending at now, whose
// Cancel is the interesting one; nil when there is none.
func pick(rng *rand.Rand, grants []*grant, now time.Time) *grant {
	if len(grants) == 0 {
		return nil
	}
	if rng.IntN(4) > 0 {
		var pending []*grant
		for _, g := range grants {
			if !g.canceled && g.r.At.After(now) {
				pending = append(pending, g)
			}
		}
		if len(pending) > 0 {
			return pending[rng.IntN(len(pending))]
		}
	}
	return grants[rng.IntN(len(grants))]
}

// checkSpans checks every window [a, b] between two grants: the tokens due
// within it are at most burst + rate × (b - a).
func checkSpans(t *testing.T, grants []*grant, rate, burst float64) {
	t.Helper()
	var live []bucket.Reservation
	for _, g := range grants {
		if !g.canceled {
			live = append(live, g.r)
		}
	}
	slices.SortStableFunc(live, func(a, b bucket.Reservation) int { return a.At.Compare(b.At) })
	sum := make([]float64, len(live)+1)
	for i, r := range live {
		sum[i+1] = sum[i] + r.Tokens
	}
	for i := range live {
		for j := i; j < len(live); j++ {
			span := live[j].At.Sub(live[i].At)
			used := sum[j+1] - sum[i]
			limit := burst + rate*(span+2*timeTolerance).Seconds()
			if used > limit*(1+tokenTolerance) {
				t.Errorf("%v tokens due within [%s, %s], more than burst %v + rate %v × %v = %v",
					used, rel(live[i].At), rel(live[j].At), burst, rate, span, burst+rate*span.Seconds())
				return
			}
		}
	}
}

func seeds() int {
	if testing.Short() {
		return 4
	}
	return 16
}

func steps() int {
	if testing.Short() {
		return 100
	}
	return 400
}

func randomStep(rng *rand.Rand) time.Duration {
	switch rng.IntN(5) {
	case 0:
		return 0 // several operations at one instant
	case 1:
		return time.Duration(rng.IntN(1000)) * time.Millisecond
	case 2:
		return time.Duration(rng.Int64N(int64(time.Second)))
	case 3:
		return time.Duration(rng.IntN(10)) * time.Second
	default:
		return time.Duration(rng.IntN(100)) * time.Millisecond
	}
}

func randomN(rng *rand.Rand, burst float64) float64 {
	switch rng.IntN(4) {
	case 0:
		return burst
	case 1:
		return burst * (1 - rng.Float64()) // in (0, burst]
	default:
		return 1
	}
}

func randomWait(rng *rand.Rand) time.Duration {
	switch rng.IntN(4) {
	case 0:
		return 0
	case 1:
		return bucket.Forever
	case 2:
		return time.Duration(rng.IntN(3000)) * time.Millisecond
	default:
		return time.Duration(rng.Int64N(int64(time.Minute)))
	}
}

func randomOutcome(rng *rand.Rand, epoch uint64) policy.Outcome {
	kinds := []signal.Kind{signal.Success, signal.Success, signal.Throttled, signal.Overloaded, signal.Failed, signal.Canceled}
	o := policy.Outcome{
		Signal: signal.Signal{Kind: kinds[rng.IntN(len(kinds))]},
		Epoch:  epoch,
		Tokens: 1,
		Count:  uint64(rng.IntN(4)),
	}
	if rng.IntN(3) == 0 {
		o.Signal.RetryAfter = time.Duration(rng.IntN(5000)) * time.Millisecond
	}
	return o
}

func throttle(epoch uint64) policy.Outcome {
	return policy.Outcome{Signal: signal.Signal{Kind: signal.Throttled, Status: 429}, Epoch: epoch, Tokens: 1}
}

func success(epoch uint64) policy.Outcome {
	return policy.Outcome{Signal: signal.Signal{Kind: signal.Success, Status: 200}, Epoch: epoch, Tokens: 1}
}

// harness wraps a bucket under test with calls that fail the test on an
// unexpected error and check what every answer must satisfy.
type harness struct {
	t *testing.T
	b bucket.Bucket
}

func start(t *testing.T, newBucket func(*testing.T) bucket.Bucket, s policy.State) harness {
	t.Helper()
	h := harness{t: t, b: newBucket(t)}
	h.init(t0, s)
	return h
}

func (h harness) init(now time.Time, s policy.State) {
	h.t.Helper()
	if err := h.b.Init(h.t.Context(), now, s); err != nil {
		h.t.Fatalf("Init(%s, %+v): %v", rel(now), s, err)
	}
}

func (h harness) take(now time.Time, n float64, maxWait time.Duration) bucket.Reservation {
	h.t.Helper()
	r, err := h.b.Take(h.t.Context(), now, n, maxWait)
	if err != nil {
		h.t.Fatalf("Take(%s, %v, %s): %v", rel(now), n, waitString(maxWait), err)
	}
	if r.Tokens != n {
		h.t.Errorf("Take(%s, %v, %s): Tokens = %v", rel(now), n, waitString(maxWait), r.Tokens)
	}
	if r.At.Before(now) {
		h.t.Errorf("Take(%s, %v, %s): At = %s, before now", rel(now), n, waitString(maxWait), rel(r.At))
	}
	wait := r.At.Sub(now)
	switch {
	case r.OK && maxWait != bucket.Forever && wait-timeTolerance > maxWait:
		h.t.Errorf("Take(%s, %v, %s): granted with a wait of %v", rel(now), n, waitString(maxWait), wait)
	case !r.OK && maxWait == bucket.Forever:
		h.t.Errorf("Take(%s, %v, Forever): rejected, At = %s", rel(now), n, rel(r.At))
	case !r.OK && maxWait-timeTolerance > wait:
		h.t.Errorf("Take(%s, %v, %s): rejected with a wait of %v", rel(now), n, waitString(maxWait), wait)
	}
	return r
}

func (h harness) mustTake(now time.Time, n float64, maxWait time.Duration) bucket.Reservation {
	h.t.Helper()
	r := h.take(now, n, maxWait)
	if !r.OK {
		h.t.Fatalf("Take(%s, %v, %s) = not OK, At = %s; want OK", rel(now), n, waitString(maxWait), rel(r.At))
	}
	return r
}

// rejectTake also checks that the rejected take changed nothing.
func (h harness) rejectTake(now time.Time, n float64, maxWait time.Duration) bucket.Reservation {
	h.t.Helper()
	before := h.peek(now)
	r := h.take(now, n, maxWait)
	if r.OK {
		h.t.Fatalf("Take(%s, %v, %s) = OK, At = %s; want not OK", rel(now), n, waitString(maxWait), rel(r.At))
	}
	if d := cmp.Diff(before, h.peek(now)); d != "" {
		h.t.Errorf("rejected Take(%s, %v, %s) changed the bucket (-before +after):\n%s", rel(now), n, waitString(maxWait), d)
	}
	return r
}

// randomTake takes with a random n and maxWait and returns the reservation
// with the status before it. A rejected take must have changed nothing; a
// take made during a cooldown must not be due before its end.
func (h harness) randomTake(rng *rand.Rand, now time.Time, burst float64) (bucket.Reservation, bucket.Status) {
	h.t.Helper()
	before := h.peek(now)
	r := h.take(now, randomN(rng, burst), randomWait(rng))
	if cu := before.State.CooldownUntil; now.Before(cu) && r.At.Before(cu) {
		h.t.Errorf("Take(%s) due at %s, before the cooldown ends at %s", rel(now), rel(r.At), rel(cu))
	}
	if !r.OK {
		if d := cmp.Diff(before, h.peek(now)); d != "" {
			h.t.Errorf("rejected Take(%s, %v) changed the bucket (-before +after):\n%s", rel(now), r.Tokens, d)
		}
	}
	return r, before
}

func (h harness) invalidTake(rng *rand.Rand, now time.Time, burst float64) {
	h.t.Helper()
	before := h.peek(now)
	n := []float64{0, -burst, math.NaN(), math.Inf(1), burst * 2, burst + 0.5}[rng.IntN(6)]
	_, err := h.b.Take(h.t.Context(), now, n, bucket.Forever)
	var be *bucket.BurstError
	if !errors.As(err, &be) {
		h.t.Errorf("Take(%s, %v): err = %v, want a *bucket.BurstError", rel(now), n, err)
	}
	if d := cmp.Diff(before, h.peek(now)); d != "" {
		h.t.Errorf("invalid Take(%s, %v) changed the bucket (-before +after):\n%s", rel(now), n, d)
	}
}

func (h harness) confirm(now time.Time, r bucket.Reservation) bool {
	h.t.Helper()
	ok, err := h.b.Confirm(h.t.Context(), now, r)
	if err != nil {
		h.t.Fatalf("Confirm(%s, %+v): %v", rel(now), r, err)
	}
	return ok
}

func (h harness) cancel(now time.Time, r bucket.Reservation) {
	h.t.Helper()
	if err := h.b.Cancel(h.t.Context(), now, r); err != nil {
		h.t.Fatalf("Cancel(%s, %+v): %v", rel(now), r, err)
	}
}

func (h harness) apply(p policy.Policy, o policy.Outcome, now time.Time) (prev, next policy.State) {
	h.t.Helper()
	prev, next, err := h.b.Apply(h.t.Context(), p, o, now)
	if err != nil {
		h.t.Fatalf("Apply(%+v, %s): %v", o, rel(now), err)
	}
	return prev, next
}

// peek also checks the bounds every status must respect.
func (h harness) peek(now time.Time) bucket.Status {
	h.t.Helper()
	st, err := h.b.Peek(h.t.Context(), now)
	if err != nil {
		h.t.Fatalf("Peek(%s): %v", rel(now), err)
	}
	if !(st.Tokens >= 0 && st.Tokens <= st.State.Burst) {
		h.t.Errorf("Peek(%s): Tokens = %v, outside [0, %v]", rel(now), st.Tokens, st.State.Burst)
	}
	if !(st.Reserved >= 0) {
		h.t.Errorf("Peek(%s): Reserved = %v, want >= 0", rel(now), st.Reserved)
	}
	return st
}

func (h harness) wantStatus(now time.Time, tokens, reserved float64) bucket.Status {
	h.t.Helper()
	st := h.peek(now)
	if !nearFloat(st.Tokens, tokens) || !nearFloat(st.Reserved, reserved) {
		h.t.Errorf("Peek(%s) = %v tokens, %v reserved; want %v, %v", rel(now), st.Tokens, st.Reserved, tokens, reserved)
	}
	return st
}

func (h harness) wantState(what string, got, want policy.State) {
	h.t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		h.t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func (h harness) wantAt(what string, r bucket.Reservation, want time.Time) {
	h.t.Helper()
	if !nearTime(r.At, want) {
		h.t.Errorf("%s: At = %s, want %s", what, rel(r.At), rel(want))
	}
}

func (h harness) wantNotBefore(what string, r bucket.Reservation, cooldownEnd time.Time) {
	h.t.Helper()
	if r.At.Before(cooldownEnd) {
		h.t.Errorf("%s: At = %s, before the cooldown ends at %s", what, rel(r.At), rel(cooldownEnd))
	}
}

// wantAfterCooldown checks a take of n tokens made at now from a bucket
// drained by the congestion event that led to s: it is due when the
// cooldown, if any, is over and n tokens have accrued at the new rate, not
// before and not later.
func (h harness) wantAfterCooldown(what string, r bucket.Reservation, now time.Time, s policy.State, n float64) {
	h.t.Helper()
	h.wantNotBefore(what, r, s.CooldownUntil)
	from := now
	if s.CooldownUntil.After(now) {
		from = s.CooldownUntil
	}
	want := from.Add(policy.Seconds(n / s.Rate))
	if r.At.Before(want.Add(-timeTolerance)) {
		h.t.Errorf("%s: At = %s, before %v tokens can accrue at %v/s from %s", what, rel(r.At), n, s.Rate, rel(from))
	}
	h.wantAt(what, r, want)
}

func nearTime(got, want time.Time) bool {
	d := got.Sub(want)
	return d >= -timeTolerance && d <= timeTolerance
}

func nearFloat(got, want float64) bool {
	return math.Abs(got-want) <= tokenTolerance*math.Max(1, math.Abs(want))
}

func sameFloat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

// rel names an instant after t0, which reads better in a failure than a
// date.
func rel(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	d := t.Sub(t0)
	if d == math.MaxInt64 || d == math.MinInt64 {
		return t.UTC().Format(time.RFC3339Nano) // beyond what t0+d can say
	}
	if d < 0 {
		return "t0" + d.String()
	}
	return "t0+" + d.String()
}

func waitString(d time.Duration) string {
	if d == bucket.Forever {
		return "Forever"
	}
	return d.String()
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
