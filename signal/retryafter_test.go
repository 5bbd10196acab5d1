package signal_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/signal"
)

// Named instants shared by the tests of this package.
var (
	t0 = time.Date(2026, time.November, 27, 14, 0, 0, 0, time.UTC)
	t1 = t0.Add(90 * time.Second)
)

const maxDuration = time.Duration(math.MaxInt64)

// hdr builds a header from name, value pairs, canonicalizing the names as a
// response read by net/http has them.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"absent", hdr(), 0, false},
		{"nil header", nil, 0, false},
		{"seconds", hdr("Retry-After", "3"), 3 * time.Second, true},
		{"seconds with spaces", hdr("Retry-After", " \t3 "), 3 * time.Second, true},
		{"explicit plus", hdr("Retry-After", "+3"), 3 * time.Second, true},
		{"float seconds", hdr("Retry-After", "1.5"), 1500 * time.Millisecond, true},
		{"leading dot", hdr("Retry-After", ".25"), 250 * time.Millisecond, true},
		{"zero", hdr("Retry-After", "0"), 0, true},
		{"negative", hdr("Retry-After", "-5"), 0, true},
		{"negative float", hdr("Retry-After", "-1.5"), 0, true},
		{"empty", hdr("Retry-After", ""), 0, false},
		{"spaces only", hdr("Retry-After", "   "), 0, false},
		{"garbage", hdr("Retry-After", "soon"), 0, false},
		{"sign only", hdr("Retry-After", "-"), 0, false},
		{"two dots", hdr("Retry-After", "1.2.3"), 0, false},
		{"unit", hdr("Retry-After", "3s"), 0, false},
		{"NaN", hdr("Retry-After", "NaN"), 0, false},
		{"Inf", hdr("Retry-After", "Inf"), 0, false},
		{"exponent", hdr("Retry-After", "1e3"), 0, false},
		{"1e400", hdr("Retry-After", "1e400"), 0, false},
		{"hex", hdr("Retry-After", "0x10"), 0, false},
		{"underscore", hdr("Retry-After", "1_000"), 0, false},
		{"largest whole seconds that fit", hdr("Retry-After", "9223372036"), 9223372036 * time.Second, true},
		{"one second too many saturates", hdr("Retry-After", "9223372037"), maxDuration, true},
		{"huge saturates", hdr("Retry-After", strings.Repeat("9", 40)), maxDuration, true},
		{"beyond float64 saturates", hdr("Retry-After", "1"+strings.Repeat("0", 400)), maxDuration, true},
		{"date ahead", hdr("Retry-After", t1.Format(http.TimeFormat)), 90 * time.Second, true},
		{"date now", hdr("Retry-After", t0.Format(http.TimeFormat)), 0, true},
		{"date past", hdr("Retry-After", t0.Add(-time.Hour).Format(http.TimeFormat)), 0, true},
		{"date RFC 850", hdr("Retry-After", t1.Format(time.RFC850)), 90 * time.Second, true},
		{"date asctime", hdr("Retry-After", t1.Format(time.ANSIC)), 90 * time.Second, true},
		{"date far ahead saturates", hdr("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), maxDuration, true},
		{"date malformed", hdr("Retry-After", "Fri, 32 Dec 2026 23:59:59 GMT"), 0, false},
		{"first value wins", hdr("Retry-After", "2", "Retry-After", "7"), 2 * time.Second, true},

		{"ms", hdr("Retry-After-Ms", "1500"), 1500 * time.Millisecond, true},
		{"ms lower case name", hdr("retry-after-ms", "20"), 20 * time.Millisecond, true},
		{"ms float", hdr("Retry-After-Ms", "12.5"), 12500 * time.Microsecond, true},
		{"ms zero", hdr("Retry-After-Ms", "0"), 0, true},
		{"ms negative", hdr("Retry-After-Ms", "-3"), 0, true},
		{"ms huge saturates", hdr("Retry-After-Ms", strings.Repeat("9", 30)), maxDuration, true},
		{"ms wins", hdr("Retry-After-Ms", "200", "Retry-After", "5"), 200 * time.Millisecond, true},
		{"ms zero wins", hdr("Retry-After-Ms", "0", "Retry-After", "5"), 0, true},
		{"malformed ms falls back", hdr("Retry-After-Ms", "abc", "Retry-After", "5"), 5 * time.Second, true},
		{"malformed ms alone", hdr("Retry-After-Ms", "NaN"), 0, false},
		{"both malformed", hdr("Retry-After-Ms", "x", "Retry-After", "y"), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := signal.ParseRetryAfter(tt.h, t0)
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseRetryAfter(%v) = %v, %v; want %v, %v", tt.h, got, ok, tt.want, tt.ok)
			}
		})
	}
}
