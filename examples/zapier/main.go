// Command zapier makes one read-only call to Zapier's Workflow API through a
// dynlimit client, listing the first three Zaps of the token's user, and
// prints them with the state of the limiter that paced the call.
//
//	ZAPIER_TOKEN=... ZAPIER_BASE_URL=https://api.zapier.com go run ./examples/zapier
//
// ZAPIER_TOKEN is an OAuth access token of the Workflow API with the zap
// scope, obtained through the OAuth flow of your integration (its client ID
// is under Embed in Zapier's developer platform). The built-in Zapier
// configuration has no base URL, so ZAPIER_BASE_URL is required:
// https://api.zapier.com for the Workflow API, or a proxy or test server.
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
// included. It is shorter than the 60 s cooldown Zapier imposes after a
// 429, so a throttled call fails at once and says when to try again rather
// than holding the terminal.
const requestTimeout = 20 * time.Second

// path is a sample read: GET /v2/zaps lists the Zaps of the token's user
// (scope zap).
const path = "/v2/zaps?limit=3"

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token, baseURL := getenv("ZAPIER_TOKEN"), getenv("ZAPIER_BASE_URL")
	if token == "" || baseURL == "" {
		fmt.Fprintln(stdout, "zapier: set ZAPIER_TOKEN and ZAPIER_BASE_URL to run this example.")
		fmt.Fprintln(stdout, "ZAPIER_TOKEN is a Workflow API OAuth access token with the zap scope (your integration's client ID")
		fmt.Fprintln(stdout, "is under Embed in Zapier's developer platform); ZAPIER_BASE_URL is https://api.zapier.com for that API.")
		return 0
	}

	client, err := integrations.NewClient("zapier",
		integrations.WithBaseURL(baseURL),
		integrations.WithHTTPClientTimeout(requestTimeout))
	if err != nil {
		fmt.Fprintln(stderr, "zapier:", err)
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
		fmt.Fprintf(stderr, "zapier: GET %s: %s: %s\n", path, resp.Status, body)
		return 1
	}
	var page struct {
		Data []struct {
			ID        string `json:"id"`
			Title     string `json:"title"`
			IsEnabled bool   `json:"is_enabled"`
		} `json:"data"`
		Meta struct {
			Count int `json:"count"`
		} `json:"meta"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		fmt.Fprintln(stderr, "zapier: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET %s: %s, %d of %d Zaps\n", path, resp.Status, len(page.Data), page.Meta.Count)
	for _, z := range page.Data {
		state := "off"
		if z.IsEnabled {
			state = "on"
		}
		fmt.Fprintf(stdout, "  %-3s %s (%s)\n", state, z.Title, z.ID)
	}

	for _, s := range client.Snapshots() {
		fmt.Fprintf(stdout, "limiter %s: rate %.0f/min, burst %.0f, %.1f tokens left; %d granted, %d throttled\n",
			s.Name, s.Rate*60, s.Burst, s.Tokens, s.Counters.Granted, s.Counters.Throttled)
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "zapier:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with Zapier's limits.
		fmt.Fprintln(stderr, "zapier: network error: Zapier was not reached (its host name did not resolve, or the connection was refused): check ZAPIER_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not Zapier's limits.
		fmt.Fprintf(stderr, "zapier: network error: no answer from Zapier after %d attempts: check ZAPIER_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500:
		// A 5xx: Zapier could not serve the call.
		fmt.Fprintf(stderr, "zapier: Zapier is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		// Zapier counts per IP: another program on this machine may have
		// spent the minute's calls.
		fmt.Fprintf(stderr, "zapier: Zapier is limiting this IP or partner: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "zapier: no answer within %s: check ZAPIER_BASE_URL and the network.\n", requestTimeout)
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
