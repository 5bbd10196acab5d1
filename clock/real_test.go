package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/clock"
)

// Every test here runs inside a synctest bubble, where the time package's
// clock advances only when all goroutines in the bubble are blocked. That
// makes clock.Real exact and instantaneous to test without touching the
// wall clock.

// notFired reports whether tm's channel is empty once every goroutine in the
// bubble has settled.
func notFired(tm clock.Timer) bool {
	synctest.Wait()
	select {
	case <-tm.C():
		return false
	default:
		return true
	}
}

func TestRealNewTimerFiresAfterD(t *testing.T) {
	for _, d := range []time.Duration{time.Nanosecond, time.Millisecond, time.Second, 36 * time.Hour} {
		t.Run(d.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := clock.Real.Now()
				tm := clock.Real.NewTimer(d)

				time.Sleep(d - time.Nanosecond)
				if !notFired(tm) {
					t.Fatalf("fired before %v", d)
				}

				got := <-tm.C()
				if elapsed := got.Sub(start); elapsed != d {
					t.Errorf("fired %v after start, want %v", elapsed, d)
				}
				if elapsed := clock.Real.Now().Sub(start); elapsed != d {
					t.Errorf("Now() is %v after start, want %v", elapsed, d)
				}
			})
		})
	}
}

func TestRealNewTimerNonPositiveFiresAtOnce(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		t.Run(d.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := clock.Real.Now()
				tm := clock.Real.NewTimer(d)
				<-tm.C()
				if elapsed := clock.Real.Now().Sub(start); elapsed != 0 {
					t.Errorf("waited %v, want no time to pass", elapsed)
				}
			})
		})
	}
}

func TestRealStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := clock.Real.NewTimer(5 * time.Second)
		time.Sleep(2 * time.Second)
		if !tm.Stop() {
			t.Error("Stop() = false for a pending timer")
		}

		time.Sleep(time.Hour)
		if !notFired(tm) {
			t.Error("stopped timer fired")
		}
		if tm.Stop() {
			t.Error("second Stop() = true, want false")
		}
	})
}

func TestRealReset(t *testing.T) {
	tests := []struct {
		name  string
		setup func() clock.Timer
		d     time.Duration
		want  bool
	}{
		{
			name: "after firing",
			setup: func() clock.Timer {
				tm := clock.Real.NewTimer(time.Second)
				<-tm.C()
				return tm
			},
			d:    3 * time.Second,
			want: false,
		},
		{
			name: "after stopping",
			setup: func() clock.Timer {
				tm := clock.Real.NewTimer(time.Second)
				tm.Stop()
				return tm
			},
			d:    3 * time.Second,
			want: false,
		},
		{
			name:  "pending, moved later",
			setup: func() clock.Timer { return clock.Real.NewTimer(time.Second) },
			d:     3 * time.Second,
			want:  true,
		},
		{
			name:  "pending, moved earlier",
			setup: func() clock.Timer { return clock.Real.NewTimer(time.Hour) },
			d:     3 * time.Second,
			want:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tm := tt.setup()
				start := clock.Real.Now()
				if got := tm.Reset(tt.d); got != tt.want {
					t.Errorf("Reset(%v) = %v, want %v", tt.d, got, tt.want)
				}

				time.Sleep(tt.d - time.Nanosecond)
				if !notFired(tm) {
					t.Fatalf("fired before the new deadline")
				}
				got := <-tm.C()
				if elapsed := got.Sub(start); elapsed != tt.d {
					t.Errorf("fired %v after Reset, want %v", elapsed, tt.d)
				}
				if !notFired(tm) {
					t.Error("re-armed timer fired twice")
				}
			})
		})
	}
}

func TestRealNowFollowsSleep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := clock.Real.Now()
		var slept time.Duration
		for _, d := range []time.Duration{0, time.Nanosecond, time.Second, time.Minute, 24 * time.Hour} {
			time.Sleep(d)
			slept += d
			if elapsed := clock.Real.Now().Sub(start); elapsed != slept {
				t.Errorf("after sleeping %v in total, Now() moved %v", slept, elapsed)
			}
		}
	})
}
