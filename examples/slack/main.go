// Command slack makes one read-only call to the Slack Web API through a
// dynlimit client, auth.test (who the token belongs to), and prints the
// answer with the state of the limiter that paced the call.
//
//	SLACK_TOKEN=xoxb-... go run ./examples/slack
//
// Get a bot token from your app's OAuth & Permissions page at
// https://api.slack.com/apps (Bot User OAuth Token, xoxb-...); auth.test
// needs no scope. SLACK_BASE_URL replaces https://slack.com/api (a proxy, a
// test server).
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
	"sync"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

// requestTimeout bounds the call, waits for the limiter and retries
// included: a throttle that asks for a longer pause (Slack's Retry-After,
// or a minute when it sends none) fails at once and says when to try again.
const requestTimeout = 20 * time.Second

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token := getenv("SLACK_TOKEN")
	if token == "" {
		fmt.Fprintln(stdout, "slack: set SLACK_TOKEN to a Slack token to run this example.")
		fmt.Fprintln(stdout, "Copy your app's Bot User OAuth Token (xoxb-...) from OAuth & Permissions at https://api.slack.com/apps.")
		return 0
	}

	// Slack limits each method on its own, so the client keeps one limiter
	// per method, out of the client's reach: an observer is how to see it.
	var (
		mu   sync.Mutex
		last dynlimit.Event
	)
	observer := dynlimit.ObserverFunc(func(e dynlimit.Event) {
		if e.Kind == dynlimit.EventOutcome {
			mu.Lock()
			last = e
			mu.Unlock()
		}
	})
	opts := []integrations.Option{
		integrations.WithHTTPClientTimeout(requestTimeout),
		integrations.WithLimiterOptions(dynlimit.WithObserver(observer)),
	}
	if u := getenv("SLACK_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("slack", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "slack:", err)
		return 1
	}

	// GET rather than Slack's usual POST: auth.test changes nothing, and
	// the client retries a throttled GET but not a POST.
	resp, err := client.Request(context.Background(), http.MethodGet, "/auth.test",
		httpadapter.Header("Authorization", "Bearer "+token))
	if err != nil {
		return report(stderr, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		fmt.Fprintf(stderr, "slack: auth.test: %s: %s\n", resp.Status, body)
		return 1
	}
	// Slack answers 200 to every call it processed; whether the call
	// succeeded is in "ok", and why not in "error".
	var who struct {
		OK     bool   `json:"ok"`
		Error  string `json:"error"`
		URL    string `json:"url"`
		Team   string `json:"team"`
		User   string `json:"user"`
		TeamID string `json:"team_id"`
		UserID string `json:"user_id"`
		BotID  string `json:"bot_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil {
		fmt.Fprintln(stderr, "slack: reading the response:", err)
		return 1
	}
	if !who.OK {
		fmt.Fprintf(stderr, "slack: auth.test: %s\n", who.Error)
		if who.Error == "invalid_auth" || who.Error == "not_authed" || who.Error == "token_revoked" {
			fmt.Fprintln(stderr, "slack: SLACK_TOKEN is not a valid token: copy it again from https://api.slack.com/apps.")
		}
		return 1
	}
	fmt.Fprintf(stdout, "auth.test: %s, ok\n", resp.Status)
	fmt.Fprintf(stdout, "user %s (%s) in team %s (%s), %s\n", who.User, who.UserID, who.Team, who.TeamID, who.URL)
	if who.BotID != "" {
		fmt.Fprintf(stdout, "bot %s\n", who.BotID)
	}

	mu.Lock()
	e := last
	mu.Unlock()
	if e.Limiter != "" {
		fmt.Fprintf(stdout, "limiter for method %s: rate %.0f/min, burst %.0f, %d slowdowns so far\n",
			e.Limiter, e.State.Rate*60, e.State.Burst, e.State.Epoch)
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "slack:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with Slack's limits.
		fmt.Fprintln(stderr, "slack: network error: Slack was not reached (its host name did not resolve, or the connection was refused): check SLACK_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not Slack's limits.
		fmt.Fprintf(stderr, "slack: network error: no answer from Slack after %d attempts: check SLACK_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500:
		// A 5xx: Slack could not serve the call.
		fmt.Fprintf(stderr, "slack: Slack is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "slack: Slack is limiting this app on auth.test: try again %s.\n", later(he.RetryAt))
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "slack: no answer within %s: check SLACK_BASE_URL and the network.\n", requestTimeout)
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
