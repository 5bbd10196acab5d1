// Command fieldguide makes one read-only call to the Fieldguide API through
// a dynlimit client and prints a summary of the answer with the state of the
// limiter that paced the call.
//
//	FIELDGUIDE_TOKEN=fg_... go run ./examples/fieldguide
//
// Get a token in Fieldguide under My Profile > Integrations (firm users) or
// My Profile > API Tokens (client users); it carries the scopes and the
// permissions of the account that made it. FIELDGUIDE_BASE_URL replaces
// https://api.fieldguide.io (https://api.staging.fieldguidedev.com for
// partner development, a test server).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

// requestTimeout bounds the call, waits for the limiter and retries
// included: a throttle that asks for a longer pause fails at once and says
// when to try again.
const requestTimeout = 20 * time.Second

// path is a sample read: Fieldguide publishes its endpoints in the OpenAPI
// documentation of each environment, not in a public reference, so put one
// your token's scopes allow here. The summary below assumes only a JSON
// answer.
const path = "/v1/engagements?limit=3"

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token := getenv("FIELDGUIDE_TOKEN")
	if token == "" {
		fmt.Fprintln(stdout, "fieldguide: set FIELDGUIDE_TOKEN to a Fieldguide API token to run this example.")
		fmt.Fprintln(stdout, "Make one in Fieldguide under My Profile > Integrations (firm users) or My Profile > API Tokens (client users).")
		return 0
	}

	opts := []integrations.Option{integrations.WithHTTPClientTimeout(requestTimeout)}
	if u := getenv("FIELDGUIDE_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("fieldguide", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "fieldguide:", err)
		return 1
	}

	resp, err := client.Request(context.Background(), http.MethodGet, path,
		httpadapter.Header("Authorization", "Bearer "+token),
		httpadapter.Header("Accept", "application/json"))
	if err != nil {
		return report(stderr, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(stderr, "fieldguide: GET %s: %s: %s\n", path, resp.Status, body)
		return 1
	}
	var doc any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		fmt.Fprintln(stderr, "fieldguide: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET %s: %s, %s\n", path, resp.Status, describe(doc))

	for _, s := range client.Snapshots() {
		fmt.Fprintf(stdout, "limiter %s: rate %.2f/s, burst %.0f, %.1f tokens left; %d granted, %d throttled\n",
			s.Name, s.Rate, s.Burst, s.Tokens, s.Counters.Granted, s.Counters.Throttled)
	}
	return 0
}

// describe summarizes a JSON answer whose shape the example does not know:
// a list, or an object, with the length of its list fields.
func describe(doc any) string {
	switch v := doc.(type) {
	case []any:
		return fmt.Sprintf("a list of %d items", len(v))
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		s := "an object with"
		for _, k := range keys {
			if list, ok := v[k].([]any); ok {
				s += fmt.Sprintf(" %s (%d items)", k, len(list))
			} else {
				s += " " + k
			}
		}
		return s
	}
	return fmt.Sprintf("%T", doc)
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "fieldguide:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with Fieldguide's limits.
		fmt.Fprintln(stderr, "fieldguide: network error: Fieldguide was not reached (its host name did not resolve, or the connection was refused): check FIELDGUIDE_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not Fieldguide's limits.
		fmt.Fprintf(stderr, "fieldguide: network error: no answer from Fieldguide after %d attempts: check FIELDGUIDE_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500 && he.StatusCode != http.StatusServiceUnavailable:
		// A 5xx other than Fieldguide's throttle (503): Fieldguide could not serve the call.
		fmt.Fprintf(stderr, "fieldguide: Fieldguide is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "fieldguide: Fieldguide is limiting this token: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "fieldguide: no answer within %s: check FIELDGUIDE_BASE_URL and the network.\n", requestTimeout)
	}
	return 1
}

// later says when to try again: at retryAt when the upstream said, else in
// a minute.
func later(retryAt time.Time) string {
	if retryAt.IsZero() {
		return "in a minute"
	}
	return "after " + retryAt.Format(time.RFC3339) + " (in " + time.Until(retryAt).Round(time.Second).String() + ")"
}
