package signal_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/signal"
)

// unix formats an instant as the epoch seconds GitHub sends.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// rem is a Quota with only Remaining sent.
func rem(r float64) signal.Quota { return signal.Quota{Remaining: r, HasRemaining: true} }

// quota is a Quota with Limit, Remaining and Reset sent.
func quota(limit, remaining float64, reset time.Duration) signal.Quota {
	return signal.Quota{Limit: limit, Remaining: remaining, HasRemaining: true, Reset: reset}
}

// refills is q from OpenAI's headers, which describe a quota that refills
// continuously.
func refills(q signal.Quota) signal.Quota { q.Refills = true; return q }

type quotaCase struct {
	name             string
	h                http.Header
	requests, tokens signal.Quota
}

func runQuotaCases(t *testing.T, tests []quotaCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requests, tokens := signal.ParseQuota(tt.h, t0)
			if diff := cmp.Diff(tt.requests, requests); diff != "" {
				t.Errorf("requests quota (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.tokens, tokens); diff != "" {
				t.Errorf("tokens quota (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseQuotaIETF(t *testing.T) {
	const policy = `"burst";q=100;w=60, "daily";q=1000;w=86400`
	runQuotaCases(t, []quotaCase{
		{name: "none", h: hdr()},
		{name: "nil header", h: nil},
		{
			name:     "item matched to its policy",
			h:        hdr("RateLimit", `"burst";r=50;t=30`, "RateLimit-Policy", policy),
			requests: quota(100, 50, 30*time.Second),
		},
		{
			name:     "no policy: no limit",
			h:        hdr("RateLimit", `"default";r=50;t=30`),
			requests: quota(0, 50, 30*time.Second),
		},
		{
			name:     "policy of another name: no limit",
			h:        hdr("RateLimit", `"hourly";r=50;t=30`, "RateLimit-Policy", policy),
			requests: quota(0, 50, 30*time.Second),
		},
		{
			name:     "without t",
			h:        hdr("RateLimit", `"burst";r=50`, "RateLimit-Policy", policy),
			requests: quota(100, 50, 0),
		},
		{
			name:     "most constraining: lowest remaining",
			h:        hdr("RateLimit", `"burst";r=50;t=30, "daily";r=5;t=3600`, "RateLimit-Policy", policy),
			requests: quota(1000, 5, time.Hour),
		},
		{
			name:     "most constraining: tie goes to the longest reset",
			h:        hdr("RateLimit", `"burst";r=5;t=30, "daily";r=5;t=3600, "x";r=5;t=60`, "RateLimit-Policy", policy),
			requests: quota(1000, 5, time.Hour),
		},
		{
			name:     "items over several field lines",
			h:        hdr("RateLimit", `"burst";r=50;t=30`, "RateLimit", `"daily";r=7;t=600`, "RateLimit-Policy", `"burst";q=100;w=60`, "RateLimit-Policy", `"daily";q=1000;w=86400`),
			requests: quota(1000, 7, 10*time.Minute),
		},
		{
			name:     "token names",
			h:        hdr("RateLimit", `burst;r=1;t=2`, "RateLimit-Policy", `burst;q=10;w=1`),
			requests: quota(10, 1, 2*time.Second),
		},
		{
			name:     "string item, token policy",
			h:        hdr("RateLimit", `"burst";r=1;t=2`, "RateLimit-Policy", `burst;q=10;w=1`),
			requests: quota(10, 1, 2*time.Second),
		},
		{
			name:     "explicit requests unit, string and token",
			h:        hdr("RateLimit", `"a";r=1, "b";r=2`, "RateLimit-Policy", `"a";q=10;qu="requests", "b";q=20;qu=request`),
			requests: quota(10, 1, 0),
		},
		{
			name: "other units skipped",
			h: hdr("RateLimit", `"bytes";r=0;t=5, "conc";r=0, "req";r=10;t=30`,
				"RateLimit-Policy", `"bytes";q=1000;qu="content-bytes", "conc";q=5;qu="concurrent-requests", "req";q=100`),
			requests: quota(100, 10, 30*time.Second),
		},
		{
			name:     "only other units: next form",
			h:        hdr("RateLimit", `"bytes";r=0;t=5`, "RateLimit-Policy", `"bytes";q=1000;qu="content-bytes"`, "X-RateLimit-Remaining", "9"),
			requests: rem(9),
		},
		{
			name:     "unit of unknown type is not requests",
			h:        hdr("RateLimit", `"a";r=0;t=5, "b";r=3`, "RateLimit-Policy", `"a";q=10;qu=5`),
			requests: rem(3),
		},
		{
			name:     "partition key ignored",
			h:        hdr("RateLimit", `"default";r=50;t=30;pk=:cHJvamVjdDEyMw==:`, "RateLimit-Policy", `"default";q=100;w=60;pk=:cHJvamVjdDEyMw==:`),
			requests: quota(100, 50, 30*time.Second),
		},
		{
			name:     "unknown parameters ignored",
			h:        hdr("RateLimit", `"default";r=50;t=30;foo=?1`),
			requests: quota(0, 50, 30*time.Second),
		},
		{
			name:     "decimal remaining",
			h:        hdr("RateLimit", `"default";r=2.5;t=1.5`),
			requests: quota(0, 2.5, 1500*time.Millisecond),
		},
		{
			name:     "negative remaining reads as none",
			h:        hdr("RateLimit", `"default";r=-3;t=30`),
			requests: quota(0, 0, 30*time.Second),
		},
		{
			name:     "negative t: no reset",
			h:        hdr("RateLimit", `"default";r=3;t=-30`),
			requests: rem(3),
		},
		{
			name:     "t at the epoch threshold is a Unix time",
			h:        hdr("RateLimit", `"default";r=3;t=`+unix(t0.Add(time.Minute))),
			requests: quota(0, 3, time.Minute),
		},
		{
			name:     "item without r skipped",
			h:        hdr("RateLimit", `"a";t=30, "b";r=4`),
			requests: rem(4),
		},
		{
			name:     "r of the wrong type skipped",
			h:        hdr("RateLimit", `"a";r="5", "b";r=?1, "c";r=4`),
			requests: rem(4),
		},
		{
			name:     "t of the wrong type ignored",
			h:        hdr("RateLimit", `"a";r=5;t="soon"`),
			requests: rem(5),
		},
		{
			name:     "nameless items skipped",
			h:        hdr("RateLimit", `5;r=1, ?1;r=2, ("a" "b");r=3, "d";r=4`),
			requests: rem(4),
		},
		{
			name: "no usable item",
			h:    hdr("RateLimit", `"a";t=30`),
		},
		{
			name: "malformed list",
			h:    hdr("RateLimit", `"default";r=`),
		},
		{
			name: "trailing comma",
			h:    hdr("RateLimit", `"default";r=5,`),
		},
		{
			name: "empty",
			h:    hdr("RateLimit", ""),
		},
		{
			name:     "malformed policy: limits kept without a limit",
			h:        hdr("RateLimit", `"burst";r=50;t=30`, "RateLimit-Policy", `"burst";q=`),
			requests: quota(0, 50, 30*time.Second),
		},
		{
			name:     "policy without q or with a negative one ignored",
			h:        hdr("RateLimit", `"a";r=1, "b";r=2`, "RateLimit-Policy", `"a";w=60, "b";q=-5`),
			requests: rem(1),
		},
		{
			name:     "first policy of a repeated name",
			h:        hdr("RateLimit", `"a";r=1`, "RateLimit-Policy", `"a";q=10, "a";q=20`),
			requests: quota(10, 1, 0),
		},
		{
			name:     "policy alone: a single request policy gives the limit",
			h:        hdr("RateLimit-Policy", `"burst";q=100;w=60, "bytes";q=9999;qu="content-bytes"`),
			requests: signal.Quota{Limit: 100},
		},
		{
			name: "policy alone: several request policies are ambiguous",
			h:    hdr("RateLimit-Policy", policy),
		},
		{
			name:     "policy alone gives way to the other forms",
			h:        hdr("RateLimit-Policy", `"burst";q=100;w=60`, "X-RateLimit-Remaining", "3"),
			requests: rem(3),
		},
	})
}

func TestParseQuotaDraft07And06(t *testing.T) {
	runQuotaCases(t, []quotaCase{
		{
			name:     "dictionary",
			h:        hdr("RateLimit", "limit=100, remaining=50, reset=30"),
			requests: quota(100, 50, 30*time.Second),
		},
		{
			name:     "dictionary, any order, no spaces",
			h:        hdr("RateLimit", "reset=30,remaining=50,limit=100"),
			requests: quota(100, 50, 30*time.Second),
		},
		{
			name:     "dictionary, partial",
			h:        hdr("RateLimit", "remaining=0"),
			requests: rem(0),
		},
		{
			name:     "dictionary, negative remaining and limit",
			h:        hdr("RateLimit", "limit=-1, remaining=-5, reset=10"),
			requests: quota(0, 0, 10*time.Second),
		},
		{
			name:     "dictionary, wrong types ignored",
			h:        hdr("RateLimit", `limit="100", remaining=(1 2), reset=30`),
			requests: signal.Quota{Reset: 30 * time.Second},
		},
		{
			name:     "dictionary, reset as Unix time",
			h:        hdr("RateLimit", "remaining=1, reset="+unix(t0.Add(time.Hour))),
			requests: signal.Quota{Remaining: 1, HasRemaining: true, Reset: time.Hour},
		},
		{
			name:     "dictionary with nothing known: next form",
			h:        hdr("RateLimit", "foo=1", "RateLimit-Remaining", "6"),
			requests: rem(6),
		},
		{
			name: "malformed dictionary",
			h:    hdr("RateLimit", "limit=100, remaining="),
		},
		{
			name:     "separate headers",
			h:        hdr("RateLimit-Limit", "100", "RateLimit-Remaining", "7", "RateLimit-Reset", "20"),
			requests: quota(100, 7, 20*time.Second),
		},
		{
			name:     "separate headers, limit listing policies",
			h:        hdr("RateLimit-Limit", "100, 100;w=60, 1000;w=3600", "RateLimit-Remaining", "7"),
			requests: quota(100, 7, 0),
		},
		{
			name:     "separate headers, only the first element of a limit is read",
			h:        hdr("RateLimit-Limit", "5,5x"),
			requests: signal.Quota{Limit: 5},
		},
		{
			name:     "separate headers, limit with a window",
			h:        hdr("RateLimit-Limit", "100;w=60"),
			requests: signal.Quota{Limit: 100},
		},
		{
			name:     "separate headers, reset as a Unix time",
			h:        hdr("RateLimit-Remaining", "7", "RateLimit-Reset", unix(t0.Add(5*time.Minute))),
			requests: quota(0, 7, 5*time.Minute),
		},
		{
			name:     "separate headers, malformed ones ignored",
			h:        hdr("RateLimit-Limit", "lots", "RateLimit-Remaining", "7", "RateLimit-Reset", "soon"),
			requests: rem(7),
		},
	})
}

func TestParseQuotaXRateLimit(t *testing.T) {
	runQuotaCases(t, []quotaCase{
		{
			name: "GitHub",
			h: hdr("X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "4999", "X-RateLimit-Used", "1",
				"X-RateLimit-Reset", unix(t0.Add(30*time.Minute)), "X-RateLimit-Resource", "core"),
			requests: quota(5000, 4999, 30*time.Minute),
		},
		{
			name:     "lower-case names",
			h:        hdr("x-ratelimit-limit", "60", "x-ratelimit-remaining", "0", "x-ratelimit-reset", "15"),
			requests: quota(60, 0, 15*time.Second),
		},
		{
			name:     "reset as seconds from now",
			h:        hdr("X-RateLimit-Reset", "30"),
			requests: signal.Quota{Reset: 30 * time.Second},
		},
		{
			name:     "reset as fractional seconds",
			h:        hdr("X-RateLimit-Reset", "1.5"),
			requests: signal.Quota{Reset: 1500 * time.Millisecond},
		},
		{
			name:     "reset just below the epoch threshold is seconds",
			h:        hdr("X-RateLimit-Reset", "999999999"),
			requests: signal.Quota{Reset: 999999999 * time.Second},
		},
		{
			name:     "reset at the epoch threshold is a Unix time (2001: past)",
			h:        hdr("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "1000000000"),
			requests: rem(1),
		},
		{
			name:     "reset as a Unix time in the past",
			h:        hdr("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", unix(t0.Add(-time.Minute))),
			requests: rem(1),
		},
		{
			name:     "reset as a Unix time now",
			h:        hdr("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", unix(t0)),
			requests: rem(1),
		},
		{
			name:     "reset as a fractional Unix time",
			h:        hdr("X-RateLimit-Reset", unix(t0.Add(time.Minute))+".5"),
			requests: signal.Quota{Reset: time.Minute + 500*time.Millisecond},
		},
		{
			name:     "reset as a Unix time millions of years ahead saturates",
			h:        hdr("X-RateLimit-Reset", "1"+strings.Repeat("0", 20)),
			requests: signal.Quota{Reset: maxDuration},
		},
		{
			name:     "reset, Jira's ISO 8601 to the minute",
			h:        hdr("X-RateLimit-Reset", "2026-11-27T14:30Z"),
			requests: signal.Quota{Reset: 30 * time.Minute},
		},
		{
			name:     "reset, ISO 8601 to the minute with an offset",
			h:        hdr("X-RateLimit-Reset", "2026-11-27T15:30+01:00"),
			requests: signal.Quota{Reset: 30 * time.Minute},
		},
		{
			name:     "reset, RFC 3339",
			h:        hdr("X-RateLimit-Reset", "2026-11-27T14:30:00Z"),
			requests: signal.Quota{Reset: 30 * time.Minute},
		},
		{
			name:     "reset, RFC 3339 with fraction and offset",
			h:        hdr("X-RateLimit-Reset", "2026-11-27T09:30:00.25-05:00"),
			requests: signal.Quota{Reset: 30*time.Minute + 250*time.Millisecond},
		},
		{
			name:     "reset, ISO 8601 basic offset",
			h:        hdr("X-RateLimit-Reset", "2026-11-27T15:30:00+0100"),
			requests: signal.Quota{Reset: 30 * time.Minute},
		},
		{
			name:     "reset, HTTP-date",
			h:        hdr("X-RateLimit-Reset", t1.Format(http.TimeFormat)),
			requests: signal.Quota{Reset: 90 * time.Second},
		},
		{
			name:     "reset, timestamp in the past",
			h:        hdr("X-RateLimit-Remaining", "2", "X-RateLimit-Reset", "2026-11-27T13:00Z"),
			requests: rem(2),
		},
		{
			name:     "reset, timestamp without a zone ignored",
			h:        hdr("X-RateLimit-Remaining", "2", "X-RateLimit-Reset", "2026-11-27T14:30"),
			requests: rem(2),
		},
		{
			name:     "reset, malformed timestamp ignored",
			h:        hdr("X-RateLimit-Remaining", "2", "X-RateLimit-Reset", "2026-13-45T99:99Z"),
			requests: rem(2),
		},
		{
			name:     "used gives remaining when remaining is missing",
			h:        hdr("X-RateLimit-Limit", "60", "X-RateLimit-Used", "10"),
			requests: quota(60, 50, 0),
		},
		{
			name:     "used beyond the limit reads as none left",
			h:        hdr("X-RateLimit-Limit", "60", "X-RateLimit-Used", "70"),
			requests: quota(60, 0, 0),
		},
		{
			name:     "remaining wins over used",
			h:        hdr("X-RateLimit-Limit", "60", "X-RateLimit-Remaining", "5", "X-RateLimit-Used", "10"),
			requests: quota(60, 5, 0),
		},
		{
			name: "used without a limit says nothing",
			h:    hdr("X-RateLimit-Used", "10"),
		},
		{
			name:     "malformed used ignored",
			h:        hdr("X-RateLimit-Limit", "60", "X-RateLimit-Used", "NaN"),
			requests: signal.Quota{Limit: 60},
		},
	})
}

// Every malformed form of a number leaves its field unset, in every header
// that holds one.
func TestParseQuotaMalformedNumbers(t *testing.T) {
	bad := []string{"", " ", "abc", "NaN", "nan", "Inf", "+Inf", "-Inf", "Infinity", "1e400", "1e3", "0x10", "1_000",
		"1.2.3", "--1", "+", "-", "5 5", "5x", ",5", ";"}
	names := []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
		"RateLimit-Remaining", "RateLimit-Reset",
		"X-RateLimit-Limit-Requests", "X-RateLimit-Remaining-Requests", "X-RateLimit-Reset-Requests"}
	for _, name := range names {
		for _, v := range bad {
			requests, tokens := signal.ParseQuota(hdr(name, v), t0)
			if requests != (signal.Quota{}) || tokens != (signal.Quota{}) {
				t.Errorf("ParseQuota(%s: %q) = %+v, %+v; want nothing", name, v, requests, tokens)
			}
		}
	}
	// Too large for a float64: malformed as a count, saturating as a reset.
	huge := "1" + strings.Repeat("0", 400)
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "RateLimit-Remaining", "X-RateLimit-Remaining-Requests"} {
		if requests, _ := signal.ParseQuota(hdr(name, huge), t0); requests != (signal.Quota{}) {
			t.Errorf("ParseQuota(%s: 1e400) = %+v; want nothing", name, requests)
		}
	}
	for _, name := range []string{"X-RateLimit-Reset", "RateLimit-Reset", "X-RateLimit-Reset-Requests"} {
		want := signal.Quota{Reset: maxDuration, Refills: name == "X-RateLimit-Reset-Requests"}
		if requests, _ := signal.ParseQuota(hdr(name, huge), t0); requests != want {
			t.Errorf("ParseQuota(%s: 1e400) = %+v; want a saturated reset", name, requests)
		}
	}
	for _, v := range bad {
		_, tokens := signal.ParseQuota(hdr("X-RateLimit-Limit-Tokens", v, "X-RateLimit-Remaining-Tokens", v, "X-RateLimit-Reset-Tokens", v), t0)
		if tokens != (signal.Quota{}) {
			t.Errorf("ParseQuota(tokens: %q) = %+v; want nothing", v, tokens)
		}
	}
}

func TestParseQuotaNumbers(t *testing.T) {
	tests := []struct {
		v    string
		want signal.Quota
	}{
		{"42", rem(42)},
		{"  42\t", rem(42)},
		{"+42", rem(42)},
		{"4.5", rem(4.5)},
		{"0", rem(0)},
		{"-0", rem(0)},
		{"-5", rem(0)},
		{"1" + strings.Repeat("0", 300), rem(1e300)},
	}
	for _, tt := range tests {
		requests, _ := signal.ParseQuota(hdr("X-RateLimit-Remaining", tt.v), t0)
		if requests != tt.want {
			t.Errorf("X-RateLimit-Remaining: %q gives %+v, want %+v", tt.v, requests, tt.want)
		}
	}
	// A negative limit is nonsense rather than an overdraft: ignored.
	if requests, _ := signal.ParseQuota(hdr("X-RateLimit-Limit", "-100", "X-RateLimit-Remaining", "1"), t0); requests != rem(1) {
		t.Errorf("negative limit: got %+v, want it ignored", requests)
	}
}

func TestParseQuotaOpenAI(t *testing.T) {
	openAI := func(extra ...string) http.Header {
		return hdr(append([]string{
			"x-ratelimit-limit-requests", "500",
			"x-ratelimit-remaining-requests", "499",
			"x-ratelimit-reset-requests", "120ms",
			"x-ratelimit-limit-tokens", "30000",
			"x-ratelimit-remaining-tokens", "29000",
			"x-ratelimit-reset-tokens", "6m0s",
		}, extra...)...)
	}
	runQuotaCases(t, []quotaCase{
		{
			name:     "requests and tokens",
			h:        openAI(),
			requests: refills(quota(500, 499, 120*time.Millisecond)),
			tokens:   refills(quota(30000, 29000, 6*time.Minute)),
		},
		{
			name:   "tokens only",
			h:      hdr("x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "1m30.5s"),
			tokens: refills(quota(0, 0, 90*time.Second+500*time.Millisecond)),
		},
		{
			name:     "bare seconds and fractional resets",
			h:        hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "20", "x-ratelimit-remaining-tokens", "2", "x-ratelimit-reset-tokens", "1.5s"),
			requests: refills(quota(0, 1, 20*time.Second)),
			tokens:   refills(quota(0, 2, 1500*time.Millisecond)),
		},
		{
			name:     "malformed resets ignored",
			h:        hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "soon", "x-ratelimit-remaining-tokens", "2", "x-ratelimit-reset-tokens", "6 m"),
			requests: refills(rem(1)),
			tokens:   refills(rem(2)),
		},
		{
			name:     "negative remaining tokens",
			h:        hdr("x-ratelimit-remaining-tokens", "-120"),
			tokens:   refills(rem(0)),
			requests: signal.Quota{},
		},
		{
			name:     "a request form with precedence wins; tokens still read",
			h:        openAI("X-RateLimit-Remaining", "3"),
			requests: rem(3),
			tokens:   refills(quota(30000, 29000, 6*time.Minute)),
		},
	})
}

// The first form that reports anything is taken whole.
func TestParseQuotaPrecedence(t *testing.T) {
	ietf := []string{"RateLimit", `"default";r=1;t=1`}
	draft07 := []string{"RateLimit", "limit=20, remaining=2, reset=2"}
	draft06 := []string{"RateLimit-Limit", "30", "RateLimit-Remaining", "3", "RateLimit-Reset", "3"}
	xrl := []string{"X-RateLimit-Limit", "40", "X-RateLimit-Remaining", "4", "X-RateLimit-Reset", "4"}
	openAI := []string{"X-RateLimit-Limit-Requests", "50", "X-RateLimit-Remaining-Requests", "5", "X-RateLimit-Reset-Requests", "5s"}
	policy := []string{"RateLimit-Policy", `"solo";q=60`}
	cat := func(parts ...[]string) http.Header {
		var kv []string
		for _, p := range parts {
			kv = append(kv, p...)
		}
		return hdr(kv...)
	}
	runQuotaCases(t, []quotaCase{
		{name: "IETF over all", h: cat(ietf, draft06, xrl, openAI), requests: quota(0, 1, time.Second)},
		{name: "-07 over -06", h: cat(draft07, draft06, xrl, openAI), requests: quota(20, 2, 2*time.Second)},
		{name: "-06 over X-RateLimit", h: cat(draft06, xrl, openAI), requests: quota(30, 3, 3*time.Second)},
		{name: "X-RateLimit over OpenAI", h: cat(xrl, openAI), requests: quota(40, 4, 4*time.Second)},
		{name: "OpenAI over a lone policy", h: cat(openAI, policy), requests: refills(quota(50, 5, 5*time.Second))},
		{name: "lone policy last", h: cat(policy), requests: signal.Quota{Limit: 60}},
		{
			name:     "fields are not mixed across forms",
			h:        hdr("RateLimit-Remaining", "3", "X-RateLimit-Limit", "40", "X-RateLimit-Reset", "4"),
			requests: rem(3),
		},
		{
			name:     "a form with only malformed values gives way",
			h:        hdr("RateLimit-Remaining", "abc", "RateLimit-Limit", "NaN", "X-RateLimit-Remaining", "4"),
			requests: rem(4),
		},
		{
			name:     "a form with only a past reset gives way",
			h:        hdr("RateLimit-Reset", "-5", "X-RateLimit-Remaining", "4"),
			requests: rem(4),
		},
		{
			name:     "an unparseable RateLimit gives way",
			h:        cat([]string{"RateLimit", "%%%"}, xrl),
			requests: quota(40, 4, 4*time.Second),
		},
	})
}
