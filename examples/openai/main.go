// Command openai makes one read-only call to the OpenAI API through a
// dynlimit client, GET /v1/models (the models the key can use), and prints
// a few of them, OpenAI's rate-limit headers and the state of the limiter
// that paced the call.
//
//	OPENAI_API_KEY=sk-... go run ./examples/openai
//
// Make a key at https://platform.openai.com/api-keys. Listing models costs
// no tokens. OPENAI_BASE_URL replaces https://api.openai.com (a proxy, a
// compatible server, a test server).
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

// shown is how many model IDs to print of the dozens a key usually sees.
const shown = 5

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	key := getenv("OPENAI_API_KEY")
	if key == "" {
		fmt.Fprintln(stdout, "openai: set OPENAI_API_KEY to an OpenAI API key to run this example.")
		fmt.Fprintln(stdout, "Make one at https://platform.openai.com/api-keys.")
		return 0
	}

	opts := []integrations.Option{integrations.WithHTTPClientTimeout(requestTimeout)}
	if u := getenv("OPENAI_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("openai", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "openai:", err)
		return 1
	}

	resp, err := client.Request(context.Background(), http.MethodGet, "/v1/models",
		httpadapter.Header("Authorization", "Bearer "+key))
	if err != nil {
		return report(stderr, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// OpenAI's errors: {"error": {"message": "...", "type": "...", "code": "..."}}.
		var apiErr struct {
			Error struct {
				Message string `json:"message"`
				Code    string `json:"code"`
			} `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&apiErr)
		fmt.Fprintf(stderr, "openai: GET /v1/models: %s: %s (%s)\n", resp.Status, apiErr.Error.Message, apiErr.Error.Code)
		// A 429 that comes back rather than being retried is
		// insufficient_quota: only billing cures it.
		if apiErr.Error.Code == "insufficient_quota" {
			fmt.Fprintln(stderr, "openai: the account is out of credit: check the plan and billing at https://platform.openai.com/settings.")
		}
		return 1
	}
	var list struct {
		Data []struct {
			ID      string `json:"id"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		fmt.Fprintln(stderr, "openai: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET /v1/models: %s, %d models\n", resp.Status, len(list.Data))
	ids := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	for _, id := range ids[:min(shown, len(ids))] {
		fmt.Fprintf(stdout, "  %s\n", id)
	}

	// OpenAI counts requests and tokens separately; the resets are
	// durations ("6m0s"), not instants.
	h := resp.Header
	for _, kind := range []string{"requests", "tokens"} {
		if h.Get("X-Ratelimit-Limit-"+kind) != "" {
			fmt.Fprintf(stdout, "rate limit (%s): %s of %s left, resets in %s\n", kind,
				h.Get("X-Ratelimit-Remaining-"+kind), h.Get("X-Ratelimit-Limit-"+kind), h.Get("X-Ratelimit-Reset-"+kind))
		}
	}

	for _, s := range client.Snapshots() {
		fmt.Fprintf(stdout, "limiter %s: rate %.2f/s, burst %.0f, %.1f tokens left; %d granted, %d throttled\n",
			s.Name, s.Rate, s.Burst, s.Tokens, s.Counters.Granted, s.Counters.Throttled)
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the key: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "openai:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with OpenAI's limits.
		fmt.Fprintln(stderr, "openai: network error: OpenAI was not reached (its host name did not resolve, or the connection was refused): check OPENAI_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not OpenAI's limits.
		fmt.Fprintf(stderr, "openai: network error: no answer from OpenAI after %d attempts: check OPENAI_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500:
		// A 5xx: OpenAI could not serve the call.
		fmt.Fprintf(stderr, "openai: OpenAI is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "openai: OpenAI is limiting this project: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "openai: no answer within %s: check OPENAI_BASE_URL and the network.\n", requestTimeout)
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
