package signal_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/signal"
)

// checkQuota fails t when q holds a value no parser may produce.
func checkQuota(t *testing.T, what string, q signal.Quota) {
	t.Helper()
	for _, f := range []struct {
		name string
		v    float64
	}{{"Limit", q.Limit}, {"Remaining", q.Remaining}, {"Cost", q.Cost}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			t.Fatalf("%s: %s = %v, want a finite non-negative number (%+v)", what, f.name, f.v, q)
		}
	}
	if q.Reset < 0 {
		t.Fatalf("%s: Reset = %v, want >= 0", what, q.Reset)
	}
	if !q.HasRemaining && q.Remaining != 0 {
		t.Fatalf("%s: Remaining = %v without HasRemaining", what, q.Remaining)
	}
	if q.Cost != 0 {
		t.Fatalf("%s: Cost = %v, no header reports one", what, q.Cost)
	}
}

func checkSignal(t *testing.T, s signal.Signal) {
	t.Helper()
	if s.RetryAfter < 0 {
		t.Fatalf("RetryAfter = %v, want >= 0", s.RetryAfter)
	}
	checkQuota(t, "Quota", s.Quota)
	checkQuota(t, "TokenQuota", s.TokenQuota)
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, seed := range [][2]string{
		{"", "3"}, {"", "1.5"}, {"", "-5"}, {"", t1.Format(http.TimeFormat)}, {"", "Fri, 31 Dec 9999 23:59:59 GMT"},
		{"1500", "5"}, {"abc", "5"}, {"NaN", "Inf"}, {"1e400", strings.Repeat("9", 40)}, {"", "9223372037"},
		{" 12.5 ", "\t2"}, {"-0", "+0"}, {"", "Sunday, 06-Nov-94 08:49:37 GMT"}, {"", "Sun Nov  6 08:49:37 1994"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, ms, ra string) {
		for _, h := range []http.Header{
			{"Retry-After-Ms": {ms}, "Retry-After": {ra}},
			{"Retry-After": {ra}},
			{"Retry-After-Ms": {ms}},
		} {
			d, ok := signal.ParseRetryAfter(h, t0)
			if d < 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v, want >= 0", h, d)
			}
			if !ok && d != 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v, false; want 0 when nothing was understood", h, d)
			}
		}
	})
}

func FuzzParseResetDuration(f *testing.F) {
	for _, seed := range []string{
		"1s", "6m0s", "12ms", "1.5s", "1m30.5s", "20", "0.5", "300µs", "2d", "-1s", "+1s", " 2s ", "",
		"9999999999h", "1e3s", "NaN", "1.2.3s", "1m30", ".5s", "5.s", "0.0000000001s", "9223372036.854775807s",
		"2562047h47m16.854775807s", "2562047h47m16.854775808s",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := signal.ParseResetDuration(s)
		if d < 0 {
			t.Fatalf("ParseResetDuration(%q) = %v, want >= 0", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseResetDuration(%q) = %v, false; want 0", s, d)
		}
		// Wherever Go's own parser succeeds on a duration that is not
		// negative, the two agree.
		if want, err := time.ParseDuration(s); err == nil && want >= 0 {
			if !ok || d != want {
				t.Fatalf("ParseResetDuration(%q) = %v, %v; time.ParseDuration says %v", s, d, ok, want)
			}
		}
	})
}

func FuzzParseQuota(f *testing.F) {
	for _, seed := range [][4]string{
		{"5000", "4999", "1795791600", "1"},
		{"500", "499", "120ms", "6m0s"},
		{"100, 100;w=60", "-5", "2026-11-27T14:30Z", "x"},
		{"NaN", "Inf", "1e400", "-Inf"},
		{"", " ", "999999999", "1000000000"},
		{strings.Repeat("9", 400), "0x10", "2026-11-27T15:30:00.25+01:00", "Fri, 31 Dec 9999 23:59:59 GMT"},
		{"limit=100, remaining=50, reset=30", `"default";r=50;t=30`, `"default";q=100;w=60`, "1_000"},
		// Unix times and deltas on clocks before 2001: a synctest bubble's
		// start plus an hour, and a clock.Fake at Unix 1000 plus an hour.
		{"5000", "4999", "946688400", "1"},
		{"5000", "4999", "4600", "473342400"},
		{"5000", "0", "473342399.999", "500"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	var classifiers []signal.HTTP
	for _, now := range []time.Time{t0, synctestStart, unix0, unix1000, beforeUnix} {
		for _, form := range []signal.ResetForm{signal.ResetAuto, signal.ResetUnix, signal.ResetSeconds} {
			classifiers = append(classifiers, signal.HTTP{Clock: clock.NewFake(now), XRateLimitReset: form})
		}
	}
	f.Fuzz(func(t *testing.T, limit, remaining, reset, extra string) {
		headers := []http.Header{
			hdr("X-RateLimit-Limit", limit, "X-RateLimit-Remaining", remaining, "X-RateLimit-Reset", reset, "X-RateLimit-Used", extra),
			hdr("X-RateLimit-Limit", limit, "X-RateLimit-Used", extra),
			hdr("RateLimit-Limit", limit, "RateLimit-Remaining", remaining, "RateLimit-Reset", reset),
			hdr("X-RateLimit-Limit-Requests", limit, "X-RateLimit-Remaining-Requests", remaining, "X-RateLimit-Reset-Requests", reset,
				"X-RateLimit-Limit-Tokens", limit, "X-RateLimit-Remaining-Tokens", remaining, "X-RateLimit-Reset-Tokens", extra),
			hdr("RateLimit", limit, "RateLimit-Policy", extra),
			hdr("RateLimit", limit, "RateLimit", remaining, "RateLimit-Policy", reset, "RateLimit-Policy", extra),
			hdr("RateLimit", limit, "RateLimit-Remaining", remaining, "X-RateLimit-Reset", reset, "X-RateLimit-Reset-Tokens", extra),
			hdr("RateLimit-Policy", extra),
		}
		for _, h := range headers {
			for _, now := range []time.Time{t0, synctestStart, unix1000} {
				requests, tokens := signal.ParseQuota(h, now)
				checkQuota(t, "requests", requests)
				checkQuota(t, "tokens", tokens)
			}
			for _, c := range classifiers {
				for _, status := range []int{200, 429, 503} {
					checkSignal(t, c.Classify(&http.Response{StatusCode: status, Header: h}, nil))
				}
			}
		}
	})
}

func FuzzRateLimitFields(f *testing.F) {
	for _, seed := range [][2]string{
		{`"burst";q=100;w=60, "daily";q=1000;w=86400`, `"burst";r=50;t=30, "daily";r=5;t=3600`},
		{`burst;q=10;w=1`, `burst;r=1;t=2`},
		{`"b";q=1000;qu="content-bytes", "r";q=100;qu="requests"`, `"b";r=0;t=5, "r";r=10;t=30`},
		{`"default";q=100;w=60;pk=:cHJvamVjdDEyMw==:`, `"default";r=50;t=30;pk=:cHJvamVjdDEyMw==:`},
		{`"a";q=-1`, `"a";r=-3;t=-30`},
		{`"a";q=1.5`, `"a";r=2.5;t=1795788060`},
		{``, `limit=100, remaining=50, reset=30`},
		{`10;w=1, 50;w=60`, `limit=10, remaining=?1, reset="x"`},
		{`("a" "b");q=1`, `("a" "b");r=1, "c";r=`},
		{`"x";q=999999999999999`, `"x";r=999999999999999;t=999999999999999`},
		{`%`, `@1659578233`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, policy, rateLimit string) {
		h := http.Header{"Ratelimit-Policy": {policy}, "Ratelimit": {rateLimit}}
		requests, tokens := signal.ParseQuota(h, t0)
		checkQuota(t, "requests", requests)
		if tokens != (signal.Quota{}) {
			t.Fatalf("tokens = %+v from the IETF fields, which carry no token quota", tokens)
		}
		// Split over several field lines, as a List may be.
		h = http.Header{"Ratelimit-Policy": {policy, policy}, "Ratelimit": {rateLimit, rateLimit}}
		requests, _ = signal.ParseQuota(h, t0)
		checkQuota(t, "requests (repeated lines)", requests)
	})
}

// Whatever the clock reads, ResetAuto reads a numeric X-RateLimit-Reset as
// one of the two forms, never as something else, and no form gives a
// negative Reset.
func FuzzResetForms(f *testing.F) {
	for _, seed := range []struct {
		reset string
		now   int64
	}{
		{"3600", t0.Unix()}, {"1795791600", t0.Unix()}, {"999999999", t0.Unix()},
		{"946688400", synctestStart.Unix()}, {"473342400", synctestStart.Unix()}, {"473342399", synctestStart.Unix()},
		{"3600", 0}, {"4600", 1000}, {"500", 1000}, {"499.5", 1000}, {"1", 1}, {"2", 3},
		{"1000000000", -1000}, {"1e400", 1000}, {strings.Repeat("9", 30), 1000}, {"-5", 1000}, {"2026-11-27T14:30Z", 0},
	} {
		f.Add(seed.reset, seed.now)
	}
	f.Fuzz(func(t *testing.T, reset string, sec int64) {
		// Instants a clock.Fake or a real clock may read: year 1 to 9999.
		if sec < -62135596800 || sec > 253402300799 {
			t.Skip()
		}
		now := time.Unix(sec, 0)
		h := hdr("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", reset)
		read := func(form signal.ResetForm) time.Duration {
			s := signal.HTTP{Clock: clock.NewFake(now), XRateLimitReset: form}.Classify(&http.Response{StatusCode: http.StatusOK, Header: h}, nil)
			checkSignal(t, s)
			return s.Quota.Reset
		}
		auto, epoch, delta := read(signal.ResetAuto), read(signal.ResetUnix), read(signal.ResetSeconds)
		if auto != epoch && auto != delta {
			t.Fatalf("X-RateLimit-Reset %q at %v: auto %v, neither the Unix reading %v nor the seconds one %v", reset, now, auto, epoch, delta)
		}
		if q, _ := signal.ParseQuota(h, now); q.Reset != auto {
			t.Fatalf("X-RateLimit-Reset %q at %v: ParseQuota %v, HTTP with ResetAuto %v", reset, now, q.Reset, auto)
		}
	})
}
