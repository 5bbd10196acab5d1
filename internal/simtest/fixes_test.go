package simtest

import (
	"strings"
	"testing"
	"time"
)

func TestParseScenarioRejectsTrailingJunk(t *testing.T) {
	for _, tail := range []string{" xyz", "}", "]", ",", " {}"} {
		_, err := ParseScenario([]byte(`{"name": "x", "duration": "1m", "upstream": {"rate": 2}}` + tail))
		if err == nil || !strings.Contains(err.Error(), "data after the JSON object") {
			t.Errorf("trailing %q: %v, want an error about data after the object", tail, err)
		}
	}
}

func TestScenarioBoundsKeepTimeFinite(t *testing.T) {
	base := `{"name": "x", "duration": "1m", "upstream": {%s}}`
	for _, tc := range []struct{ upstream, field string }{
		{`"rate": 1e-10`, "upstream.rate"},
		{`"rate": 1e9`, "upstream.rate"},
		{`"rate": 2, "retry_after": "2562047h"`, "upstream.retry_after"},
		{`"rate": 2, "penalty": "200h"`, "upstream.penalty"},
		{`"rate": 2, "latency": {"mean": "2562047h"}`, "upstream.latency"},
		{`"model": "fixed_window", "limit": 5, "window": "1ns"`, "upstream.window"},
	} {
		_, err := ParseScenario([]byte(strings.Replace(base, "%s", tc.upstream, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %s", tc.upstream, err, tc.field)
		}
	}
}

// max_retries -1 means never: every throttle fails for the caller.
func TestNeverRetry(t *testing.T) {
	sc, _ := ScenarioByName("S1")
	sc.Duration = Duration(time.Minute)
	sc.Clients.MaxRetries = -1
	r, err := Run(sc, Default())
	if err != nil {
		t.Fatal(err)
	}
	if r.Throttled == 0 || r.Failed != r.Throttled+r.Overloaded {
		t.Errorf("%d throttled, %d overloaded, %d failed; want every one of them failed", r.Throttled, r.Overloaded, r.Failed)
	}
}

func TestOverlappingOutagesAreRejected(t *testing.T) {
	_, err := ParseScenario([]byte(`{"name": "x", "duration": "1m", "upstream": {"rate": 2,
		"outages": [{"from": "10s", "to": "20s"}, {"from": "15s", "to": "25s"}]}}`))
	if err == nil || !strings.Contains(err.Error(), "upstream.outages[1]") {
		t.Errorf("overlapping outages: %v, want an error naming upstream.outages[1]", err)
	}
}
