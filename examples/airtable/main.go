// Command airtable makes one read-only call to the Airtable Web API through
// a dynlimit client, reading the first three records of a table, and prints
// them with the state of the limiter that paced the call.
//
//	AIRTABLE_TOKEN=pat... AIRTABLE_BASE_ID=app... go run ./examples/airtable
//
// Make a personal access token at https://airtable.com/create/tokens with
// the data.records:read scope and access to the base; the base ID is the
// app... part of the base's URL. AIRTABLE_TABLE names the table (default
// "Table 1", a new base's first table). AIRTABLE_BASE_URL replaces
// https://api.airtable.com (a proxy, a test server).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/dynlimit/dynlimit"
	"github.com/dynlimit/dynlimit/httpadapter"
	"github.com/dynlimit/dynlimit/integrations"
)

// requestTimeout bounds the call, waits for the limiter and retries
// included. It is shorter than the 30 s of silence Airtable imposes after a
// 429, so a throttled call fails at once and says when to try again rather
// than holding the terminal.
const requestTimeout = 20 * time.Second

func main() { os.Exit(run(os.Getenv, os.Stdout, os.Stderr)) }

func run(getenv func(string) string, stdout, stderr io.Writer) int {
	token, base := getenv("AIRTABLE_TOKEN"), getenv("AIRTABLE_BASE_ID")
	if token == "" || base == "" {
		fmt.Fprintln(stdout, "airtable: set AIRTABLE_TOKEN and AIRTABLE_BASE_ID to run this example (AIRTABLE_TABLE: default \"Table 1\").")
		fmt.Fprintln(stdout, "Make a personal access token with the data.records:read scope at https://airtable.com/create/tokens;")
		fmt.Fprintln(stdout, "the base ID is the app... part of the base's URL.")
		return 0
	}
	table := getenv("AIRTABLE_TABLE")
	if table == "" {
		table = "Table 1"
	}

	// Airtable's limit is per base, so the client keeps one limiter per
	// base, out of the client's reach: an observer is how to see it.
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
	if u := getenv("AIRTABLE_BASE_URL"); u != "" {
		opts = append(opts, integrations.WithBaseURL(u))
	}
	client, err := integrations.NewClient("airtable", opts...)
	if err != nil {
		fmt.Fprintln(stderr, "airtable:", err)
		return 1
	}

	path := "/v0/" + url.PathEscape(base) + "/" + url.PathEscape(table)
	resp, err := client.Request(context.Background(), http.MethodGet, path,
		httpadapter.Query(url.Values{"maxRecords": {"3"}}),
		httpadapter.Header("Authorization", "Bearer "+token))
	if err != nil {
		return report(stderr, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		// Airtable's errors: {"error": {"type": "...", "message": "..."}},
		// or {"error": "NOT_FOUND"} for a base or table it does not know.
		var apiErr struct {
			Error json.RawMessage `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&apiErr)
		fmt.Fprintf(stderr, "airtable: GET %s: %s: %s\n", path, resp.Status, apiErr.Error)
		return 1
	}
	var page struct {
		Records []struct {
			ID          string         `json:"id"`
			CreatedTime string         `json:"createdTime"`
			Fields      map[string]any `json:"fields"`
		} `json:"records"`
		Offset string `json:"offset"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		fmt.Fprintln(stderr, "airtable: reading the response:", err)
		return 1
	}
	fmt.Fprintf(stdout, "GET %s: %s, %d records (more: %t)\n", path, resp.Status, len(page.Records), page.Offset != "")
	for _, r := range page.Records {
		fmt.Fprintf(stdout, "  %s created %s, %d fields\n", r.ID, r.CreatedTime, len(r.Fields))
	}

	mu.Lock()
	e := last
	mu.Unlock()
	if e.Limiter != "" {
		fmt.Fprintf(stdout, "limiter for base %s: rate %.2f/s, burst %.0f, %d slowdowns so far\n",
			e.Limiter, e.State.Rate, e.State.Burst, e.State.Epoch)
	}
	return 0
}

// report explains a failed call and returns the exit code. The error never
// holds the token: httpadapter.Error strips the query from the URL, and no
// error carries request headers.
func report(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "airtable:", err)
	var he *httpadapter.Error
	var we *dynlimit.WaitError
	var ne net.Error
	switch {
	case errors.Is(err, httpadapter.ErrUnreachable):
		// No request left this machine: nothing to do with Airtable's limits.
		fmt.Fprintln(stderr, "airtable: network error: Airtable was not reached (its host name did not resolve, or the connection was refused): check AIRTABLE_BASE_URL, DNS and the network.")
	case errors.As(err, &he) && he.StatusCode == 0 && !errors.As(err, &we):
		// The last attempt got no answer at all (a connection reset, a TLS
		// failure, a timeout): the network failed, not Airtable's limits.
		fmt.Fprintf(stderr, "airtable: network error: no answer from Airtable after %d attempts: check AIRTABLE_BASE_URL and the network.\n", he.Attempts)
	case errors.As(err, &he) && he.StatusCode >= 500:
		// A 5xx: Airtable could not serve the call.
		fmt.Fprintf(stderr, "airtable: Airtable is overloaded (last status %d): try again %s.\n", he.StatusCode, later(he.RetryAt))
	case errors.As(err, &he) && !he.RetryAt.IsZero():
		// Every call before then is refused too, and restarts the wait.
		fmt.Fprintf(stderr, "airtable: Airtable is limiting this base: make no call before %s (in %s).\n",
			he.RetryAt.Format(time.RFC3339), time.Until(he.RetryAt).Round(time.Second))
	case errors.As(err, &he):
		fmt.Fprintln(stderr, "airtable: Airtable is limiting this base: try again in a minute.")
	case errors.As(err, &ne) && ne.Timeout():
		fmt.Fprintf(stderr, "airtable: no answer within %s: check AIRTABLE_BASE_URL and the network.\n", requestTimeout)
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
