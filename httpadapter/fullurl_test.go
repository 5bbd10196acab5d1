package httpadapter_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/httpadapter"
)

func TestFullURL(t *testing.T) {
	for _, tt := range []struct{ url, want string }{
		// The real URL: IDs, the port and plain query values stay.
		{"https://api.github.com/repos/golang/go/issues/123?per_page=100&page=2",
			"https://api.github.com/repos/golang/go/issues/123?per_page=100&page=2"},
		{"http://localhost:8080/v1/users/42", "http://localhost:8080/v1/users/42"},
		{"https://api.example.com", "https://api.example.com"},
		// User info, as the conventions ask; the fragment is never sent.
		{"https://alice:hunter2@api.example.com/v1/items#frag", "https://REDACTED:REDACTED@api.example.com/v1/items"},
		{"https://alice@api.example.com/", "https://REDACTED:REDACTED@api.example.com/"},
		// Query values whose names say credential, in any case, escaped or
		// not; the conventions' own four among them.
		{"https://api.example.com/x?api_key=s1&access_token=s2&limit=5",
			"https://api.example.com/x?api_key=REDACTED&access_token=REDACTED&limit=5"},
		{"https://s3.example.com/b/o?X-Amz-Signature=s&X-Amz-Credential=c&AWSAccessKeyId=a&Signature=b&sig=c&X-Goog-Signature=d",
			"https://s3.example.com/b/o?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED"},
		{"https://api.hubapi.com/x?hapikey=s&Password=p&client%5Fsecret=c&code=o&sessionid=i",
			"https://api.hubapi.com/x?hapikey=REDACTED&Password=REDACTED&client%5Fsecret=REDACTED&code=REDACTED&sessionid=REDACTED"},
		// A bare parameter stays when it reads as a name, else it goes.
		{"https://api.example.com/x?verbose&T3stS3cr3tXyZ", "https://api.example.com/x?verbose&REDACTED"},
		// A query url.ParseQuery refuses is redacted all the same.
		{"https://api.example.com/x?a=1;token=s&key=%zz", "https://api.example.com/x?a=1;token=REDACTED&key=REDACTED"},
		// A ';' is part of the value to most servers: it does not end it.
		{"https://api.example.com/x?token=abc;secretpart&password=hunter;two;words&page=2",
			"https://api.example.com/x?token=REDACTED&password=REDACTED&page=2"},
		{"https://api.example.com/x?", "https://api.example.com/x?"},
		// Webhook paths: the secret, not the route.
		{"https://hooks.slack.com/services/T0ABC/B0DEF/XXXXXXXXXXXXXXXXXXXXXXXX",
			"https://hooks.slack.com/services/T0ABC/B0DEF/REDACTED"},
		{"https://api.example.com/v1/services/42/status", "https://api.example.com/v1/services/42/status"},
		{"https://hooks.zapier.com/hooks/catch/123456/abcdef/", "https://hooks.zapier.com/hooks/REDACTED/REDACTED/REDACTED/"},
		{"https://discord.com/api/webhooks/1234/tok-en", "https://discord.com/api/webhooks/REDACTED/REDACTED"},
		{"https://acme.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d", "https://acme.webhook.office.com/webhookb2/REDACTED/REDACTED/REDACTED/REDACTED"},
		{"https://api.telegram.org/bot123456:ABC-DEF/sendMessage", "https://api.telegram.org/REDACTED/sendMessage"},
		{"https://api.example.com/bots/42", "https://api.example.com/bots/42"},
		// Letters written as escapes are read as the server reads them.
		{"https://hooks.slack.com/services/%540ABC/B0DEF/SECRET", "https://hooks.slack.com/services/%540ABC/B0DEF/REDACTED"},
		{"https://hooks.zapier.com/h%6Foks/catch/1/SECRET/", "https://hooks.zapier.com/h%6Foks/REDACTED/REDACTED/REDACTED/"},
		{"https://discord.com/api/w%65bhooks/1/SECRET", "https://discord.com/api/w%65bhooks/REDACTED/REDACTED"},
		{"https://api.telegram.org/b%6Ft123%3ASECRET/sendMessage", "https://api.telegram.org/REDACTED/sendMessage"},
		// Escapes are kept as sent.
		{"https://api.example.com/files/a%2Fb", "https://api.example.com/files/a%2Fb"},
		// Relative and opaque URLs.
		{"/v1/users/42?token=x", "/v1/users/42?token=REDACTED"},
		{"mailto:someone@example.com", "mailto:REDACTED"},
	} {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := httpadapter.FullURL(u); got != tt.want {
			t.Errorf("FullURL(%s)\n got %s\nwant %s", tt.url, got, tt.want)
		}
	}
	if got := httpadapter.FullURL(nil); got != "" {
		t.Errorf("FullURL(nil) = %q", got)
	}
	// For a secret path, the route in its place; the rest as FullURL says.
	u, _ := url.Parse("https://u:p@hooks.example.com/actions/T0/1/s3cr3t?token=t&x=1")
	if got, want := httpadapter.FullURLWithRoute(u, "/actions/{}/{}/{}"), "https://REDACTED:REDACTED@hooks.example.com/actions/{}/{}/{}?token=REDACTED&x=1"; got != want {
		t.Errorf("FullURLWithRoute = %q, want %q", got, want)
	}
	if got := httpadapter.FullURLWithRoute(u, "chat.postMessage"); got != "https://REDACTED:REDACTED@hooks.example.com/chat.postMessage?token=REDACTED&x=1" {
		t.Errorf("FullURLWithRoute of a route without its slash = %q", got)
	}
	// A path without its slash, as a caller may build a URL, does not run
	// into the host.
	if got := httpadapter.FullURL(&url.URL{Scheme: "https", Host: "h", Path: "v1/x"}); got != "https://h/v1/x" {
		t.Errorf("FullURL of a path without its slash = %q", got)
	}
}

// FuzzFullURL checks, on any URL that parses, that FullURL keeps no user
// info (REDACTED:REDACTED where there was some) and no fragment, that the value of a parameter named like a
// credential is gone, and that it parses again to the same host and the
// same number of path segments.
func FuzzFullURL(f *testing.F) {
	for _, s := range []string{"https://u:p@api.example/x?token=abc#frag", "https://hooks.slack.com/services/T0/B0/XXX",
		"/a?b&c=d;e", "https://h/%zz?k=%zz", "mailto:x@y", "https://h/bot1:x/y", "//h/hooks/", "?&&=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		got := httpadapter.FullURL(u)
		if strings.Contains(got, "#") {
			t.Fatalf("FullURL(%q) = %q keeps a fragment", s, got)
		}
		for _, param := range strings.Split(u.RawQuery, "&") {
			k, v, ok := strings.Cut(param, "=")
			if ok && v != "" && strings.Contains(strings.ToLower(k), "token") && strings.Contains(got, param) && v != httpadapter.Redacted {
				t.Fatalf("FullURL(%q) = %q keeps %q", s, got, param)
			}
		}
		if u.Opaque != "" {
			return
		}
		again, err := url.Parse(got)
		if err != nil {
			t.Fatalf("FullURL(%q) = %q, which does not parse: %v", s, got, err)
		}
		if u.User == nil && again.User != nil || u.User != nil && (again.User == nil || again.User.String() != "REDACTED:REDACTED") {
			t.Fatalf("FullURL(%q) = %q: user info %v", s, got, again.User)
		}
		if again.Host != u.Host {
			t.Fatalf("FullURL(%q) = %q: host %q, want %q", s, got, again.Host, u.Host)
		}
		if n, m := strings.Count(again.EscapedPath(), "/"), strings.Count(u.EscapedPath(), "/"); n != m {
			t.Fatalf("FullURL(%q) = %q: %d slashes in the path, want %d", s, got, n, m)
		}
	})
}
