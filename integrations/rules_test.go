package integrations_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dynlimit/dynlimit/clock"
	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/signal"
)

// ruleT0 is the fake clock's start in the classifier tests; resets and
// dates in test headers are written relative to it.
var ruleT0 = time.Date(2026, time.November, 27, 14, 0, 0, 0, time.UTC)

// ruleClassifiers lists every API classifier, for the tests that hold for
// all of them.
var ruleClassifiers = []struct {
	name string
	make func(clock.Clock) signal.Classifier
}{
	{"GitHub", integrations.GitHubClassifier},
	{"OpenAI", integrations.OpenAIClassifier},
	{"Anthropic", integrations.AnthropicClassifier},
	{"Notion", integrations.NotionClassifier},
	{"Airtable", integrations.AirtableClassifier},
	{"Zapier", integrations.ZapierClassifier},
	{"Slack", integrations.SlackClassifier},
	{"Stripe", integrations.StripeClassifier},
	{"Jira", integrations.JiraClassifier},
	{"Shopify", integrations.ShopifyClassifier},
	{"Twilio", integrations.TwilioClassifier},
	{"Google", integrations.GoogleClassifier},
	{"HubSpot", integrations.HubSpotClassifier},
}

// ruleBody is a response body that records whether it was closed: a
// classifier must leave the body, all of it, to the caller.
type ruleBody struct {
	r      io.Reader
	closed bool
}

func (b *ruleBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *ruleBody) Close() error               { b.closed = true; return nil }

// ruleHeader builds a header from name, value pairs.
func ruleHeader(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// ruleCase is one response and the signal it should give. want.Status is
// filled in from status.
type ruleCase struct {
	name   string
	status int
	header []string // name, value pairs
	body   string
	want   signal.Signal
}

// runRuleCases classifies each case's response with a classifier made on a
// fake clock at ruleT0, and checks the signal and that the caller can still
// read the whole body, which the classifier did not close.
func runRuleCases(t *testing.T, newClassifier func(clock.Clock) signal.Classifier, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClassifier(clock.NewFake(ruleT0))
			body := &ruleBody{r: strings.NewReader(tc.body)}
			resp := &http.Response{StatusCode: tc.status, Header: ruleHeader(tc.header...), Body: body}
			got := c.Classify(resp, nil)
			want := tc.want
			want.Status = tc.status
			// Unprocessed has its own table: TestUnprocessedThrottles.
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(signal.Signal{}, "Unprocessed")); diff != "" {
				t.Errorf("Classify mismatch (-want +got):\n%s", diff)
			}
			checkBodyIntact(t, resp, body, tc.body)
		})
	}
}

// checkBodyIntact checks that resp's body still reads as want from the
// start and that closing it closes the original.
func checkBodyIntact(t *testing.T, resp *http.Response, orig *ruleBody, want string) {
	t.Helper()
	if orig.closed {
		t.Error("the classifier closed the body")
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body after Classify: %v", err)
	}
	if string(got) != want {
		t.Errorf("body after Classify = %q (%d bytes), want the whole %d bytes", abbrev(got), len(got), len(want))
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !orig.closed {
		t.Error("closing the body after Classify did not close the original")
	}
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func TestRulesTransportErrors(t *testing.T) {
	deadline := fmt.Errorf("dial: %w", context.DeadlineExceeded)
	for _, rc := range ruleClassifiers {
		t.Run(rc.name, func(t *testing.T) {
			c := rc.make(clock.NewFake(ruleT0))
			tests := []struct {
				err  error
				want signal.Kind
			}{
				{context.Canceled, signal.Canceled},
				{fmt.Errorf("round trip: %w", context.Canceled), signal.Canceled},
				{deadline, signal.Overloaded},
				{errors.New("connection refused"), signal.Overloaded},
				{nil, signal.Failed}, // no response and no error: no evidence
			}
			for _, tt := range tests {
				if got := c.Classify(nil, tt.err); got != (signal.Signal{Kind: tt.want}) {
					t.Errorf("Classify(nil, %v) = %+v, want only Kind %v", tt.err, got, tt.want)
				}
			}
		})
	}
}

// A plain success is a success everywhere, with the body left alone; a nil
// clock is the real one.
func TestRulesSuccess(t *testing.T) {
	for _, rc := range ruleClassifiers {
		t.Run(rc.name, func(t *testing.T) {
			for _, clk := range []clock.Clock{nil, clock.NewFake(ruleT0)} {
				const text = `{"ok":true}`
				body := &ruleBody{r: strings.NewReader(text)}
				resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: body}
				if got := rc.make(clk).Classify(resp, nil); got != (signal.Signal{Status: http.StatusOK}) {
					t.Errorf("200 = %+v, want a plain success", got)
				}
				checkBodyIntact(t, resp, body, text)
			}
		})
	}
}

// Every classifier is shared by all the requests of a client; -race checks
// that classifying in parallel is safe, rules that read bodies included.
func TestRulesConcurrent(t *testing.T) {
	statuses := []int{200, 403, 429, 500, 503, 529}
	for _, rc := range ruleClassifiers {
		t.Run(rc.name, func(t *testing.T) {
			c := rc.make(clock.NewFake(ruleT0))
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 50 {
						text := `{"error":{"code":"rate_limit_exceeded"},"policyName":"SECONDLY"}`
						resp := &http.Response{
							StatusCode: statuses[(g+i)%len(statuses)],
							Header:     ruleHeader("Retry-After", "1", "X-RateLimit-Remaining", "0"),
							Body:       io.NopCloser(strings.NewReader(text)),
						}
						c.Classify(resp, nil)
						if b, err := io.ReadAll(resp.Body); err != nil || string(b) != text {
							t.Errorf("body after Classify = %q, %v", b, err)
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// The rate-limit refusals that the API documents as not acted on are
// Unprocessed, so that the Transport may resend a POST for them; nothing
// else is: a 5xx, a 529, a 403 that is no rate limit, OpenAI's final
// insufficient_quota, Stripe's refusals without Stripe-Should-Retry: true,
// and every throttle of an API that documents no such guarantee.
func TestUnprocessedThrottles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      func(clock.Clock) signal.Classifier
		status int
		header []string
		body   string
		want   bool
	}{
		{"openai 429", integrations.OpenAIClassifier, 429, []string{"Retry-After", "1"}, `{"error":{"code":"rate_limit_exceeded"}}`, true},
		{"openai insufficient_quota", integrations.OpenAIClassifier, 429, nil, `{"error":{"code":"insufficient_quota","type":"insufficient_quota"}}`, false},
		{"openai 503", integrations.OpenAIClassifier, 503, nil, "", false},
		{"slack 429", integrations.SlackClassifier, 429, []string{"Retry-After", "30"}, "", true},
		{"slack 500", integrations.SlackClassifier, 500, nil, "", false},
		{"stripe 429 should-retry true", integrations.StripeClassifier, 429, []string{"Stripe-Should-Retry", "true"}, "", true},
		{"stripe 409 should-retry true", integrations.StripeClassifier, 409, []string{"Stripe-Should-Retry", "true"}, "", true},
		{"stripe 429 without the header", integrations.StripeClassifier, 429, nil, "", false},
		{"stripe 429 should-retry false", integrations.StripeClassifier, 429, []string{"Stripe-Should-Retry", "false"}, "", false},
		{"twilio 429 (20429)", integrations.TwilioClassifier, 429, nil, `{"code": 20429}`, true},
		{"twilio 503", integrations.TwilioClassifier, 503, nil, "", false},
		{"github secondary limit", integrations.GitHubClassifier, 403, nil, `{"message": "You have exceeded a secondary rate limit"}`, true},
		{"github primary limit", integrations.GitHubClassifier, 403, []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1767225600"}, "", true},
		{"github 429", integrations.GitHubClassifier, 429, []string{"Retry-After", "60"}, "", true},
		{"github 403 without a limit", integrations.GitHubClassifier, 403, nil, `{"message": "Resource not accessible by integration"}`, false},
		{"notion 429", integrations.NotionClassifier, 429, []string{"Retry-After", "1"}, "", true},
		{"notion 529", integrations.NotionClassifier, 529, nil, "", false},
		{"airtable 429", integrations.AirtableClassifier, 429, nil, "", false},
		{"generic 429", func(c clock.Clock) signal.Classifier { return signal.HTTP{Clock: c} }, 429, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tc.status, Header: ruleHeader(tc.header...), Body: io.NopCloser(strings.NewReader(tc.body))}
			if got := tc.c(clock.NewFake(ruleT0)).Classify(resp, nil); got.Unprocessed != tc.want {
				t.Errorf("Classify = %+v: Unprocessed %v, want %v", got, got.Unprocessed, tc.want)
			}
		})
	}
}
