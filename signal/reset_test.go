package signal_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

func TestParseResetDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		// What OpenAI sends.
		{"1s", time.Second, true},
		{"6m0s", 6 * time.Minute, true},
		{"12ms", 12 * time.Millisecond, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"1m30.5s", 90*time.Second + 500*time.Millisecond, true},
		{"20", 20 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		// The rest of Go's syntax, and days.
		{"1h2m3s", time.Hour + 2*time.Minute + 3*time.Second, true},
		{"300ns", 300, true},
		{"300us", 300 * time.Microsecond, true},
		{"300µs", 300 * time.Microsecond, true}, // U+00B5
		{"300μs", 300 * time.Microsecond, true}, // U+03BC
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{".5s", 500 * time.Millisecond, true},
		{"5.s", 5 * time.Second, true},
		{"+1s", time.Second, true},
		{" 2s ", 2 * time.Second, true},
		{"0", 0, true},
		{"0s", 0, true},
		// Negative means no wait; too long saturates.
		{"-1s", 0, true},
		{"-20", 0, true},
		{"-1m30s", 0, true},
		{"9999999999h", maxDuration, true},
		{strings.Repeat("9", 40) + "s", maxDuration, true},
		{strings.Repeat("9", 40), maxDuration, true},
		{"1" + strings.Repeat("0", 400) + "ms", maxDuration, true},
		// Malformed.
		{"", 0, false},
		{" ", 0, false},
		{"s", 0, false},
		{"-", 0, false},
		{"+", 0, false},
		{"-s", 0, false},
		{"1x", 0, false},
		{"1S", 0, false},
		{"1m 30s", 0, false},
		{"1m30", 0, false},
		{"1.2.3s", 0, false},
		{"1s-1s", 0, false},
		{"abc", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1e3s", 0, false},
		{"1e400", 0, false},
		{"0x10s", 0, false},
		{"1_000s", 0, false},
	}
	for _, tt := range tests {
		got, ok := signal.ParseResetDuration(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseResetDuration(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// ParseResetDuration agrees with time.ParseDuration wherever the latter
// succeeds and the value is not negative.
func TestParseResetDurationMatchesGo(t *testing.T) {
	for _, s := range []string{"1s", "6m0s", "12ms", "1.5s", "1m30.5s", "2h45m", "1.0000000015s", "100000h", "3.333333333s", "0.000000001s"} {
		want, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("time.ParseDuration(%q): %v", s, err)
		}
		if got, ok := signal.ParseResetDuration(s); !ok || got != want {
			t.Errorf("ParseResetDuration(%q) = %v, %v; time.ParseDuration says %v", s, got, ok, want)
		}
	}
}
