package httpadapter_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/httpadapter"
)

// A base RoundTripper that wraps an http.Client returns a *url.Error that
// quotes the whole URL. The Transport passes on its cause, not the URL:
// neither the error the caller gets nor any field of the event holds the
// query, the user info or a secret path segment.
func TestABaseURLErrorIsRedacted(t *testing.T) {
	const canary = "CANARYqzwxrtpCANARY"
	cause := errors.New("upstream went away")
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return nil, &url.Error{Op: "Get", URL: r.URL.String(), Err: cause}
	})
	var events []httpadapter.RequestEvent
	rt := newTransport(t, base, newLimiter(t, steady), httpadapter.WithMaxRetries(0),
		httpadapter.WithOnRequest(func(ev httpadapter.RequestEvent) { events = append(events, ev) }))
	req := get(t, context.Background(), "https://user:"+canary+"@api.example.com/v1/hooks/"+canary+"?api_key="+canary)
	resp, err := rt.RoundTrip(req)
	closeBody(resp)
	if err == nil || !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the base's cause", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Fatalf("err = %T, want a *url.Error still", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("err = %q holds the secret", err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	if s := fmt.Sprintf("%+v", events[0]); strings.Contains(s, canary) {
		t.Errorf("event %s holds the secret", s)
	}
}
