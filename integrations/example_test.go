package integrations_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

func ExampleNames() {
	fmt.Println(strings.Join(integrations.Names(integrations.Builtin()), " "))
	// Output:
	// airtable anthropic fieldguide github google hubspot jira notion openai shopify slack stripe twilio vanta zapier
}

// An override file in the original format retunes a built-in and defines a
// new integration; every field it does not name keeps its value.
func ExampleLoadOverrides() {
	const file = `{
		"notion": {"rate_limit_per_sec": 2.0, "max_retries_on_backoff": 5},
		"custom_api": {"base_url": "https://api.example.com", "rate_limit_per_sec": 2.0, "burst_size": 2.0,
			"increase_factor": 0.1, "decrease_factor": 0.5, "min_rate": 0.1, "max_rate": 5.0, "cooldown_multiplier": 1.5}
	}`
	o, err := integrations.LoadOverrides(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	configs, err := integrations.Merge(integrations.Builtin(), o)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, c := configs["notion"], configs["custom_api"]
	fmt.Println("notion:", n.AIMD.Rate, "req/s, burst", n.AIMD.Burst, "retries", n.MaxRetriesOnBackoff, "throttle on", n.BackoffStatusCodes)
	fmt.Println("custom_api:", c.AIMD.Rate, "req/s, max", c.AIMD.MaxRate, "retries", c.MaxRetriesOnBackoff, "throttle on", c.BackoffStatusCodes)
	fmt.Println(len(configs), "integrations")
	// Output:
	// notion: 2 req/s, burst 3 retries 5 throttle on [429 529]
	// custom_api: 2 req/s, max 5 retries 3 throttle on [429]
	// 16 integrations
}

// Every problem of a file is reported at once, naming the integration, the
// field and the value.
func ExampleLoadOverrides_problems() {
	const file = `{
		"notion": {"rate_limit_per_sec": -1, "decrease_factr": 0.5},
		"slack": {"max_retries_on_backoff": "3"}
	}`
	_, err := integrations.LoadOverrides(strings.NewReader(file))
	fmt.Println(err)
	// Output:
	// integrations: 3 problems:
	// 	notion: rate_limit_per_sec = -1: must be a number > 0 and at most 1e6
	// 	notion: decrease_factr = 0.5: unknown field; did you mean "decrease_factor"?
	// 	slack: max_retries_on_backoff = "3": must be a whole number
}

// One call gives a client of a known API: paced, retried on throttles, with
// the API's base URL (here replaced by a test server's).
func ExampleNewClient() {
	var calls atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(529) // Notion's service_overload throttles like a 429
			return
		}
		fmt.Fprintf(w, "%s %s, version %s", r.Method, r.URL.Path, r.Header.Get("Notion-Version"))
	}))
	defer api.Close()

	// Notion's config paces at 3 requests/s; here it starts at 100 (an
	// override in the JSON format) so that the retry waits milliseconds.
	fast, err := integrations.LoadOverrides(strings.NewReader(
		`{"notion": {"rate_limit_per_sec": 100, "max_rate": 100}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	client, err := integrations.NewClient("notion",
		integrations.WithOverrides(fast),
		integrations.WithBaseURL(api.URL),
		integrations.WithDefaultHeader("Notion-Version", "2022-06-28"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := client.Request(context.Background(), http.MethodGet, "/v1/users/me",
		httpadapter.Header("Authorization", "Bearer secret"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", calls.Load(), "calls")
	// Output:
	// 200 GET /v1/users/me, version 2022-06-28 after 2 calls
}

// An SDK that takes an *http.Client gets the integration's pacing through
// its Transport, here Slack's, which paces each method on its own: one
// method's limit does not hold up another's. With slack-go:
// slack.New(token, slack.OptionHTTPClient(client)).
func ExampleNewTransport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"ok": true, "method": %q}`, strings.TrimPrefix(r.URL.Path, "/api/"))
	}))
	defer api.Close()

	rt, err := integrations.NewTransport("slack", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
	for _, method := range []string{"auth.test", "conversations.list"} {
		resp, err := client.Get(api.URL + "/api/" + method)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// {"ok": true, "method": "auth.test"}
	// {"ok": true, "method": "conversations.list"}
}
