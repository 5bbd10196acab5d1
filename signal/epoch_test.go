package signal_test

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// Instants the epoch rule is tested at: a real clock's (t0, 2026), a
// testing/synctest bubble's start, and clock.Fakes at the Unix epoch, just
// after it and just before it.
var (
	synctestStart = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC) // Unix 946,684,800
	unix0         = time.Unix(0, 0)
	unix1000      = time.Unix(1000, 0)
	beforeUnix    = time.Unix(-1000, 0)
)

// secs formats n seconds as a header value.
func secs(n int64) string { return strconv.FormatInt(n, 10) }

// A numeric reset is a Unix time when it is at least EpochThreshold, or half
// of now's Unix time on a clock that reads between 1970 and 2001; the two
// readings of a Unix time sent by a server on the same clock agree
// wherever the clock reads.
func TestEpochRuleAgainstNow(t *testing.T) {
	type reading struct {
		reset string
		want  time.Duration
	}
	tests := []struct {
		name string
		now  time.Time
		in   []reading
	}{
		{"real clock, 2026", t0, []reading{
			{unix(t0.Add(time.Hour)), time.Hour},
			{unix(t0.Add(-time.Minute)), 0},
			{"3600", time.Hour},
			{"30", 30 * time.Second},
			{"999999999", 999999999 * time.Second}, // below 1e9: seconds, as before
			{"1000000000", 0},                      // 2001: past
		}},
		{"synctest bubble, 2000-01-01", synctestStart, []reading{
			{unix(synctestStart.Add(time.Hour)), time.Hour}, // was 30 years
			{unix(synctestStart.Add(90 * time.Second)), 90 * time.Second},
			{unix(synctestStart.Add(-time.Minute)), 0},
			{"3600", time.Hour},
			{"30", 30 * time.Second},
			{"86400", 24 * time.Hour},
			{"473342399", 473342399 * time.Second}, // just below half of now: seconds
			{"473342400", 0},                       // half of now: Unix time, 1985
			{"999999999", (999999999 - 946684800) * time.Second},
		}},
		{"clock.Fake at the Unix epoch", unix0, []reading{
			{unix(unix0.Add(time.Hour)), time.Hour}, // "3600": both readings agree
			{"30", 30 * time.Second},
			{"999999999", 999999999 * time.Second},
			{"1000000000", 1000000000 * time.Second},
		}},
		{"clock.Fake at Unix 1000", unix1000, []reading{
			{unix(unix1000.Add(time.Hour)), time.Hour}, // "4600"
			{unix(unix1000.Add(time.Second)), time.Second},
			{"30", 30 * time.Second},
			{"499", 499 * time.Second},
			{"500", 0}, // half of now: Unix time, past
			{"1000", 0},
		}},
		{"clock.Fake before the Unix epoch", beforeUnix, []reading{
			{"3600", time.Hour},
			{"999999999", 999999999 * time.Second},
			{"1000000000", 1000001000 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range tt.in {
				// The same rule for every numeric reset field.
				for _, h := range []http.Header{
					hdr("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", r.reset),
					hdr("RateLimit-Remaining", "1", "RateLimit-Reset", r.reset),
					hdr("RateLimit", `"default";r=1;t=`+r.reset),
					hdr("RateLimit", "remaining=1, reset="+r.reset),
				} {
					q, _ := signal.ParseQuota(h, tt.now)
					if q.Reset != r.want {
						t.Errorf("ParseQuota(%v) at %v: Reset = %v, want %v", h, tt.now, q.Reset, r.want)
					}
				}
			}
		})
	}
}

// HTTP.XRateLimitReset fixes the form of X-RateLimit-Reset whatever the
// clock reads, and leaves the standard fields to the rule.
func TestHTTPXRateLimitResetForm(t *testing.T) {
	tests := []struct {
		name  string
		now   time.Time
		form  signal.ResetForm
		h     http.Header
		reset time.Duration
	}{
		{"unix: an hour ahead, 2026", t0, signal.ResetUnix, hdr("X-RateLimit-Reset", unix(t0.Add(time.Hour))), time.Hour},
		{"unix: an hour ahead, synctest", synctestStart, signal.ResetUnix, hdr("X-RateLimit-Reset", unix(synctestStart.Add(time.Hour))), time.Hour},
		{"unix: an hour ahead, Unix 0", unix0, signal.ResetUnix, hdr("X-RateLimit-Reset", "3600"), time.Hour},
		{"unix: an hour ahead, Unix 1000", unix1000, signal.ResetUnix, hdr("X-RateLimit-Reset", "4600"), time.Hour},
		{"unix: a small value is long past", t0, signal.ResetUnix, hdr("X-RateLimit-Reset", "30"), 0},
		{"unix: below half of now, Unix 1000", unix1000, signal.ResetUnix, hdr("X-RateLimit-Reset", "30"), 0},
		{"unix: fractional", unix1000, signal.ResetUnix, hdr("X-RateLimit-Reset", "1001.5"), 1500 * time.Millisecond},
		{"unix: huge saturates", t0, signal.ResetUnix, hdr("X-RateLimit-Reset", "1"+"000000000000000000000"), maxDuration},
		{"unix: zero", t0, signal.ResetUnix, hdr("X-RateLimit-Reset", "0"), 0},
		{"unix: a date is still a date", t0, signal.ResetUnix, hdr("X-RateLimit-Reset", "2026-11-27T14:30Z"), 30 * time.Minute},
		{"seconds: an epoch-sized value is seconds", t0, signal.ResetSeconds, hdr("X-RateLimit-Reset", "1000000000"), 1000000000 * time.Second},
		{"seconds: at Unix 1000", unix1000, signal.ResetSeconds, hdr("X-RateLimit-Reset", "600"), 10 * time.Minute},
		{"auto: at Unix 1000, 600 is a Unix time", unix1000, signal.ResetAuto, hdr("X-RateLimit-Reset", "600"), 0},
		{"unknown form reads as auto", synctestStart, signal.ResetForm(200), hdr("X-RateLimit-Reset", unix(synctestStart.Add(time.Hour))), time.Hour},
		// The standard fields follow the rule, not the form.
		{"unix leaves RateLimit-Reset alone", t0, signal.ResetUnix, hdr("RateLimit-Reset", "30"), 30 * time.Second},
		{"unix leaves the IETF t alone", t0, signal.ResetUnix, hdr("RateLimit", `"default";r=5;t=30`), 30 * time.Second},
		{"seconds leaves RateLimit-Reset alone", t0, signal.ResetSeconds, hdr("RateLimit-Reset", unix(t0.Add(time.Minute))), time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := signal.HTTP{Clock: clock.NewFake(tt.now), XRateLimitReset: tt.form}
			s := c.Classify(&http.Response{StatusCode: http.StatusOK, Header: tt.h}, nil)
			if s.Quota.Reset != tt.reset {
				t.Errorf("Reset = %v, want %v", s.Quota.Reset, tt.reset)
			}
		})
	}
}

// Under testing/synctest, the clock.Real the zero HTTP reads is the
// bubble's, 2000-01-01: a GitHub-style epoch an hour ahead is an hour, and
// so is a delta of 3600.
func TestEpochRuleUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		if now.Unix() >= signal.EpochThreshold {
			t.Fatalf("the bubble starts at %v, not before 2001", now)
		}
		for _, tc := range []struct {
			form  signal.ResetForm
			reset string
		}{
			{signal.ResetAuto, secs(now.Add(time.Hour).Unix())},
			{signal.ResetUnix, secs(now.Add(time.Hour).Unix())},
			{signal.ResetAuto, "3600"},
			{signal.ResetSeconds, "3600"},
		} {
			h := hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Reset", tc.reset)
			s := signal.HTTP{XRateLimitReset: tc.form}.Classify(&http.Response{StatusCode: http.StatusOK, Header: h}, nil)
			if s.Quota.Reset != time.Hour {
				t.Errorf("form %d, reset %s: Reset = %v, want 1h", tc.form, tc.reset, s.Quota.Reset)
			}
		}
	})
}
