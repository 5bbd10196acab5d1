package integrations_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestZapierClassifier(t *testing.T) {
	cooldown := signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true}
	cases := []ruleCase{
		{name: "429 means a 60s cooldown", status: 429, want: cooldown},
		{name: "a shorter Retry-After is raised to 60s", status: 429, header: []string{"Retry-After", "10"}, want: cooldown},
		{
			name: "a longer Retry-After is kept", status: 429, header: []string{"Retry-After", "90"},
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 90 * time.Second, HasRetryAfter: true},
		},
		{name: "malformed Retry-After: 60s", status: 429, header: []string{"Retry-After", "-"}, want: cooldown},
		{name: "500", status: 500, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "403", status: 403, want: signal.Signal{Kind: signal.Failed}},
		{name: "200", status: 200, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.ZapierClassifier, cases)
}

func TestZapierRoute(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/hooks/catch/123456/qzwxrtp/", "/hooks/catch/{}/{}"},
		{"/hooks/catch/123456/hello/silent/", "/hooks/catch/{}/{}/{}"},
		{"/hooks/", "/hooks"},
		{"/v1/zaps/42", "/v1/zaps/{}"},
		{"/v2/authentications", "/v2/authentications"},
	} {
		req := &http.Request{URL: &url.URL{Path: tt.path}}
		if got := integrations.ZapierRoute(req); got != tt.want {
			t.Errorf("ZapierRoute(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := integrations.ZapierRoute(nil); got != "/" {
		t.Errorf("ZapierRoute(nil) = %q", got)
	}
}

func TestZapierSecretPath(t *testing.T) {
	for _, tt := range []struct {
		path string
		want bool
	}{
		{"/hooks/catch/123456/qzwxrtp/", true},
		{"hooks/standard/1/2", true},
		{"/v1/zaps/42", false},
		{"/hooksmith", false},
	} {
		if got := integrations.ZapierSecretPath(&url.URL{Path: tt.path}); got != tt.want {
			t.Errorf("ZapierSecretPath(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if integrations.ZapierSecretPath(nil) {
		t.Error("ZapierSecretPath(nil) = true")
	}
}
