package integrations_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/policy"
)

// originalExample is the override file of the original library's README.
const originalExample = `{
  "custom_api": {
    "rate_limit_per_sec": 2.0,
    "burst_size": 2.0,
    "increase_factor": 0.1,
    "decrease_factor": 0.5,
    "min_rate": 0.1,
    "max_rate": 5.0,
    "cooldown_multiplier": 1.5
  }
}`

func loadString(t *testing.T, s string) (integrations.Overrides, error) {
	t.Helper()
	return integrations.LoadOverrides(strings.NewReader(s))
}

func mustMerge(t *testing.T, s string) map[string]integrations.Config {
	t.Helper()
	o, err := loadString(t, s)
	if err != nil {
		t.Fatalf("LoadOverrides: %v", err)
	}
	m, err := integrations.Merge(integrations.Builtin(), o)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	return m
}

// The original format loads unchanged: the seven parameters as written, the
// rest from Default.
func TestOriginalFormatLoads(t *testing.T) {
	m := mustMerge(t, originalExample)
	got, ok := m["custom_api"]
	if !ok {
		t.Fatalf("no custom_api in %v", integrations.Names(m))
	}
	want := integrations.Default()
	want.Name = "custom_api"
	want.AIMD = policy.AIMD{
		Rate: 2, Burst: 2, IncreaseFactor: 0.1, DecreaseFactor: 0.5, MinRate: 0.1, MaxRate: 5,
		CooldownMultiplier: 1.5,
	}
	d := policy.DefaultAIMD()
	want.AIMD.SlowStart, want.AIMD.Recovery, want.AIMD.Probe, want.AIMD.Restart = d.SlowStart, d.Recovery, d.Probe, d.Restart
	if diff := cmp.Diff(want, got, sameFuncs); diff != "" {
		t.Errorf("custom_api (-want +got):\n%s", diff)
	}
	if len(m) != len(integrations.Builtin())+1 {
		t.Errorf("merged %d configs, want the %d built-ins and custom_api", len(m), len(integrations.Builtin()))
	}
}

// A partial override changes what it names and nothing else; hooks that
// JSON cannot carry survive it.
func TestPartialOverride(t *testing.T) {
	m := mustMerge(t, `{"notion": {"rate_limit_per_sec": 2, "max_retries_on_backoff": 5, "backoff_status_codes": []}}`)
	want, _ := integrations.Get("notion")
	want.AIMD.Rate = 2
	want.MaxRetriesOnBackoff = 5
	want.BackoffStatusCodes = []int{}
	if diff := cmp.Diff(want, m["notion"], sameFuncs); diff != "" {
		t.Errorf("notion (-want +got):\n%s", diff)
	}
	slack, _ := integrations.Get("slack")
	if diff := cmp.Diff(slack, m["slack"], sameFuncs); diff != "" {
		t.Errorf("slack changed (-want +got):\n%s", diff)
	}
}

func TestMergeKeepsHooksAndInputs(t *testing.T) {
	base := integrations.Builtin()
	gh := base["github"]
	gh.KeyFunc = func(*http.Request) string { return "k" }
	base["github"] = gh
	o, err := loadString(t, `{"github": {"max_in_flight": 5}, "new.api": {"base_url": "https://x.example"}}`)
	if err != nil {
		t.Fatal(err)
	}
	m, err := integrations.Merge(base, o)
	if err != nil {
		t.Fatal(err)
	}
	if m["github"].KeyFunc == nil || m["github"].MaxInFlight != 5 {
		t.Errorf("github = %+v, want the KeyFunc kept and max_in_flight 5", m["github"])
	}
	if base["github"].MaxInFlight != 10 {
		t.Errorf("Merge changed its base: max_in_flight = %d", base["github"].MaxInFlight)
	}
	if _, ok := base["new.api"]; ok {
		t.Error("Merge added to its base")
	}
	m["notion"].BackoffStatusCodes[0] = 400
	if base["notion"].BackoffStatusCodes[0] != 429 {
		t.Error("the merged configs share status lists with the base")
	}
	if got := m["new.api"]; got.Name != "new.api" || got.BaseURL != "https://x.example" || got.AIMD != policy.DefaultAIMD() {
		t.Errorf("new.api = %+v, want the defaults with its base URL", got)
	}
}

// Merge checks against the base it is given: an override that fits the
// built-in may not fit another base, and the reverse.
func TestMergeValidatesAgainstItsBase(t *testing.T) {
	o, err := loadString(t, `{"notion": {"rate_limit_per_sec": 5}}`)
	if err != nil {
		t.Fatal(err)
	}
	low := integrations.Builtin()
	n := low["notion"]
	n.AIMD.MaxRate = 4
	low["notion"] = n
	_, err = integrations.Merge(low, o)
	var e *integrations.Error
	if !errors.As(err, &e) || len(e.Problems) != 1 ||
		e.Problems[0].Field != "rate_limit_per_sec" || e.Problems[0].Value != "5" {
		t.Errorf("Merge over a base with max_rate 4 = %v, want rate_limit_per_sec = 5 named", err)
	}

	m, err := integrations.Merge(nil, o)
	if err != nil || len(m) != 1 || m["notion"].AIMD.Rate != 5 {
		t.Errorf("Merge(nil) = %v, %v; want notion alone, from the defaults", m, err)
	}
}

// Every problem is reported, each naming the integration, the field and the
// value as written, in the order of the file.
func TestLoadOverridesReportsEveryProblem(t *testing.T) {
	const file = `{
  "notion": {"rate_limit_per_sec": -1, "decrease_factr": 0.5, "max_rate": 2, "min_rate": 3},
  "slack": {"max_retries_on_backoff": "3", "backoff_status_codes": [429, 700], "key": "channel"},
  "Notion": {},
  "vanta": [1],
  "mine": {"base_url": "ftp://files.example", "max_wait_sec": 1e400, "max_in_flight": 2.5, "burst_size": null},
  "github": {"base_url": "https://user:secret@api.github.com", "overload_status_codes": "5xx"},
  "airtable": {"decrease_factor": 1, "decrease_factor": 0.5, "cooldown_multiplier": 1e9, "recovery_sec": 1e5}
}`
	_, err := loadString(t, file)
	var e *integrations.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *integrations.Error", err)
	}
	want := []integrations.Problem{
		{"notion", "rate_limit_per_sec", "-1", "must be a number > 0 and at most 1e6"},
		{"notion", "decrease_factr", "0.5", `unknown field; did you mean "decrease_factor"?`},
		{"notion", "min_rate", "3", "must be <= max_rate (2)"},
		{"slack", "max_retries_on_backoff", `"3"`, "must be a whole number"},
		{"slack", "backoff_status_codes", "700", "must hold HTTP error statuses, 400 to 599"},
		{"slack", "key", `"channel"`, `must be "", "method", "base", "endpoint" or "host"`},
		{"", "", `"Notion"`, `not a valid integration name: use 1 to 64 lower-case letters, digits, '_', '-' or '.', starting with a letter or a digit; did you mean "notion"?`},
		{"vanta", "", "[1]", "must be a JSON object of settings"},
		{"mine", "base_url", `"ftp://files.example"`, "must be an absolute http or https URL"},
		{"mine", "max_wait_sec", "1e400", "must be a number of seconds > 0 and at most 86400"},
		{"mine", "max_in_flight", "2.5", "must be a whole number"},
		{"mine", "burst_size", "null", "must be a number, not null"},
		// Quoted without the credentials that are the problem.
		{"github", "base_url", `"https://api.github.com"`, "must not carry credentials: send them in a header"},
		{"github", "overload_status_codes", `"5xx"`, "must be a list of HTTP statuses such as [429, 503]"},
		{"airtable", "decrease_factor", "0.5", "named twice; a JSON decoder would silently keep only one"},
		{"airtable", "cooldown_multiplier", "1e+09", "must be a number from 0 to 1000"},
		{"airtable", "recovery_sec", "100000", "must be a number of seconds from 0 to 86400"},
	}
	if diff := cmp.Diff(want, e.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[0], "integrations: 17 problems:") {
		t.Fatalf("Error() does not list the problems one per line:\n%s", err)
	}
	for i, p := range want {
		if got := strings.TrimSpace(lines[i+1]); got != p.String() {
			t.Errorf("line %d = %q, want %q", i+1, got, p.String())
		}
	}
}

func TestLoadOverridesFileErrors(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"empty", "  \n", "empty; want a JSON object of integrations, {} for none"},
		{"array", `[{"notion": {}}]`, "want a JSON object of integrations keyed by name"},
		{"syntax", "{\n  \"notion\": {\n    \"rate_limit_per_sec\": 2,,\n  }\n}", "line 3, column 29: invalid JSON"},
		{"truncated", `{"notion": {"rate_limit_per_sec": 2`, "invalid JSON"},
		{"trailing", `{"notion": {}} {}`, "invalid JSON"},
		{"stray brace", `{"notion": {}}}`, "invalid JSON"},
		{"duplicate", `{"notion": {}, "notion": {"burst_size": 2}}`, "notion: named twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.file)
			var e *integrations.Error
			if !errors.As(err, &e) || len(e.Problems) != 1 {
				t.Fatalf("err = %v, want one problem", err)
			}
			if !strings.Contains(e.Problems[0].String(), tt.want) {
				t.Errorf("problem = %q, want it to contain %q", e.Problems[0], tt.want)
			}
		})
	}
}

// A two-field rule is blamed on the field the entry sets: the user wrote
// min_rate, not notion's max_rate.
func TestCrossFieldBlame(t *testing.T) {
	tests := []struct {
		file  string
		field string
		value string
	}{
		{`{"notion": {"min_rate": 7}}`, "min_rate", "7"},                     // > max_rate 6 and > rate 3: one problem
		{`{"notion": {"max_rate": 2}}`, "max_rate", "2"},                     // < rate 3
		{`{"notion": {"rate_limit_per_sec": 9}}`, "rate_limit_per_sec", "9"}, // > max_rate 6
	}
	for _, tt := range tests {
		_, err := loadString(t, tt.file)
		var e *integrations.Error
		if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Field != tt.field || e.Problems[0].Value != tt.value {
			t.Errorf("%s: err = %v, want one problem on %s = %s", tt.file, err, tt.field, tt.value)
		}
	}
}

func TestLoadOverridesFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(good, []byte(originalExample), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(`{"notion": {"burst_size": 0}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := integrations.LoadOverridesFile(good)
	if err != nil || !cmp.Equal(o.Names(), []string{"custom_api"}) {
		t.Errorf("good file: %v, %v", o.Names(), err)
	}
	_, err = integrations.LoadOverridesFile(bad)
	var e *integrations.Error
	if !errors.As(err, &e) || e.File != bad || !strings.Contains(err.Error(), bad+": notion: burst_size = 0") {
		t.Errorf("bad file: err = %v, want the file and the problem named", err)
	}
	if _, err := integrations.LoadOverridesFile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}

func TestLoadOverridesTooLarge(t *testing.T) {
	big := `{"a": {"base_url": "https://x.example/` + strings.Repeat("a", 9<<20) + `"}}`
	_, err := loadString(t, big)
	var e *integrations.Error
	if !errors.As(err, &e) || !strings.Contains(err.Error(), "larger than 8 MiB") {
		t.Errorf("err = %v, want the size named", err)
	}
}

// What MarshalJSON writes, keyed by name, is an override file that sets
// every field: loading it over the built-ins changes nothing.
func TestMarshalRoundTrip(t *testing.T) {
	b := integrations.Builtin()
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	o, err := loadString(t, string(data))
	if err != nil {
		t.Fatalf("LoadOverrides of the built-ins: %v\n%s", err, data)
	}
	m, err := integrations.Merge(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range b {
		got := m[name]
		want.Source = ""      // not part of the JSON object
		want.Classifier = nil // nor are the hooks: Merge(nil, ...) starts from Default()
		want.KeyPolicy = nil
		want.Route = nil
		want.SecretPath = nil
		if diff := cmp.Diff(want, got, sameFuncs); diff != "" {
			t.Errorf("%s after a round trip (-want +got):\n%s", name, diff)
		}
	}
}

func TestUnmarshalJSON(t *testing.T) {
	c, _ := integrations.Get("airtable")
	if err := json.Unmarshal([]byte(`{"max_in_flight": 4, "key": ""}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.MaxInFlight != 4 || c.Key != "" || c.AIMD.Rate != 5 || c.MinRetryAfterSec != 30 {
		t.Errorf("airtable after a partial decode = %+v", c)
	}
	before := c
	err := json.Unmarshal([]byte(`{"max_in_flight": "4", "rate": 3}`), &c)
	var e *integrations.Error
	if !errors.As(err, &e) || len(e.Problems) != 2 {
		t.Errorf("err = %v, want two problems", err)
	}
	if !cmp.Equal(before, c, sameFuncs) {
		t.Error("a failed decode changed the Config")
	}
}

// A file of garbage gets a bounded list.
func TestLoadOverridesBoundsTheList(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"a": {`)
	for i := range 1500 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"f%d": 1`, i)
	}
	b.WriteString(`}}`)
	_, err := loadString(t, b.String())
	var e *integrations.Error
	if !errors.As(err, &e) || len(e.Problems) != 1001 || e.Problems[1000].Reason != "500 more problems not shown" {
		t.Fatalf("err has %d problems, want 1000 and a count of the rest", len(e.Problems))
	}
}

// An unknown field named by a huge key gets a short problem: no
// suggestion (no field name is within three edits of it), and the key cut
// in Field as the value is in Value.
func TestLoadOverridesHugeUnknownField(t *testing.T) {
	huge := strings.Repeat("k", 7<<20)
	long := strings.Repeat("é", 1<<20) // 2 MB: named twice, it stays under the size limit
	for _, tt := range []struct {
		name, file string
		problems   int
	}{
		{"unknown", `{"notion": {"` + huge + `": 1}}`, 1},
		{"unknown and named twice", `{"notion": {"` + long + `": 1, "` + long + `": 2}}`, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.file)
			var e *integrations.Error
			if !errors.As(err, &e) || len(e.Problems) != tt.problems {
				t.Fatalf("err = %.200v, want %d problems", err, tt.problems)
			}
			for _, p := range e.Problems {
				if len(p.Field) > 100 || !strings.HasSuffix(p.Field, "...") || !utf8.ValidString(p.Field) {
					t.Errorf("Field has %d bytes, want the key cut to under 100, marked as cut, still UTF-8", len(p.Field))
				}
				if strings.Contains(p.Reason, "did you mean") {
					t.Errorf("reason %q suggests a field for a key of megabytes", p.Reason)
				}
			}
			if n := len(err.Error()); n > 1<<10 {
				t.Errorf("the error has %d bytes, want under 1 KiB", n)
			}
			t.Logf("error of %d bytes: %.300s", len(err.Error()), err)
		})
	}

	// A key within reach of a field name still gets its suggestion.
	_, err := loadString(t, `{"notion": {"MAX_IN_FLIGHTS": 1}}`)
	if err == nil || !strings.Contains(err.Error(), `did you mean "max_in_flight"?`) {
		t.Errorf("err = %v, want the suggestion", err)
	}
}

// A byte order mark is named as such, not as an invalid character.
func TestLoadOverridesByteOrderMark(t *testing.T) {
	for _, tt := range []struct{ name, prefix, want string }{
		{"utf-8", "\xef\xbb\xbf", "starts with a UTF-8 byte order mark (EF BB BF); save the file as UTF-8 without it"},
		{"utf-16 LE", "\xff\xfe", "starts with a UTF-16 byte order mark; save the file as UTF-8 without a byte order mark"},
		{"utf-16 BE", "\xfe\xff", "starts with a UTF-16 byte order mark; save the file as UTF-8 without a byte order mark"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.prefix+`{"notion": {"rate_limit_per_sec": 2}}`)
			var e *integrations.Error
			if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Reason != tt.want {
				t.Errorf("err = %v, want one problem: %s", err, tt.want)
			}
		})
	}
}

// A number beyond what the decoder takes gets the range of its field.
func TestLoadOverridesNumbersOutOfRange(t *testing.T) {
	for _, tt := range []struct{ field, value, want string }{
		{"max_in_flight", "1e20", "must be a whole number from 0 (no cap) to 100000"},
		{"max_in_flight", "-5e9", "must be a whole number from 0 (no cap) to 100000"},
		{"max_retries_on_backoff", "1e309", "must be a whole number from 0 to 100"},
		{"max_retries_on_backoff", "2e9", "must be a whole number from 0 to 100"},
		{"max_wait_sec", "1e400", "must be a number of seconds > 0 and at most 86400"},
		{"decrease_factor", "-1e999", "must be in (0, 1)"},
		{"backoff_status_codes", "[429, 1e20]", "must be a list of HTTP error statuses, 400 to 599; 1e20 is out of range"},
		{"max_in_flight", "2.5", "must be a whole number"},
		{"max_in_flight", "1e-400", ""}, // underflows to 0, a whole number
	} {
		_, err := loadString(t, `{"mine": {"`+tt.field+`": `+tt.value+`}}`)
		var e *integrations.Error
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s = %s: err = %v, want none", tt.field, tt.value, err)
		case tt.want == "":
		case !errors.As(err, &e) || len(e.Problems) != 1:
			t.Errorf("%s = %s: err = %v, want one problem", tt.field, tt.value, err)
		case e.Problems[0] != (integrations.Problem{Integration: "mine", Field: tt.field, Value: strings.ReplaceAll(tt.value, " ", ""), Reason: tt.want}):
			t.Errorf("%s = %s: problem %#v, want reason %q", tt.field, tt.value, e.Problems[0], tt.want)
		}
	}
}
