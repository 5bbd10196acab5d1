package httpadapter_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
)

func newClient(tb testing.TB, base string, lim *dynlimit.Limiter, opts ...httpadapter.ClientOption) *httpadapter.Client {
	tb.Helper()
	c, err := httpadapter.NewClient(base, lim, opts...)
	if err != nil {
		tb.Fatalf("NewClient: %v", err)
	}
	return c
}

func TestNewClientRejectsBadArguments(t *testing.T) {
	lim := newLimiter(t, steady)
	tests := []struct {
		name     string
		base     string
		lim      *dynlimit.Limiter
		opts     []httpadapter.ClientOption
		wantName string
		quoted   string // the base URL as the message quotes it
	}{
		{"empty base URL", "", lim, nil, "baseURL", "/"},
		{"no scheme", "api.example.com/v1", lim, nil, "baseURL", "/api.example.com/v1"},
		{"path only", "/v1", lim, nil, "baseURL", "/v1"},
		{"no host", "https://", lim, nil, "baseURL", "https://"},
		{"unparsable", "https://[::1", lim, nil, "baseURL", "https://[::1"},
		// Credentials are not quoted, even in a URL that does not parse.
		{"unparsable with credentials", "https://bob:hunter2@[::1/v1/XXXXXXXXXXXXXXXXXXXXXXXX?key=s3cr3t", lim, nil, "baseURL", "https://[::1/v1/{}"},
		{"nil limiter", "https://api.example.com", nil, nil, "lim", ""},
		{"zero timeout", "https://api.example.com", lim, []httpadapter.ClientOption{httpadapter.WithTimeout(0)}, "WithTimeout", ""},
		{"negative timeout", "https://api.example.com", lim, []httpadapter.ClientOption{httpadapter.WithTimeout(-time.Second)}, "WithTimeout", ""},
		{"bad transport option", "https://api.example.com", lim,
			[]httpadapter.ClientOption{httpadapter.WithTransportOptions(httpadapter.WithMaxRetries(-1))}, "WithMaxRetries", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := httpadapter.NewClient(tt.base, tt.lim, tt.opts...)
			var oe *httpadapter.OptionError
			if !errors.As(err, &oe) || oe.Name != tt.wantName {
				t.Fatalf("NewClient(%q) = %v, %v; want an *OptionError naming %s", tt.base, c, err, tt.wantName)
			}
			if c != nil {
				t.Error("a Client came with the error")
			}
			if tt.wantName == "baseURL" && !strings.Contains(err.Error(), `"`+tt.quoted+`"`) {
				t.Errorf("message %q does not quote the base URL as %q", err, tt.quoted)
			}
		})
	}
}

func TestClientResolvesPaths(t *testing.T) {
	tests := []struct {
		base, path string
		opts       []httpadapter.RequestOption
		want       string
	}{
		{"https://api.example.com", "/v1/databases", nil, "https://api.example.com/v1/databases"},
		{"https://api.example.com", "v1/databases", nil, "https://api.example.com/v1/databases"},
		{"https://api.example.com/", "/v1/databases", nil, "https://api.example.com/v1/databases"},
		{"https://api.example.com/v2", "/users/1", nil, "https://api.example.com/v2/users/1"},
		{"https://api.example.com/v2", "users/1", nil, "https://api.example.com/v2/users/1"},
		{"https://api.example.com/v2/", "/users/1", nil, "https://api.example.com/v2/users/1"},
		{"https://api.example.com/v2", "", nil, "https://api.example.com/v2/"},
		{"https://api.example.com", "/search?q=go", nil, "https://api.example.com/search?q=go"},
		{"https://api.example.com", "/search?q=go", []httpadapter.RequestOption{httpadapter.Query(url.Values{"page": {"2"}, "tag": {"a", "b"}})},
			"https://api.example.com/search?page=2&q=go&tag=a&tag=b"},
		{"https://api.example.com", "/files/a%2Fb", nil, "https://api.example.com/files/a%2Fb"},
		// Google-style custom methods: a colon in the first segment below
		// the base path.
		{"https://vision.googleapis.com/v1", "/images:annotate", nil, "https://vision.googleapis.com/v1/images:annotate"},
		{"https://speech.googleapis.com/v1/", "/speech:recognize", nil, "https://speech.googleapis.com/v1/speech:recognize"},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(status(200))
				c := newClient(t, tt.base, newLimiter(t, steady), httpadapter.WithBaseTransport(up))
				resp, err := c.Request(context.Background(), http.MethodGet, tt.path, tt.opts...)
				if err != nil {
					t.Fatalf("Request: %v", err)
				}
				closeBody(resp)
				if got := up.sent()[0].req.URL.String(); got != tt.want {
					t.Errorf("sent to %s, want %s", got, tt.want)
				}
			})
		})
	}
}

func TestClientRejectsPathsElsewhere(t *testing.T) {
	for _, path := range []string{
		"https://evil.example/x",
		"http://api.example.com/v1/x",
		"//evil.example/x",
		"mailto:someone@example.com",
		"images:annotate", // a scheme unless written /images:annotate
		"/bad%zzescape",
	} {
		t.Run(path, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := script(status(200))
				c := newClient(t, "https://api.example.com/v1", newLimiter(t, steady), httpadapter.WithBaseTransport(up))
				resp, err := c.Request(context.Background(), http.MethodGet, path)
				closeBody(resp)
				var oe *httpadapter.OptionError
				if !errors.As(err, &oe) || oe.Name != "path" {
					t.Fatalf("Request(%q) = %v, want an *OptionError naming the path", path, err)
				}
				if n := up.attempts(); n != 0 {
					t.Errorf("upstream saw %d requests, want none", n)
				}
			})
		})
	}
}

func TestClientHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(200))
		c := newClient(t, "https://api.notion.com", newLimiter(t, steady), httpadapter.WithBaseTransport(up),
			httpadapter.WithDefaultHeader("Notion-Version", "2022-06-28"),
			httpadapter.WithDefaultHeader("Accept", "application/json"),
			httpadapter.WithDefaultHeader("X-Trace", "a"),
			httpadapter.WithDefaultHeader("X-Trace", "b"),
			nil,
		)
		resp, err := c.Request(context.Background(), http.MethodGet, "/v1/users",
			httpadapter.Header("Accept", "text/plain"),
			httpadapter.Header("Authorization", "Bearer secret"),
			nil,
		)
		if err != nil {
			t.Fatalf("Request: %v", err)
		}
		closeBody(resp)
		resp, err = c.Request(context.Background(), http.MethodGet, "/v1/users")
		if err != nil {
			t.Fatalf("second Request: %v", err)
		}
		closeBody(resp)

		got := up.sent()
		want := []http.Header{
			{"Notion-Version": {"2022-06-28"}, "Accept": {"text/plain"}, "Authorization": {"Bearer secret"}, "X-Trace": {"a", "b"}},
			// The first request's own headers did not stick to the defaults.
			{"Notion-Version": {"2022-06-28"}, "Accept": {"application/json"}, "X-Trace": {"a", "b"}},
		}
		for i := range want {
			if diff := cmp.Diff(want[i], got[i].req.Header); diff != "" {
				t.Errorf("request %d headers (-want +got):\n%s", i+1, diff)
			}
		}
	})
}

func TestClientBodyIsReplayed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(429, "Retry-After", "1"), reply{status: 201, body: "created"})
		c := newClient(t, "https://api.example.com", newLimiter(t, steady), httpadapter.WithBaseTransport(up))
		resp, err := c.Request(context.Background(), http.MethodPost, "/v1/pages",
			httpadapter.Header("Idempotency-Key", "page-1"),
			httpadapter.Body("application/json", []byte(`{"title":"x"}`)),
		)
		if err != nil {
			t.Fatalf("Request: %v", err)
		}
		if b := readBody(t, resp); resp.StatusCode != http.StatusCreated || b != "created" {
			t.Errorf("got %d %q, want 201 created", resp.StatusCode, b)
		}
		got := up.sent()
		if len(got) != 2 {
			t.Fatalf("upstream saw %d attempts, want 2", len(got))
		}
		for i, s := range got {
			if s.body != `{"title":"x"}` || s.req.Header.Get("Content-Type") != "application/json" || s.req.ContentLength != 13 {
				t.Errorf("attempt %d: body %q, type %q, length %d", i+1, s.body, s.req.Header.Get("Content-Type"), s.req.ContentLength)
			}
		}
		// Without the key a POST is not retried: the 429 comes back as is.
		up = script(status(429, "Retry-After", "1"), status(201))
		c = newClient(t, "https://api.example.com", newLimiter(t, steady), httpadapter.WithBaseTransport(up))
		resp, err = c.Request(context.Background(), http.MethodPost, "/v1/pages", httpadapter.Body("", []byte("x")))
		if err != nil {
			t.Fatalf("Request: %v", err)
		}
		closeBody(resp)
		if resp.StatusCode != http.StatusTooManyRequests || up.attempts() != 1 {
			t.Errorf("got %d after %d attempts, want the 429 after 1", resp.StatusCode, up.attempts())
		}
		if ct := up.sent()[0].req.Header.Get("Content-Type"); ct != "" {
			t.Errorf("Content-Type = %q, want none for an empty content type", ct)
		}
	})
}

func TestClientTimeoutIsTheTransportsDeadline(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := script(status(200))
			c := newClient(t, "https://api.example.com", newLimiter(t, steady), httpadapter.WithBaseTransport(up))
			start := time.Now()
			resp, err := c.Request(context.Background(), http.MethodGet, "/x")
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			closeBody(resp)
			if dl, ok := up.sent()[0].req.Context().Deadline(); !ok || !dl.Equal(start.Add(httpadapter.DefaultTimeout)) {
				t.Errorf("deadline = %v, %v; want start+%v", dl, ok, httpadapter.DefaultTimeout)
			}
		})
	})
	t.Run("Retry-After past it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := script(status(429, "Retry-After", "10"), status(200))
			c := newClient(t, "https://api.example.com", newLimiter(t, steady),
				httpadapter.WithBaseTransport(up), httpadapter.WithTimeout(5*time.Second))
			start := time.Now()
			resp, err := c.Request(context.Background(), http.MethodGet, "/x")
			closeBody(resp)
			if d := time.Since(start); d != 0 {
				t.Errorf("gave up after %v, want at once", d)
			}
			var e *httpadapter.Error
			if !errors.As(err, &e) || !errors.Is(err, httpadapter.ErrWaitTooLong) {
				t.Fatalf("err = %v, want an *Error of a wait too long", err)
			}
			if e.RetryAfter != 10*time.Second || !e.RetryAt.Equal(start.Add(10*time.Second)) || e.StatusCode != http.StatusTooManyRequests {
				t.Errorf("Error = %+v", *e)
			}
			if dl, ok := up.sent()[0].req.Context().Deadline(); !ok || !dl.Equal(start.Add(5*time.Second)) {
				t.Errorf("deadline = %v, %v; want start+5s", dl, ok)
			}
		})
	})
	t.Run("context earlier than the timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			up := script(status(200))
			c := newClient(t, "https://api.example.com", newLimiter(t, steady), httpadapter.WithBaseTransport(up))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			resp, err := c.Request(ctx, http.MethodGet, "/x")
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			closeBody(resp)
			if dl, ok := up.sent()[0].req.Context().Deadline(); !ok || !dl.Equal(start.Add(time.Second)) {
				t.Errorf("deadline = %v, %v; want the context's, start+1s", dl, ok)
			}
		})
	})
}

func TestClientHTTPClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(200))
		lim := newLimiter(t, steady)
		c := newClient(t, "https://api.example.com/v1", lim, httpadapter.WithBaseTransport(up), httpadapter.WithTimeout(7*time.Second))
		hc := c.HTTPClient()
		if hc.Timeout != 7*time.Second {
			t.Errorf("Timeout = %v, want 7s", hc.Timeout)
		}
		rt, ok := hc.Transport.(*httpadapter.Transport)
		if !ok || rt.Limiter() != lim {
			t.Fatalf("Transport = %T, want the *httpadapter.Transport of the Client's limiter", hc.Transport)
		}
		u := c.BaseURL()
		if u.String() != "https://api.example.com/v1/" {
			t.Errorf("BaseURL = %v", u)
		}
		u.Host = "evil.example"
		if c.BaseURL().Host != "api.example.com" {
			t.Error("changing the URL BaseURL returned changed the Client")
		}
		resp, err := hc.Get(c.BaseURL().String() + "users")
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		closeBody(resp)
		if s := lim.Snapshot().Counters; s.Granted != 1 {
			t.Errorf("Granted = %d, want the request paced", s.Granted)
		}
	})
}

func TestClientRequestErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := script(status(200))
		c := newClient(t, "https://api.example.com", newLimiter(t, steady), httpadapter.WithBaseTransport(up))
		errOpt := errors.New("bad option")
		resp, err := c.Request(context.Background(), http.MethodGet, "/x",
			func(*http.Request) error { return errOpt })
		closeBody(resp)
		if !errors.Is(err, errOpt) {
			t.Errorf("err = %v, want the option's error", err)
		}
		resp, err = c.Request(context.Background(), "BAD METHOD", "/x")
		closeBody(resp)
		if err == nil {
			t.Error("a bad method was accepted")
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		resp, err = c.Request(ctx, http.MethodGet, "/x")
		closeBody(resp)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if n := up.attempts(); n != 0 {
			t.Errorf("upstream saw %d requests, want none", n)
		}
	})
}

// A request's error quotes its URL redacted, as the Transport's own error
// does, and still matches its cause with errors.Is and errors.As.
func TestClientRequestErrorsAreRedacted(t *testing.T) {
	const (
		base = "https://bob:hunter2@api.example.com/"
		path = "/services/T0/B0/XXXXXXXXXXXXXXXXXXXXXXXX?api_key=s3cr3t"
	)
	for _, tc := range []struct {
		name    string
		reply   reply
		opts    []httpadapter.ClientOption
		is      error
		wantURL string
	}{
		{
			name: "retries exhausted", reply: status(503), is: httpadapter.ErrRetriesExhausted,
			opts:    []httpadapter.ClientOption{httpadapter.WithTransportOptions(httpadapter.WithMaxRetries(1), constant(time.Second))},
			wantURL: "https://api.example.com/services/{}/{}/{}",
		},
		{
			name: "transport error", reply: reply{err: errConnRefused}, is: errConnRefused,
			opts:    []httpadapter.ClientOption{httpadapter.WithTransportOptions(httpadapter.WithMaxRetries(0))},
			wantURL: "https://api.example.com/services/{}/{}/{}",
		},
		{
			name: "timeout", reply: reply{hang: true}, is: context.DeadlineExceeded,
			opts:    []httpadapter.ClientOption{httpadapter.WithTimeout(time.Second)},
			wantURL: "https://api.example.com/services/{}/{}/{}",
		},
		{
			name: "the route of WithRoute", reply: status(503), is: httpadapter.ErrRetriesExhausted,
			opts: []httpadapter.ClientOption{httpadapter.WithTransportOptions(httpadapter.WithMaxRetries(1), constant(time.Second),
				httpadapter.WithRoute(func(*http.Request) string { return "webhook" }))},
			wantURL: "https://api.example.com/webhook",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := append([]httpadapter.ClientOption{httpadapter.WithBaseTransport(script(tc.reply))}, tc.opts...)
				c := newClient(t, base, newLimiter(t, steady), opts...)
				resp, err := c.Request(context.Background(), http.MethodGet, path)
				closeBody(resp)
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want one that matches %v", err, tc.is)
				}
				var ue *url.Error
				if !errors.As(err, &ue) || ue.URL != tc.wantURL {
					t.Errorf("err = %#v, want an *url.Error quoting %s", err, tc.wantURL)
				}
				for _, secret := range []string{"XXXXXXXXXXXXXXXXXXXXXXXX", "s3cr3t", "api_key", "bob", "hunter2"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("%q leaks %q", err, secret)
					}
				}
			})
		})
	}
}

var errConnRefused = errors.New("connection refused")

// A path that cannot be sent is refused without quoting it.
func TestClientRequestPathErrorsAreRedacted(t *testing.T) {
	c := newClient(t, "https://api.example.com", newLimiter(t, steady), httpadapter.WithBaseTransport(script(status(200))))
	for _, path := range []string{"https://bob:hunter2@evil.example/x?api_key=s3cr3t", "/x/s3cr3t%zz?api_key=s3cr3t"} {
		resp, err := c.Request(context.Background(), http.MethodGet, path)
		closeBody(resp)
		if err == nil {
			t.Fatalf("Request(%q) succeeded", path)
		}
		for _, secret := range []string{"s3cr3t", "bob", "hunter2"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%q leaks %q", err, secret)
			}
		}
	}
}
