package integrations_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestSlackClassifier(t *testing.T) {
	cases := []ruleCase{
		{
			name: "429 with Retry-After", status: 429, header: []string{"Retry-After", "30"},
			body: `{"ok":false,"error":"ratelimited"}`,
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 30 * time.Second, HasRetryAfter: true},
		},
		{name: "429 without Retry-After waits 60s", status: 429, want: signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true}},
		{name: "malformed Retry-After: 60s", status: 429, header: []string{"Retry-After", "soon"}, want: signal.Signal{Kind: signal.Throttled, RetryAfter: time.Minute, HasRetryAfter: true}},
		{name: "Retry-After 0 means at once", status: 429, header: []string{"Retry-After", "0"}, want: signal.Signal{Kind: signal.Throttled, HasRetryAfter: true}},
		{name: "503", status: 503, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "200 with ok false is still a success", status: 200, body: `{"ok":false,"error":"channel_not_found"}`, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.SlackClassifier, cases)
}

func TestSlackMethodKey(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"https://slack.com/api/chat.postMessage", "chat.postMessage"},
		{"https://slack.com/api/conversations.history?channel=C123&limit=200", "conversations.history"},
		{"https://slack.com/api/users.list/", "users.list"},
		{"https://example.com/slack/api/auth.test", "auth.test"},
		{"https://slack.com/api/oauth.v2.access", "oauth.v2.access"},
		{"https://slack.com/api/admin.conversations.restrictAccess.addGroup", "admin.conversations.restrictAccess.addGroup"},
		{"https://slack.com/api/", integrations.SlackOtherKey},
		{"https://slack.com/oauth/v2/authorize", integrations.SlackOtherKey},
		{"https://slack.com/", integrations.SlackOtherKey},
		// Only a method's name becomes a key: never a secret of a path.
		{"https://slack.com/api/zqxkvbwhpmtjrdlgfnscwyqz", integrations.SlackOtherKey},
		{"https://slack.com/api/qzwxrtp.xkcd", integrations.SlackOtherKey},
		{"https://slack.com/api/Chat.PostMessage", integrations.SlackOtherKey},
		{"https://slack.com/api/chat.postMessage.T3stCanary9", integrations.SlackOtherKey},
		{"https://slack.com/files/chat.postMessage", integrations.SlackOtherKey},
		{"https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", integrations.SlackWebhookKey},
		{"https://hooks.slack.com/triggers/T0/123/abcdef", integrations.SlackWebhookKey},
		{"https://proxy.example/services/T0/B0/qzwxrtp", integrations.SlackWebhookKey},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := integrations.SlackMethodKey(&http.Request{Method: http.MethodPost, URL: u}); got != tt.want {
			t.Errorf("SlackMethodKey(%s) = %q, want %q", tt.url, got, tt.want)
		}
	}
	if got := integrations.SlackMethodKey(nil); got != integrations.SlackOtherKey {
		t.Errorf("SlackMethodKey(nil) = %q, want %q", got, integrations.SlackOtherKey)
	}
}

func TestSlackRoute(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://slack.com/api/chat.postMessage", "/api/chat.postMessage"},
		{"https://slack.com/api/zqxkvbwhpmtjrdlgfnscwyqz", "/api/{}"},
		// Whatever the shape of the secret, even one that reads as a word.
		{"https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", "/services/{}/{}/{}"},
		{"https://hooks.slack.com/services/TEAM/BOT/hello", "/services/{}/{}/{}"},
		{"https://hooks.slack.com/actions/T0/123/secret/", "/actions/{}/{}/{}"},
		{"https://hooks.slack.com/", "/"},
		{"https://slack.com/oauth/v2/authorize", "/oauth/v2/authorize"},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := integrations.SlackRoute(&http.Request{URL: u}); got != tt.want {
			t.Errorf("SlackRoute(%s) = %q, want %q", tt.url, got, tt.want)
		}
	}
	if got := integrations.SlackRoute(nil); got != "/" {
		t.Errorf("SlackRoute(nil) = %q", got)
	}
}

func TestSlackTier(t *testing.T) {
	tests := []struct {
		method string
		want   float64
	}{
		{"chat.postMessage", 60},
		{"conversations.history", 50},
		{"conversations.replies", 50},
		{"users.list", 20},
		{"conversations.list", 20},
		{"files.upload", 20},
		{"auth.test", 100},
		{integrations.SlackWebhookKey, 60}, // one message a second
		{"reactions.add", 20},              // unknown: tier 2
		{"", 20},
		{"Chat.PostMessage", 20}, // method names are case-sensitive
	}
	for _, tt := range tests {
		if got := integrations.SlackTier(tt.method); got != tt.want {
			t.Errorf("SlackTier(%q) = %v, want %v", tt.method, got, tt.want)
		}
	}
}

// Each Slack method's limiter starts at its tier, within bounds that hold it.
func TestSlackKeyPolicy(t *testing.T) {
	c, _ := integrations.Get("slack")
	base := c.Policy()
	for _, tc := range []struct {
		method string
		rate   float64
	}{
		{"chat.postMessage", 1},
		{"conversations.history", 50.0 / 60},
		{"users.list", 20.0 / 60},
		{"auth.test", 100.0 / 60},
		{"some.unknown.method", 20.0 / 60},
		{integrations.SlackWebhookKey, 1},
		{integrations.SlackOtherKey, 20.0 / 60},
	} {
		a := c.KeyPolicy(tc.method, base)
		if a.Rate != tc.rate {
			t.Errorf("%s: rate %v, want %v", tc.method, a.Rate, tc.rate)
		}
		if err := a.Validate(); err != nil {
			t.Errorf("%s: %v", tc.method, err)
		}
	}
}

func TestSlackSecretPath(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://slack.com/api/chat.postMessage", false},
		{"https://slack.com/api/users.info?user=U1", false},
		{"https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", true},
		{"https://hooks.slack.com/anything", true},
		{"https://proxy.internal/actions/T0/123/secret/", true},
		{"https://proxy.internal/triggers/T0/1/abc", true},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := integrations.SlackSecretPath(u); got != tt.want {
			t.Errorf("SlackSecretPath(%s) = %v, want %v", tt.url, got, tt.want)
		}
	}
	if integrations.SlackSecretPath(nil) {
		t.Error("SlackSecretPath(nil) = true")
	}
}
