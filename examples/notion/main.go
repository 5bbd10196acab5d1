// Command notion makes one read-only call to the Notion API through a
// dynlimit client, GET /v1/users/me (the bot user the token belongs to), and
// prints who answered and the state of the limiter that paced the call.
//
//	NOTION_TOKEN=ntn_... go run ./examples/notion
//
// Get a token by creating an internal integration at
// https://www.notion.so/profile/integrations and copying its secret.
// NOTION_BASE_URL replaces https://api.notion.com (a proxy, a test server).
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
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

// requestTimeout bounds the call, waits for the limiter and retries
// included: a throttle that asks for a longer pause fails at once and says
// when to try again, rather than holding the terminal.
const requestTimeout = 20 * time.Second

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token := getenv("NOTION_TOKEN")
	if token == "" {
		fmt.Fprintln(stdout, "notion: set NOTION_TOKEN to an integration secret to run this example.")
		fmt.Fprintln(stdout, "Create an internal integration at https://www.notion.so/profile/integrations and copy its secret.")
		return 0
	}

	opts := []integrations.Option{
		integrations.WithHTTPClientTimeout(requestTimeout),
		// Notion refuses requests that do not name the API version they
		// were written against.
		integrations.WithDefaultHeader("Notion-Version", "2022-06-28"),
	}
	if u := getenv("NOTION_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("notion", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "notion:", err)
		return 1
	}

	resp, err := client.Request(context.Background(), http.MethodGet, "/v1/users/me",
		httpadapter.Header("Authorization", "Bearer "+token))
	if err != nil {
		return report(stderr, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// Notion's errors: {"object": "error", "status": 401, "code": "unauthorized", "message": "..."}.
		var apiErr struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&apiErr)
		fmt.Fprintf(stderr, "notion: GET /v1/users/me: %s: %s (%s)\n", resp.Status, apiErr.Message, apiErr.Code)
		return 1
	}
	var me struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Bot  struct {
			WorkspaceName string `json:"workspace_name"`
		} `json:"bot"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil {
		fmt.Fprintln(stderr, "notion: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET /v1/users/me: %s\n", resp.Status)
	fmt.Fprintf(stdout, "user %s (%s, id %s) in workspace %q\n", me.Name, me.Type, me.ID, me.Bot.WorkspaceName)

	for _, s := range client.Snapshots() {
		fmt.Fprintf(stdout, "limiter %s: rate %.2f/s, burst %.0f, %.1f tokens left; %d granted, %d throttled\n",
			s.Name, s.Rate, s.Burst, s.Tokens, s.Counters.Granted, s.Counters.Throttled)
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "notion:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with Notion's limits.
		fmt.Fprintln(stderr, "notion: network error: Notion was not reached (its host name did not resolve, or the connection was refused): check NOTION_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not Notion's limits.
		fmt.Fprintf(stderr, "notion: network error: no answer from Notion after %d attempts: check NOTION_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500 && he.StatusCode != 529:
		// A 5xx other than Notion's throttle (529): Notion could not serve the call.
		fmt.Fprintf(stderr, "notion: Notion is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "notion: Notion is limiting this integration: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "notion: no answer within %s: check NOTION_BASE_URL and the network.\n", requestTimeout)
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
