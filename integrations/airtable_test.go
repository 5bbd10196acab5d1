package integrations_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

func TestAirtableClassifier(t *testing.T) {
	silence := signal.Signal{Kind: signal.Throttled, RetryAfter: 30 * time.Second, HasRetryAfter: true}
	cases := []ruleCase{
		{name: "429 means 30s of silence", status: 429, body: `{"errors":[{"error":"RATE_LIMIT_REACHED"}]}`, want: silence},
		{name: "a shorter Retry-After is raised to 30s", status: 429, header: []string{"Retry-After", "5"}, want: silence},
		{name: "Retry-After 0 is raised to 30s", status: 429, header: []string{"Retry-After", "0"}, want: silence},
		{
			name: "a longer Retry-After is kept", status: 429, header: []string{"Retry-After", "45"},
			want: signal.Signal{Kind: signal.Throttled, RetryAfter: 45 * time.Second, HasRetryAfter: true},
		},
		{name: "malformed Retry-After: 30s", status: 429, header: []string{"Retry-After", "soon"}, want: silence},
		{name: "503 has no set silence", status: 503, want: signal.Signal{Kind: signal.Overloaded}},
		{name: "422", status: 422, want: signal.Signal{Kind: signal.Failed}},
		{name: "200", status: 200, want: signal.Signal{Kind: signal.Success}},
	}
	runRuleCases(t, integrations.AirtableClassifier, cases)
}

func TestAirtableBaseKey(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{"https://api.airtable.com/v0/appAbCdEfGh012345/Tasks", "appAbCdEfGh012345"},
		{"https://api.airtable.com/v0/appAbCdEfGh012345/tblXyZ0123456789a/recAbc0123456789a", "appAbCdEfGh012345"},
		{"https://api.airtable.com/v0/appAbCdEfGh012345", "appAbCdEfGh012345"},
		{"https://api.airtable.com/v0/meta/bases/appAbCdEfGh012345/tables", "appAbCdEfGh012345"},
		{"https://api.airtable.com/v0/bases/appAbCdEfGh012345/webhooks", "appAbCdEfGh012345"},
		{"https://api.airtable.com/v0/appAbCdEfGh012345/applications?view=Grid", "appAbCdEfGh012345"},
		{"https://api.airtable.com/v0/meta/bases", ""},
		{"https://api.airtable.com/v0/meta/whoami", ""},
		{"https://api.airtable.com/v0/apples/Tasks", ""},
		{"https://api.airtable.com/v0/appAbCdEfGh01234!/Tasks", ""},
		{"https://api.airtable.com/", ""},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := integrations.AirtableBaseKey(&http.Request{Method: http.MethodGet, URL: u}); got != tt.want {
			t.Errorf("AirtableBaseKey(%s) = %q, want %q", tt.url, got, tt.want)
		}
	}
	if got := integrations.AirtableBaseKey(&http.Request{}); got != "" {
		t.Errorf("AirtableBaseKey(no URL) = %q, want \"\"", got)
	}
}
