package integrations_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestShopifyClassifier(t *testing.T) {
	const hdr = "X-Shopify-Shop-Api-Call-Limit"
	cases := []ruleCase{
		{
			name: "200 with the call limit", status: 200, header: []string{hdr, "32/40"},
			want: signal.Signal{Quota: signal.Quota{Limit: 40, Remaining: 8, HasRemaining: true, Reset: 16 * time.Second, Refills: true}},
		},
		{
			name: "429 with Retry-After and a full bucket", status: 429, header: []string{hdr, "40/40", "Retry-After", "2.0"},
			body: `{"errors":"Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}`,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 2 * time.Second, HasRetryAfter: true, Quota: signal.Quota{Limit: 40, HasRemaining: true, Reset: 20 * time.Second, Refills: true}},
		},
		{
			name: "the call limit wins over generic headers", status: 200, header: []string{hdr, "10/40", "X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "1"},
			want: signal.Signal{Quota: signal.Quota{Limit: 40, Remaining: 30, HasRemaining: true, Reset: 5 * time.Second, Refills: true}},
		},
		{name: "429 without headers", status: 429, want: signal.Signal{Kind: signal.Throttled}},
		{name: "a malformed call limit is ignored", status: 200, header: []string{hdr, "32 of 40"}, want: signal.Signal{}},
		{name: "503", status: 503, want: signal.Signal{Kind: signal.Overloaded}},
	}
	runRuleCases(t, integrations.ShopifyClassifier, cases)
}

func TestParseShopifyCallLimit(t *testing.T) {
	tests := []struct {
		in     string
		want   signal.Quota
		wantOK bool
	}{
		{"32/40", signal.Quota{Limit: 40, Remaining: 8, HasRemaining: true, Reset: 16 * time.Second, Refills: true}, true},
		{"0/40", signal.Quota{Limit: 40, Remaining: 40, HasRemaining: true, Refills: true}, true},
		{"1/40", signal.Quota{Limit: 40, Remaining: 39, HasRemaining: true, Reset: 500 * time.Millisecond, Refills: true}, true},
		{"40/40", signal.Quota{Limit: 40, HasRemaining: true, Reset: 20 * time.Second, Refills: true}, true},
		{"41/40", signal.Quota{Limit: 40, HasRemaining: true, Reset: 20500 * time.Millisecond, Refills: true}, true},
		{" 32 / 40 ", signal.Quota{Limit: 40, Remaining: 8, HasRemaining: true, Reset: 16 * time.Second, Refills: true}, true},
		// A Shopify Plus bucket of 400 leaks 20/s.
		{"200/400", signal.Quota{Limit: 400, Remaining: 200, HasRemaining: true, Reset: 10 * time.Second, Refills: true}, true},
		{"", signal.Quota{}, false},
		{"32", signal.Quota{}, false},
		{"32/", signal.Quota{}, false},
		{"/40", signal.Quota{}, false},
		{"32/0", signal.Quota{}, false},
		{"-1/40", signal.Quota{}, false},
		{"1.5/40", signal.Quota{}, false},
		{"32/40/2", signal.Quota{}, false},
		{"3 2/40", signal.Quota{}, false},
		{"0x20/40", signal.Quota{}, false},
		{"32/" + strings.Repeat("9", 400), signal.Quota{}, false},
	}
	for _, tt := range tests {
		got, ok := integrations.ParseShopifyCallLimit(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseShopifyCallLimit(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// FuzzShopifyCallLimit checks that any call-limit header gives a sane quota
// or none: no panic, no NaN or infinity, nothing negative, no more left
// than the bucket holds.
func FuzzShopifyCallLimit(f *testing.F) {
	for _, s := range []string{"32/40", "0/40", "40/40", "41/40", " 1 / 2 ", "1/0", "abc", "", "/", "-1/40", "1e3/40",
		strings.Repeat("9", 320) + "/1", "1/" + strings.Repeat("9", 308), "99999999999999999999/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q, ok := integrations.ParseShopifyCallLimit(v)
		if !ok {
			if q != (signal.Quota{}) {
				t.Fatalf("ParseShopifyCallLimit(%q) = %+v, false; want the zero Quota", v, q)
			}
		} else {
			checkFuzzQuota(t, "call limit", q)
			if !(q.Limit > 0) || !q.HasRemaining || q.Remaining > q.Limit {
				t.Fatalf("ParseShopifyCallLimit(%q) = %+v: want Limit > 0 and 0 <= Remaining <= Limit", v, q)
			}
		}

		resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"X-Shopify-Shop-Api-Call-Limit": {v}}, Body: http.NoBody}
		s := integrations.ShopifyClassifier(clock.NewFake(ruleT0)).Classify(resp, nil)
		if s.RetryAfter < 0 || math.IsNaN(s.Quota.Remaining) {
			t.Fatalf("Classify with call limit %q = %+v", v, s)
		}
	})
}
