package bucket_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/bucket"
	"github.com/dynlimit/dynlimit/policy"
)

// setRate is a policy that sets the rate it holds, in the same epoch.
type setRate struct{ rate *float64 }

func (p setRate) Initial() policy.State { return policy.State{Rate: *p.rate, Burst: 4} }
func (p setRate) Validate() error       { return nil }
func (p setRate) Next(s policy.State, _ policy.Outcome, _ time.Time) policy.State {
	s.Rate = *p.rate
	return s
}

// A reservation comes due at its At when the rate holds, and earlier when
// it rises: at the instant its lacking tokens have accrued at the new rate.
func TestLocalDueFollowsTheRate(t *testing.T) {
	ctx := context.Background()
	rate := 4.0
	p := setRate{&rate}
	b := bucket.NewLocal()
	if err := b.Init(ctx, t0, p.Initial()); err != nil {
		t.Fatal(err)
	}
	var rs []bucket.Reservation
	for range 12 { // 4 at once, then 8 behind them at 4/s: the last at t0+2s
		r, err := b.Take(ctx, t0, 1, bucket.Forever)
		if err != nil || !r.OK {
			t.Fatalf("Take = %+v, %v", r, err)
		}
		rs = append(rs, r)
	}
	last := rs[len(rs)-1]
	if want := t0.Add(2 * time.Second); !last.At.Equal(want) {
		t.Fatalf("last At = %v, want t0+2s", last.At.Sub(t0))
	}
	if due, _ := b.Due(ctx, t0, last); !due.Equal(last.At) {
		t.Errorf("Due at once = t0+%v, want its At", due.Sub(t0))
	}
	// At t0+0.5s two of its eight tokens have accrued; six remain, which
	// at 12/s take 0.5 s more.
	t1 := t0.Add(500 * time.Millisecond)
	rate = 12
	if _, _, err := b.Apply(ctx, p, policy.Outcome{Tokens: 1, Count: 1}, t1); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.Due(ctx, t1, last); !due.Equal(t0.Add(time.Second)) {
		t.Errorf("Due after the rise = t0+%v, want t0+1s", due.Sub(t0))
	}
	// A rate lowered is a new epoch: the reservation is forfeited, and due
	// at once for Confirm to say so.
	rate = 1
	if _, _, err := b.Apply(ctx, p, policy.Outcome{Tokens: 1, Count: 1}, t1); err != nil {
		t.Fatal(err)
	}
	if due, _ := b.Due(ctx, t1, last); !due.Equal(t1) {
		t.Errorf("Due after a fall = t0+%v, want now", due.Sub(t0))
	}
	if ok, _ := b.Confirm(ctx, t1, last); ok {
		t.Error("Confirm after a fall = true")
	}
	// Not taken, or due already: At.
	if due, _ := b.Due(ctx, t1, bucket.Reservation{At: t0.Add(time.Hour)}); !due.Equal(t0.Add(time.Hour)) {
		t.Errorf("Due of a refused reservation = %v, want its At", due)
	}
	if due, _ := b.Due(ctx, last.At, last); !due.Equal(last.At) {
		t.Errorf("Due at At = %v, want At", due)
	}
}

// However the rate moves while reservations wait, the tokens of those
// used when due never exceed the burst plus what the rate accrued: coming
// due earlier on a rise gives nothing the bucket does not hold.
func TestLocalDueNeverOvergrants(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(200) {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			rate := 1 + 20*rng.Float64()
			p := setRate{&rate}
			b := bucket.NewLocal()
			if err := b.Init(ctx, t0, p.Initial()); err != nil {
				t.Fatal(err)
			}
			now, accrued := t0, 0.0 // accrued: ∫ rate dt since t0
			var pending []bucket.Reservation
			used := 0.0 // tokens of reservations used when due
			for range 400 {
				switch op := rng.IntN(10); {
				case op < 3:
					d := time.Duration(rng.Int64N(int64(300 * time.Millisecond)))
					accrued += rate * d.Seconds()
					now = now.Add(d)
				case op < 6:
					n := float64(1 + rng.IntN(4))
					r, err := b.Take(ctx, now, n, bucket.Forever)
					if err != nil || !r.OK {
						t.Fatalf("Take(%v) = %+v, %v", n, r, err)
					}
					pending = append(pending, r)
				case op < 8:
					rate = max(0.5, rate*(0.5+1.5*rng.Float64()))
					if _, _, err := b.Apply(ctx, p, policy.Outcome{Tokens: 1, Count: 1}, now); err != nil {
						t.Fatal(err)
					}
				case op < 9 && len(pending) > 0:
					i := rng.IntN(len(pending))
					if err := b.Cancel(ctx, now, pending[i]); err != nil {
						t.Fatal(err)
					}
					pending = append(pending[:i], pending[i+1:]...)
				}
				// Use every reservation that is due now.
				kept := pending[:0]
				for _, r := range pending {
					due, err := b.Due(ctx, now, r)
					if err != nil {
						t.Fatal(err)
					}
					if due.After(r.At) {
						t.Fatalf("Due %v after At %v", due, r.At)
					}
					if due.After(now) {
						kept = append(kept, r)
						continue
					}
					// A fall of the rate is a new epoch, which forfeits
					// what waits and drains the bucket.
					if ok, _ := b.Confirm(ctx, now, r); ok {
						used += r.Tokens
					}
				}
				pending = kept
				// A microsecond at the rate of slack: Due's rounding.
				if limit := 4 + accrued + 1e-6*rate*float64(len(pending)+1); used > limit {
					t.Fatalf("used %v tokens by t0+%v; the burst and the refill hold %v", used, now.Sub(t0), limit)
				}
			}
		})
	}
}
