package simtest

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// synth builds a trace of n one-second samples, T = 1 s … n s, from
// per-second functions of the sample's index (its T in seconds).
type synth struct {
	n         int
	limit     func(i int) float64
	rate      func(i int) float64
	succeeded func(i int) uint64
	throttled []int // the seconds with one throttle
}

func (sy synth) trace() []Sample {
	tr := make([]Sample, sy.n)
	for k := range tr {
		i := k + 1
		s := Sample{T: time.Duration(i) * time.Second}
		if sy.limit != nil {
			s.Limit = sy.limit(i)
		}
		if sy.rate != nil {
			s.Rate = sy.rate(i)
		}
		if sy.succeeded != nil {
			s.Succeeded = sy.succeeded(i)
		}
		if slices.Contains(sy.throttled, i) {
			s.Throttled = 1
		}
		tr[k] = s
	}
	return tr
}

// upTo returns a function that is a up to second i inclusive, b after.
func upTo[T any](i int, a, b T) func(int) T {
	return func(j int) T {
		if j <= i {
			return a
		}
		return b
	}
}

func TestDrop(t *testing.T) {
	// The limit drops from 10 to 4 at 10 s; the rate counts as settled at
	// or below 5.
	const at = 10 * time.Second
	limit := upTo(10, 10.0, 4.0)
	tests := []struct {
		name string
		next time.Duration
		sy   synth
		want Drop
	}{
		{
			name: "no throttle",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(20, 10.0, 4.0)},
			want: Drop{At: at},
		},
		{
			name: "one burst; throttles after settling do not count",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(20, 10.0, 4.0), throttled: []int{11, 12, 15, 25}},
			want: Drop{At: at, Settle: 5 * time.Second, Episodes: 1, Throttled: 4},
		},
		{
			name: "two bursts 6 s apart",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(20, 10.0, 4.0), throttled: []int{11, 17}},
			want: Drop{At: at, Settle: 7 * time.Second, Episodes: 2, Throttled: 2},
		},
		{
			// Four quiet seconds between them: still the same burst.
			name: "throttles 5 s apart",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(20, 10.0, 4.0), throttled: []int{11, 16}},
			want: Drop{At: at, Settle: 6 * time.Second, Episodes: 1, Throttled: 2},
		},
		{
			name: "throttles before the drop do not count",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(20, 10.0, 4.0), throttled: []int{3, 10}},
			want: Drop{At: at},
		},
		{
			// 1.25 × the limit for 29 s, then one second above: not
			// settled until the run that starts after it.
			name: "29 s at the band's edge is not settled",
			next: 200 * time.Second,
			sy: synth{n: 300, limit: limit, throttled: []int{12, 40},
				rate: func(i int) float64 {
					switch {
					case i <= 10:
						return 10
					case i <= 39:
						return 5
					case i == 40:
						return 6
					}
					return 4
				}},
			want: Drop{At: at, Settle: 30 * time.Second, Episodes: 2, Throttled: 2},
		},
		{
			// A limiter that probes just above the new limit has settled,
			// from the start of the run.
			name: "30 s at the band's edge is settled",
			next: 200 * time.Second,
			sy: synth{n: 300, limit: limit, throttled: []int{12, 41},
				rate: func(i int) float64 {
					switch {
					case i <= 10:
						return 10
					case i <= 40:
						return 5
					case i == 41:
						return 6
					}
					return 4
				}},
			want: Drop{At: at, Throttled: 2},
		},
		{
			name: "never settles: every throttle up to the next step counts",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(300, 10.0, 10.0), throttled: []int{20, 100, 150, 250}},
			want: Drop{At: at, Settle: 140 * time.Second, Episodes: 3, Throttled: 3},
		},
		{
			name: "settling after the next step does not count",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, rate: upTo(220, 10.0, 4.0), throttled: []int{15, 199, 205}},
			want: Drop{At: at, Settle: 189 * time.Second, Episodes: 2, Throttled: 2},
		},
		{
			// No limiter: a rate of 0 is no rate, which would count as
			// settled at once and hide every throttle.
			name: "no rate: nothing settles, every throttle up to the next step counts",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit, throttled: []int{11, 12, 30, 150, 250}},
			want: Drop{At: at, Settle: 140 * time.Second, Episodes: 3, Throttled: 4, Unpaced: true},
		},
		{
			name: "no rate and no throttle",
			next: 200 * time.Second,
			sy:   synth{n: 300, limit: limit},
			want: Drop{At: at, Unpaced: true},
		},
		{
			name: "empty trace",
			next: 200 * time.Second,
			sy:   synth{},
			want: Drop{At: at},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Trace: tt.sy.trace()}
			if got := r.drop(at, tt.next); got != tt.want {
				t.Errorf("drop = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTo90(t *testing.T) {
	tests := []struct {
		name      string
		succeeded func(int) uint64
		n         int
		at, until time.Duration
		want      time.Duration
	}{
		// 9 a second is exactly 90 % of 10: the bound is inclusive.
		{"reached after the raise", upTo[uint64](20, 0, 9), 60, 20 * time.Second, 60 * time.Second, 5 * time.Second},
		{"just short", upTo[uint64](20, 0, 8), 60, 20 * time.Second, 60 * time.Second, -1},
		{"the window starts at the raise", upTo[uint64](60, 10, 10), 60, 20 * time.Second, 60 * time.Second, 5 * time.Second},
		{"successes before the raise do not count", upTo[uint64](22, 10, 0), 60, 20 * time.Second, 60 * time.Second, -1},
		{"from the start", upTo[uint64](60, 10, 10), 60, 0, 60 * time.Second, 5 * time.Second},
		{"late", upTo[uint64](50, 0, 10), 60, 20 * time.Second, 60 * time.Second, 35 * time.Second},
		{"too late for until", upTo[uint64](50, 0, 10), 60, 20 * time.Second, 40 * time.Second, -1},
		{"window ending at until", upTo[uint64](35, 0, 10), 60, 20 * time.Second, 40 * time.Second, 20 * time.Second},
		{"trace shorter than the window", upTo[uint64](60, 10, 10), 4, 0, 60 * time.Second, -1},
		{"empty trace", nil, 0, 0, 60 * time.Second, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Trace: synth{n: tt.n, succeeded: tt.succeeded}.trace()}
			if got := r.to90(tt.at, tt.until, 10); got != tt.want {
				t.Errorf("to90 = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAnalyse(t *testing.T) {
	sc := Scenario{
		Name: "analyse", Duration: d(180 * time.Second),
		Upstream: Upstream{
			Model: ModelTokenBucket, Rate: 10, Burst: 10,
			// The step at 0 and the one that repeats the rate are no
			// change to react to.
			Profile: []Step{{At: 0, Rate: 10}, {At: d(60 * time.Second), Rate: 4}, {At: d(120 * time.Second), Rate: 12}, {At: d(150 * time.Second), Rate: 12}},
			Outages: []Span{{From: d(30 * time.Second), To: d(40 * time.Second)}, {From: d(170 * time.Second), To: d(200 * time.Second)}},
		},
	}.withDefaults()
	u := sc.Upstream
	sy := synth{
		n:     180,
		limit: func(i int) float64 { return u.RateAt(time.Duration(i)*time.Second - 1) },
		rate: func(i int) float64 {
			switch {
			case i <= 65:
				return 10
			case i <= 120:
				return 4
			}
			return 12
		},
		succeeded: func(i int) uint64 {
			switch {
			case i > 30 && i <= 40, i > 170:
				return 0
			case i <= 120:
				return 10
			}
			return 12
		},
		throttled: []int{62, 63},
	}
	r := &Result{Trace: sy.trace()}
	r.analyse(sc)
	want := &Result{
		Trace:   r.Trace,
		Start:   Startup{Until: 30 * time.Second, To90: 5 * time.Second}, // the first outage
		Drops:   []Drop{{At: 60 * time.Second, Settle: 3 * time.Second, Episodes: 1, Throttled: 2}},
		Raises:  []Raise{{At: 120 * time.Second, To90: 5 * time.Second}},
		Outages: []Recovery{{End: 40 * time.Second, To90: 5 * time.Second}, {End: 200 * time.Second, To90: -1}},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("analyse (-want +got):\n%s", diff)
	}
}

// A fixed window's steps are changes of its per-second rate.
func TestAnalyseFixedWindow(t *testing.T) {
	sc := Scenario{
		Name: "analyse-fw", Duration: d(4 * time.Minute),
		Upstream: Upstream{
			Model: ModelFixedWindow, Limit: 600, Window: d(time.Minute),
			Profile: []Step{{At: d(time.Minute), Limit: 300}, {At: d(2 * time.Minute), Limit: 900}},
		},
	}.withDefaults()
	r := &Result{Trace: synth{n: 240}.trace()}
	r.analyse(sc)
	if len(r.Drops) != 1 || r.Drops[0].At != time.Minute || len(r.Raises) != 1 || r.Raises[0].At != 2*time.Minute {
		t.Errorf("drops %+v, raises %+v; want one drop at 1m and one raise at 2m", r.Drops, r.Raises)
	}
	if r.Raises[0].To90 != -1 {
		t.Errorf("raise reached 90%% after %v with no successes", r.Raises[0].To90)
	}
}

func TestJain(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 1},
		{[]float64{0, 0, 0}, 1},
		{[]float64{7}, 1},
		{[]float64{5, 5, 5}, 1},
		{[]float64{9, 0, 0}, 1.0 / 3},
		{[]float64{0, 0, 0, 4}, 1.0 / 4},
		{[]float64{1, 3}, 0.8},
	}
	for _, tt := range tests {
		if got := jain(tt.xs); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("jain(%v) = %v, want %v", tt.xs, got, tt.want)
		}
	}
}

// A step the run does not reach is no change to react to.
func TestAnalyseStepAfterTheEnd(t *testing.T) {
	sc := Scenario{
		Name: "short", Duration: d(time.Minute),
		Upstream: Upstream{Rate: 10, Profile: []Step{{At: d(30 * time.Second), Rate: 4}, {At: d(time.Minute), Rate: 12}, {At: d(2 * time.Minute), Rate: 2}}},
	}.withDefaults()
	r := &Result{Trace: synth{n: 60}.trace()}
	r.analyse(sc)
	if len(r.Drops) != 1 || r.Drops[0].At != 30*time.Second || len(r.Raises) != 0 {
		t.Errorf("drops %+v, raises %+v; want the drop at 30s alone", r.Drops, r.Raises)
	}
}

// The climb from the start is measured as a raise's, against the limit at
// the start, until the limit first changes.
func TestAnalyseStart(t *testing.T) {
	// 1, 2, … 10 successes a second, then 10: the 5 s ending at 12 s hold
	// 8+9+10+10+10 = 47 >= 45, those ending at 11 s 44.
	ramp := synth{n: 60, succeeded: func(i int) uint64 { return uint64(min(i, 10)) }}
	tests := []struct {
		name string
		u    Upstream
		want Startup
	}{
		{"steady", Upstream{Rate: 10}, Startup{Until: time.Minute, To90: 12 * time.Second}},
		{"a step that repeats the rate is no change", Upstream{Rate: 10, Profile: []Step{{At: 0, Rate: 10}, {At: d(5 * time.Second), Rate: 10}}},
			Startup{Until: time.Minute, To90: 12 * time.Second}},
		{"the limit changes first", Upstream{Rate: 10, Profile: []Step{{At: d(11 * time.Second), Rate: 4}}},
			Startup{Until: 11 * time.Second, To90: -1}},
		{"an outage comes first", Upstream{Rate: 10, Outages: []Span{{From: d(20 * time.Second), To: d(30 * time.Second)}}},
			Startup{Until: 20 * time.Second, To90: 12 * time.Second}},
		{"a step at 0 sets the limit", Upstream{Rate: 5, Profile: []Step{{At: 0, Rate: 10}}},
			Startup{Until: time.Minute, To90: 12 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := Scenario{Name: "start", Duration: d(time.Minute), Upstream: tt.u}.withDefaults()
			r := &Result{Trace: ramp.trace()}
			r.analyse(sc)
			if r.Start != tt.want {
				t.Errorf("start = %+v, want %+v", r.Start, tt.want)
			}
		})
	}
}
