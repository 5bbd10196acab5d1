package signal_test

import (
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

func TestKindString(t *testing.T) {
	tests := []struct {
		k    signal.Kind
		want string
	}{
		{signal.Success, "success"},
		{signal.Throttled, "throttled"},
		{signal.Overloaded, "overloaded"},
		{signal.Failed, "failed"},
		{signal.Canceled, "canceled"},
		{signal.Kind(signal.NumKinds), "kind(5)"},
		{signal.Kind(255), "kind(255)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", tt.k, got, tt.want)
		}
	}
}

func TestZeroSignalIsPlainSuccess(t *testing.T) {
	var s signal.Signal
	if s.Kind != signal.Success || s.RetryAfter != 0 || s.Quota.Known() || s.Status != 0 {
		t.Fatalf("zero Signal = %+v, want a success with no hints", s)
	}
}

func TestQuota(t *testing.T) {
	tests := []struct {
		name          string
		q             signal.Quota
		known, exhaus bool
	}{
		{"none", signal.Quota{}, false, false},
		// A Remaining of 0 without HasRemaining is the zero value, not a hint.
		{"remaining zero, not sent", signal.Quota{Remaining: 0}, false, false},
		{"remaining zero, sent", signal.Quota{HasRemaining: true}, true, true},
		{"remaining left", signal.Quota{Remaining: 3, HasRemaining: true}, true, false},
		{"limit only", signal.Quota{Limit: 100}, true, false},
		{"reset only", signal.Quota{Reset: time.Second}, true, false},
		{"cost only", signal.Quota{Cost: 5}, true, false},
		{"negative remaining counts as none left", signal.Quota{Remaining: -1, HasRemaining: true}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.Known(); got != tt.known {
				t.Errorf("Known() = %v, want %v", got, tt.known)
			}
			if got := tt.q.Exhausted(); got != tt.exhaus {
				t.Errorf("Exhausted() = %v, want %v", got, tt.exhaus)
			}
		})
	}
}

func TestQuotaUntilUnit(t *testing.T) {
	tests := []struct {
		name string
		q    signal.Quota
		want time.Duration
	}{
		{"not exhausted", signal.Quota{Limit: 30, Remaining: 1, HasRemaining: true, Reset: time.Minute, Refills: true}, 0},
		{"exhausted, no reset", signal.Quota{Limit: 30, HasRemaining: true, Refills: true}, 0},
		{"a window frees at its reset", signal.Quota{Limit: 30, HasRemaining: true, Reset: time.Minute}, time.Minute},
		{"a refilling quota frees one unit first", signal.Quota{Limit: 30, HasRemaining: true, Reset: time.Minute, Refills: true}, 2 * time.Second},
		// Overdrawn by 10: 40 units to refill in the minute, 1.5 s each, and
		// 11 of them before one is left.
		{"overdrawn", signal.Quota{Limit: 30, Remaining: -10, HasRemaining: true, Reset: time.Minute, Refills: true}, 16500 * time.Millisecond},
		{"refilling without a limit: read as a window", signal.Quota{HasRemaining: true, Reset: time.Minute, Refills: true}, time.Minute},
		{"the largest reset", signal.Quota{Limit: 1, HasRemaining: true, Reset: math.MaxInt64, Refills: true}, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.q.UntilUnit(); got != tt.want {
				t.Errorf("UntilUnit() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassifierFunc(t *testing.T) {
	errBoom := errors.New("boom")
	var gotResp *http.Response
	var gotErr error
	c := signal.ClassifierFunc(func(resp *http.Response, err error) signal.Signal {
		gotResp, gotErr = resp, err
		return signal.Signal{Kind: signal.Overloaded}
	})
	resp := &http.Response{StatusCode: http.StatusServiceUnavailable}
	if got := c.Classify(resp, errBoom); got.Kind != signal.Overloaded {
		t.Errorf("Classify() kind = %v, want overloaded", got.Kind)
	}
	if gotResp != resp || !errors.Is(gotErr, errBoom) {
		t.Errorf("the func saw (%v, %v), want the arguments passed to Classify", gotResp, gotErr)
	}
}
