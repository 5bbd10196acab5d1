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
			if diff := cmp.Diff(want, got); diff != "" {
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
