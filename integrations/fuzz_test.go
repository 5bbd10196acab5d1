package integrations_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/integrations"
)

// FuzzLoadOverrides checks that no input makes the loader panic, that every
// rejection is an *integrations.Error or a read error with problems to show,
// and that whatever it accepts merges over the built-ins into configurations
// that all validate and that the policy accepts.
func FuzzLoadOverrides(f *testing.F) {
	// One built-in in full rather than all of them: the fuzzer minimizes
	// every new input it finds, and a small seed keeps that quick.
	gh, _ := integrations.Get("github")
	full, err := json.Marshal(map[string]integrations.Config{"github": gh})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		originalExample,
		string(full),
		`{}`,
		`{"notion": {"rate_limit_per_sec": 2}}`,
		`{"slack": {"key": "method", "backoff_status_codes": [429, 503], "max_in_flight": 3.0}}`,
		`{"mine": {"base_url": "https://api.example.com/v2", "min_rate": 1, "max_rate": 1, "rate_limit_per_sec": 1}}`,
		`{"notion": {"min_rate": 7}}`,
		`{"notion": {"rate_limit_per_sec": -1, "decrease_factr": 0.5}, "Notion": [], "x": {"key": null}}`,
		`{"a": {"slow_start_sec": 0, "recovery_sec": 86400, "probe_sec": 0, "restart_above": 1e6}}`,
		`{"notion": {"policy": "cubic", "beta": 0.5, "scale_constant": 1e6, "smooth": 0.99}}`,
		`{"notion": {"policy": "cubc", "smooth": 0.5}}`,
		`{"a": {"max_wait_sec": 1e308, "min_retry_after_sec": 1e-320}}`,
		`{"a": {}, "a": {}}`,
		`{"a": {"burst_size": 1}}}`,
		"{\"a\": {\"base_url\": \"https://\\u00e9.example\"}}",
		`[`,
		``,
		"\xef\xbb\xbf{}",
		"\xff\xfe{\x00}\x00",
		`{"a": {"` + strings.Repeat("k", 200) + `": 1, "max_in_flights": 2}}`,
		`{"a": {"max_in_flight": 1e20, "max_retries_on_backoff": 1e309, "max_wait_sec": -1e400}}`,
		`{"a": {"backoff_status_codes": [429, 1e20], "overload_status_codes": [-1e999]}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := integrations.LoadOverrides(bytes.NewReader(data))
		if err != nil {
			var e *integrations.Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("rejected with %T %v, want *integrations.Error with problems", err, err)
			}
			for _, p := range e.Problems {
				if p.Reason == "" {
					t.Errorf("problem without a reason: %#v", p)
				}
				if len(p.Field) > 64+len("...") {
					t.Errorf("Field of %d bytes, want it cut as Value is", len(p.Field))
				}
			}
			return
		}
		m, err := integrations.Merge(integrations.Builtin(), o)
		if err != nil {
			t.Fatalf("LoadOverrides accepted %q, Merge over the built-ins rejects it: %v", data, err)
		}
		for name, c := range m {
			if err := c.Validate(); err != nil {
				t.Errorf("%s: merged config invalid: %v", name, err)
			}
			if err := c.AIMD.Validate(); err != nil {
				t.Errorf("%s: merged policy invalid: %v", name, err)
			}
			if err := c.NewPolicy().Validate(); err != nil {
				t.Errorf("%s: merged %s policy invalid: %v", name, c.PolicyName, err)
			}
			if c.MaxWait() <= 0 {
				t.Errorf("%s: max wait %v", name, c.MaxWait())
			}
		}
		for _, name := range o.Names() {
			if _, ok := m[name]; !ok {
				t.Errorf("override %q missing from the merge", name)
			}
		}
	})
}
