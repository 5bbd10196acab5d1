// Command vanta makes one read-only call to the Vanta API through a dynlimit
// client, listing the first three of the organization's tests, and prints
// them with the state of the limiter that paced the call.
//
//	VANTA_TOKEN=vat_... go run ./examples/vanta
//
// VANTA_TOKEN is an OAuth access token: create an application in Vanta's
// developer console and exchange its client ID and secret at
// https://api.vanta.com/oauth/token (grant_type client_credentials, scope
// vanta-api.all:read). That endpoint allows 5 requests a minute for all of
// Vanta's APIs together, so reuse a token until it expires. VANTA_BASE_URL
// replaces https://api.vanta.com (https://api.vanta-gov.com for Vanta Gov,
// a test server).
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
// included: Vanta's limits are counted per minute, and a throttle that asks
// for a longer pause fails at once and says when to try again.
const requestTimeout = 20 * time.Second

// path is a sample read: GET /v1/tests lists the automated checks Vanta
// runs, and is readable with the vanta-api.all:read scope. Any other list
// endpoint (/v1/people, /v1/vendors) has the same results.data shape.
const path = "/v1/tests?pageSize=3"

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token := getenv("VANTA_TOKEN")
	if token == "" {
		fmt.Fprintln(stdout, "vanta: set VANTA_TOKEN to an OAuth access token to run this example.")
		fmt.Fprintln(stdout, "Create an application in Vanta's developer console, then POST its client ID and secret to")
		fmt.Fprintln(stdout, "https://api.vanta.com/oauth/token with grant_type=client_credentials and scope=vanta-api.all:read.")
		return 0
	}

	opts := []integrations.Option{integrations.WithHTTPClientTimeout(requestTimeout)}
	if u := getenv("VANTA_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("vanta", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "vanta:", err)
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
		// A 401 right after a token refresh is expected: a new token
		// revokes the old one, even for requests already sent.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(stderr, "vanta: GET %s: %s: %s\n", path, resp.Status, body)
		if resp.StatusCode == http.StatusUnauthorized {
			fmt.Fprintln(stderr, "vanta: the token is invalid or expired: get a new one from /oauth/token.")
		}
		return 1
	}
	var page struct {
		Results struct {
			Data []struct {
				ID     string `json:"id"`
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"data"`
			PageInfo struct {
				HasNextPage bool `json:"hasNextPage"`
			} `json:"pageInfo"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		fmt.Fprintln(stderr, "vanta: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET %s: %s, %d tests (more: %t)\n", path, resp.Status, len(page.Results.Data), page.Results.PageInfo.HasNextPage)
	for _, t := range page.Results.Data {
		fmt.Fprintf(stdout, "  %-16s %s (%s)\n", t.Status, t.Name, t.ID)
	}

	for _, s := range client.Snapshots() {
		fmt.Fprintf(stdout, "limiter %s: rate %.2f/min, burst %.0f, %.1f tokens left; %d granted, %d throttled\n",
			s.Name, s.Rate*60, s.Burst, s.Tokens, s.Counters.Granted, s.Counters.Throttled)
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "vanta:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with Vanta's limits.
		fmt.Fprintln(stderr, "vanta: network error: Vanta was not reached (its host name did not resolve, or the connection was refused): check VANTA_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not Vanta's limits.
		fmt.Fprintf(stderr, "vanta: network error: no answer from Vanta after %d attempts: check VANTA_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500:
		// A 5xx: Vanta could not serve the call.
		fmt.Fprintf(stderr, "vanta: Vanta is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		// Vanta sends no Retry-After; its limits are per minute.
		fmt.Fprintf(stderr, "vanta: Vanta is limiting this application: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "vanta: no answer within %s: check VANTA_BASE_URL and the network.\n", requestTimeout)
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
