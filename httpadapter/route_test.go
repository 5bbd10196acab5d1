package httpadapter_test

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/httpadapter"
)

func routeOf(path string) string {
	return httpadapter.RouteTemplate(&http.Request{URL: &url.URL{Path: path}})
}

func TestRouteTemplate(t *testing.T) {
	tests := []struct{ path, want string }{
		{"", "/"},
		{"/", "/"},
		{"//a//b/", "/a/b"},
		{"/v1/databases", "/v1/databases"},
		{"/v1/users/123/posts", "/v1/users/{}/posts"},
		{"/v1/users/me", "/v1/users/me"},
		{"/repos/golang/go/issues/42", "/repos/golang/go/issues/{}"},
		{"/rest/api/3/issue/PROJ-9/", "/rest/api/{}/issue/{}"},
		{"/api/chat.postMessage", "/api/chat.postMessage"},
		{"/api/files.getUploadURLExternal", "/api/files.getUploadURLExternal"},
		{"/api/oauth.v2.access", "/api/oauth.v2.access"},
		{"/v1/conversationsHistory", "/v1/conversationsHistory"},
		{"/admin/api/2024-10/orders.json", "/admin/api/{}/orders.json"},
		{"/v1/images:annotate", "/v1/images:annotate"},
		{"/v1beta1/projects", "/v1beta1/projects"},
		{"/.well-known/openid-configuration", "/.well-known/openid-configuration"},
		{"/v1/paymentintents", "/v1/paymentintents"},
		{"/graphql", "/graphql"},
		{"/b/bucket/o/object", "/b/bucket/o/object"},
		{"/files/" + strings.Repeat("abcdef", 6), "/files/{}"},
		{"/v1/items/550e8400-e29b-41d4-a716-446655440000", "/v1/items/{}"},
		// The secrets of the issue: a Slack webhook's 24 X's and its
		// team and bot ids, a token of 24 lower-case letters, a Zapier
		// catch hook's short id, tokens of mixed case.
		{"/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", "/services/{}/{}/{}"},
		{"/services/TABCDEFGH/BABCDEFGH/XyZabcDEFghiJKLmnoPQRstu", "/services/{}/{}/{}"},
		{"/api/zqxkvbwhpmtjrdlgfnscwyqz", "/api/{}"},
		{"/hooks/catch/123456/qzwxrtp/", "/hooks/catch/{}/{}"},
		{"/v1/T3stCanaryMix9Vq2Wz8Lk1P", "/v1/{}"},
		{"/v1/abcDEFghiJKL", "/v1/{}"},
		{"/v1/ABCD-EFGH-IJKL", "/v1/{}"},
		{"/v1/aBcDeFgH", "/v1/{}"},
		{"/v1/xoxb-1234-5678-abcdEFGH", "/v1/{}"},
		{"/v1/{}", "/v1/{}"},
		{"/v1/a b", "/v1/{}"},
		{"/v1/café", "/v1/{}"},
		{"/" + strings.Repeat("ab.", 30), "/{}"},
	}
	for _, tt := range tests {
		if got := routeOf(tt.path); got != tt.want {
			t.Errorf("RouteTemplate(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := httpadapter.RouteTemplate(&http.Request{}); got != "/" {
		t.Errorf("RouteTemplate of a request without URL = %q, want /", got)
	}
	plain := &http.Request{URL: &url.URL{Path: "/v1/databases"}}
	if n := testing.AllocsPerRun(100, func() { _ = httpadapter.RouteTemplate(plain) }); n != 0 {
		t.Errorf("a path of words allocates %v times, want 0", n)
	}
}

// routeNames are path segments of the built-in APIs and of others: each
// stays as it is.
const routeNames = `v0 v1 v2 v3 v1beta1 v2beta me search query token oauth
databases pages blocks children users comments properties data_sources file_uploads
chat.postMessage conversations.history conversations.replies conversations.list users.list
files.upload auth.test files.completeUploadExternal reactions.add oauth.v2.access
admin.conversations.restrictAccess.addGroup apps.connections.open users.lookupByEmail
chat.scheduleMessage views.publish team.info dnd.setSnooze usergroups.users.update rtm.connect
repos issues pulls commits graphql code user orgs members teams actions runs workflows jobs logs
releases assets contents git refs heads trees blobs branches protection statuses check-runs
check-suites hooks deliveries installations access_tokens app rate_limit notifications gists
starred subscription collaborators permission labels milestones events timeline reviews
requested_reviewers merge dependabot secrets public-key codespaces packages versions copilot
billing octocat zen emojis meta licenses gitignore templates topics traffic views clones
stargazers watchers forks keys deployments environments builds latest tags readme tarball
zipball alerts code-scanning secret-scanning dependency-graph
chat completions embeddings responses models files uploads parts batches fine_tuning checkpoints
images generations variations audio speech transcriptions translations moderations assistants
threads messages steps vector_stores file_batches organization projects api_keys usage costs
realtime sessions count_tokens results skills
charges customers payment_intents setup_intents payment_methods subscriptions invoices invoiceitems
prices products refunds balance balance_transactions transfers payouts webhook_endpoints checkout
billing_portal confirm capture cancel upcoming lines tax_rates coupons promotion_codes accounts
account_links application_fees disputes radar early_fraud_warnings issuing cards cardholders
terminal readers identity verification_sessions reporting report_runs ephemeral_keys
crm objects contacts companies deals tickets associations batch read create update owners
pipelines access-tokens marketing emails forms integrations
admin api orders.json products.json count.json graphql.json inventory_levels variants metafields
shop.json webhooks.json fulfillments
rest agile issue project comment transitions worklog attachments myself field board sprint
issuetype priority status serverInfo jql assignable bulk changelog remotelink votes editmeta
createmeta ex jira dashboard filter groups picker
Accounts Messages.json Calls.json IncomingPhoneNumbers.json Recordings Conferences Participants
Usage Records AvailablePhoneNumbers Local.json Services Verifications VerificationCheck
drive spreadsheets values batchUpdate values:batchGet calendar calendars gmail send
images:annotate documents upload storage youtube videos channels playlists playlistItems
userinfo tokeninfo locations publishers models:generateContent streamGenerateContent
bases tables fields whoami webhooks payloads refresh
resources vulnerabilities people tests controls frameworks vendors policies risks
monitored-computers user-accounts engagements requests catch zaps apps authentications workflow
webhook health ping version export import authorize revoke callback login logout sso saml scim
Groups ServiceProviderConfig Schemas ResourceTypes jwks.json
scripts prompts streams schemas thresholds stats charts trends tracks scratch rhythms sync crypto
html json xml sms grpc sftp smtp sdk pdf csv cdn dns ssl tls URL API SMS`

func TestRouteTemplateKeepsNames(t *testing.T) {
	for _, seg := range strings.Fields(routeNames) {
		if got := routeOf("/" + seg); got != "/"+seg {
			t.Errorf("RouteTemplate(/%s) = %s, want it kept", seg, got)
		}
		if httpadapter.VariableSegment(seg) {
			t.Errorf("VariableSegment(%q) = true", seg)
		}
	}
}

// Random tokens of letters are templated: all of them from 17 letters on,
// almost all from 12. The rates are of a seeded draw, so the test is
// deterministic; they bound what a leak of a random token of that length
// can be, not what a word that happens to be random gets.
func TestRouteTemplateRandomTokens(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 24))
	const draws = 20000
	for _, tc := range []struct {
		kind    string
		n       int
		maxKept float64 // fraction
	}{
		{"lower", 7, 0.25},
		{"lower", 12, 0.07},
		{"lower", 16, 0.02},
		{"lower", 17, 0},
		{"lower", 24, 0},
		{"upper", 5, 0},
		{"upper", 24, 0},
		{"mixed", 12, 0.08},
		{"mixed", 16, 0.01},
		{"mixed", 24, 0},
		{"alnum", 7, 0}, // a digit outside a version: always an id
		{"alnum", 24, 0},
	} {
		kept := 0
		for range draws {
			b := make([]byte, tc.n)
			for i := range b {
				b[i] = byte('a' + r.IntN(26))
				switch {
				case tc.kind == "upper", tc.kind == "mixed" && r.IntN(2) == 0:
					b[i] -= 'a' - 'A'
				case tc.kind == "alnum" && (i == 3 || r.IntN(3) == 0):
					b[i] = byte('0' + r.IntN(10))
				}
			}
			if b[0] == 'v' || b[0] == 'V' {
				b[0] = 'w' // not a version
			}
			if !httpadapter.VariableSegment(string(b)) {
				kept++
			}
		}
		if rate := float64(kept) / draws; rate > tc.maxKept {
			t.Errorf("%d%% of random %s tokens of %d letters kept, want at most %v%%", int(rate*100), tc.kind, tc.n, tc.maxKept*100)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		{"https://alice:hunter2@api.example.com/v1/items?token=SECRET#frag", "https://api.example.com/v1/items"},
		{"https://hooks.slack.com/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/{}/{}/{}"},
		{"http://localhost:8080", "http://localhost:8080"},
		{"/v1/users/42?x=1", "/v1/users/{}"},
		{"//api.example.com/v1", "//api.example.com/v1"},
		{"mailto:someone@example.com", "mailto:{}"},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := httpadapter.RedactURL(u); got != tt.want {
			t.Errorf("RedactURL(%s) = %q, want %q", tt.url, got, tt.want)
		}
	}
	if got := httpadapter.RedactURL(nil); got != "" {
		t.Errorf("RedactURL(nil) = %q", got)
	}
}

// FuzzRouteTemplate checks, on any path, that the template is a path of
// segments each kept whole from the path or "{}", that templating it again
// changes nothing, and that no segment that holds a digit outside a
// version, or more than 64 bytes, survives.
func FuzzRouteTemplate(f *testing.F) {
	for _, p := range []string{"", "/", "/v1/users/123", "/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX",
		"/api/chat.postMessage", "//a//b/", "/hooks/catch/1/qzwxrtp", "/a?b#c", "/%zz", "/v1/images:annotate"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := routeOf(p)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("RouteTemplate(%q) = %q: not a path", p, got)
		}
		if again := routeOf(got); again != got {
			t.Fatalf("RouteTemplate(%q) = %q, and of that %q", p, got, again)
		}
		segs := map[string]bool{}
		for _, s := range strings.Split(p, "/") {
			segs[s] = true
		}
		for _, s := range strings.Split(got, "/")[1:] {
			if s == "{}" || s == "" && got == "/" {
				continue
			}
			if !segs[s] || httpadapter.VariableSegment(s) || len(s) > 64 {
				t.Fatalf("RouteTemplate(%q) = %q keeps %q", p, got, s)
			}
			if strings.ContainsAny(s, "0123456789") && !(s[0] == 'v' || s[0] == 'V' || strings.ContainsAny(s, ".-_:")) {
				t.Fatalf("RouteTemplate(%q) = %q keeps %q, which has a digit", p, got, s)
			}
		}
	})
}

// FuzzRedactError checks, on any URL an *url.Error may quote, parsable or
// not, that what RedactError quotes has no user info, query or fragment
// left ('@', '?', '#'), and no path segment that RouteTemplate would not
// keep.
func FuzzRedactError(f *testing.F) {
	for _, s := range []string{"https://u:p@api.example/x?token=abc#frag", "https://[::1", "https://u:p@[::1/v1/%zz?k=v",
		"mailto:someone@example.com", "/v1/users/42", "", "http://a@b@c/d?e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		msg := httpadapter.RedactError(&url.Error{Op: "Get", URL: s, Err: errFuzz})
		quoted, ok := strings.CutPrefix(msg, `Get "`)
		if !ok || !strings.HasSuffix(quoted, `": fuzz`) {
			t.Fatalf("RedactError quoting %q = %q", s, msg)
		}
		quoted = strings.TrimSuffix(quoted, `": fuzz`)
		if strings.ContainsAny(quoted, "@?#") {
			t.Fatalf("RedactError quotes %q as %q", s, quoted)
		}
	})
}

var errFuzz = errors.New("fuzz")
