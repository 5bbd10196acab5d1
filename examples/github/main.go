// Command github makes one read-only call to the GitHub REST API through a
// dynlimit client, GET /user (who the token belongs to), and prints the
// answer, GitHub's rate-limit headers and the state of the limiter that
// paced the call.
//
//	GITHUB_TOKEN=github_pat_... go run ./examples/github
//
// Make a fine-grained personal access token at
// https://github.com/settings/personal-access-tokens (GET /user needs no
// permission), or use `gh auth token`. GITHUB_BASE_URL replaces
// https://api.github.com (https://HOST/api/v3 for GitHub Enterprise Server,
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
	"strconv"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

// requestTimeout bounds the call, waits for the limiter and retries
// included: a throttle that asks for a longer pause (a secondary limit's
// minute, an exhausted primary limit's hour) fails at once and says when to
// try again.
const requestTimeout = 20 * time.Second

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token := getenv("GITHUB_TOKEN")
	if token == "" {
		fmt.Fprintln(stdout, "github: set GITHUB_TOKEN to a GitHub token to run this example.")
		fmt.Fprintln(stdout, "Make a fine-grained personal access token at https://github.com/settings/personal-access-tokens,")
		fmt.Fprintln(stdout, "or use the GitHub CLI's: GITHUB_TOKEN=$(gh auth token).")
		return 0
	}

	opts := []integrations.Option{
		integrations.WithHTTPClientTimeout(requestTimeout),
		integrations.WithDefaultHeader("Accept", "application/vnd.github+json"),
		// Pinning the version keeps the answer's shape from changing under
		// the program.
		integrations.WithDefaultHeader("X-GitHub-Api-Version", "2022-11-28"),
		// GitHub refuses requests without a User-Agent and asks that it
		// name the application.
		integrations.WithDefaultHeader("User-Agent", "dynlimit-example-github"),
	}
	if u := getenv("GITHUB_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("github", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "github:", err)
		return 1
	}

	resp, err := client.Request(context.Background(), http.MethodGet, "/user",
		httpadapter.Header("Authorization", "Bearer "+token))
	if err != nil {
		return report(stderr, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// GitHub's errors: {"message": "Bad credentials", "documentation_url": "..."}.
		var apiErr struct {
			Message string `json:"message"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&apiErr)
		fmt.Fprintf(stderr, "github: GET /user: %s: %s\n", resp.Status, apiErr.Message)
		return 1
	}
	var user struct {
		Login       string `json:"login"`
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		PublicRepos int    `json:"public_repos"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&user); err != nil {
		fmt.Fprintln(stderr, "github: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET /user: %s\n", resp.Status)
	fmt.Fprintf(stdout, "user %s (%s, id %d), %d public repositories\n", user.Login, user.Name, user.ID, user.PublicRepos)

	// The primary limit, as GitHub counts it; reset is a Unix time.
	h := resp.Header
	if h.Get("X-Ratelimit-Limit") != "" {
		reset := h.Get("X-Ratelimit-Reset")
		if sec, err := strconv.ParseInt(reset, 10, 64); err == nil {
			reset = time.Unix(sec, 0).Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "rate limit (%s): %s of %s left, %s used, resets at %s\n", h.Get("X-Ratelimit-Resource"),
			h.Get("X-Ratelimit-Remaining"), h.Get("X-Ratelimit-Limit"), h.Get("X-Ratelimit-Used"), reset)
	}

	for _, s := range client.Snapshots() {
		fmt.Fprintf(stdout, "limiter %s: rate %.2f/s, burst %.0f, %.1f tokens left, at most %d in flight; %d granted, %d throttled\n",
			s.Name, s.Rate, s.Burst, s.Tokens, s.MaxInFlight, s.Counters.Granted, s.Counters.Throttled)
		if s.QuotaRate > 0 {
			// GitHub's remaining quota spread over the time to its reset:
			// the limiter holds to it whenever it is below the rate.
			fmt.Fprintf(stdout, "limiter %s: the remaining quota allows %.2f/s until %s\n",
				s.Name, s.QuotaRate, s.QuotaUntil.Format(time.RFC3339))
		}
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "github:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with GitHub's limits.
		fmt.Fprintln(stderr, "github: network error: GitHub was not reached (its host name did not resolve, or the connection was refused): check GITHUB_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not GitHub's limits.
		fmt.Fprintf(stderr, "github: network error: no answer from GitHub after %d attempts: check GITHUB_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500:
		// A 5xx: GitHub could not serve the call.
		fmt.Fprintf(stderr, "github: GitHub is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "github: GitHub is limiting this token: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "github: no answer within %s: check GITHUB_BASE_URL and the network.\n", requestTimeout)
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
