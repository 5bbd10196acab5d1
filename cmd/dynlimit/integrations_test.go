package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/integrations"
)

func TestIntegrationsListsAll(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "integrations")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 16 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("want a header and 15 rows:\n%s", stdout)
	}
	for i, name := range integrations.Names(integrations.Builtin()) {
		if f := strings.Fields(lines[i+1]); f[0] != name {
			t.Errorf("row %d is %q, want %s", i+1, lines[i+1], name)
		}
	}
	for _, want := range []string{
		"notion      https://api.notion.com     3       3      -         -          429,529",
		"slack       https://slack.com/api      0.333   1      method",
		"github      https://api.github.com     1.39    10     -         10         429",
		"shopify     -                          2       40     host",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("no row %q:\n%s", want, stdout)
		}
	}
	for line := range strings.Lines(stdout) {
		if strings.HasSuffix(strings.TrimSuffix(line, "\n"), " ") {
			t.Errorf("line ends in a space: %q", line)
		}
	}
}

// --json writes an override file that sets every field: read back over
// nothing, it gives the built-ins.
func TestIntegrationsJSONRoundTrips(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "integrations", "--json")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	o, err := integrations.LoadOverrides(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	got, err := integrations.Merge(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	want := integrations.Builtin()
	for n, c := range want {
		// Neither the sources nor the API-specific classifiers are part of
		// the JSON; read over nothing, the entries start from the default.
		c.Source, c.Classifier, c.KeyPolicy, c.Route, c.SecretPath = "", nil, nil, nil, nil
		want[n] = c
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestIntegrationsWithOverrides(t *testing.T) {
	file := writeFile(t, "o.json", `{"custom_api": {"base_url": "https://api.example.com", "rate_limit_per_sec": 2.0, "burst_size": 2.0},
		"notion": {"rate_limit_per_sec": 1.5}}`)
	code, stdout, stderr := dynlimit(t, "integrations", "--overrides", file, "custom_api", "notion")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	want := "NAME        BASE URL                 RATE/S  BURST  KEY  IN-FLIGHT  THROTTLE\n" +
		"custom_api  https://api.example.com  2       2      -    -          429\n" +
		"notion      https://api.notion.com   1.5     3      -    -          429,529\n"
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	code, stdout, _ = dynlimit(t, "integrations", "--overrides", file)
	if code != exitOK || strings.Count(stdout, "\n") != 17 {
		t.Errorf("with overrides, want 16 rows:\n%s", stdout)
	}
}

func TestValidateNamesEveryMistake(t *testing.T) {
	file := writeFile(t, "three.json", `{
  "notion": {"rate_limit_per_sec": -1, "burst_sise": 3},
  "slack": {"max_retries_on_backoff": "3"}
}`)
	code, stdout, stderr := dynlimit(t, "validate", file)
	if code != exitRuntime {
		t.Errorf("exit code = %d, want %d", code, exitRuntime)
	}
	want := []string{
		file + `: notion: rate_limit_per_sec = -1: must be a number > 0 and at most 1e6`,
		file + `: notion: burst_sise = 3: unknown field; did you mean "burst_size"?`,
		file + `: slack: max_retries_on_backoff = "3": must be a whole number`,
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, "3 problems") {
		t.Errorf("stderr = %q, want the count", stderr)
	}
}

func TestValidateOK(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{`{"custom_api": {"rate_limit_per_sec": 2.0, "burst_size": 2.0, "increase_factor": 0.1, "decrease_factor": 0.5,
			"min_rate": 0.1, "max_rate": 5.0, "cooldown_multiplier": 1.5}, "notion": {"max_retries_on_backoff": 5}}`,
			"; overrides notion; defines custom_api\n"},
		{`{}`, "; changes nothing\n"},
	} {
		file := writeFile(t, "ok.json", tc.content)
		code, stdout, stderr := dynlimit(t, "validate", file)
		if code != exitOK || stderr != "" {
			t.Errorf("exit code = %d, stderr %q", code, stderr)
		}
		if stdout != "ok: "+file+tc.want {
			t.Errorf("stdout = %q", stdout)
		}
	}
}

func TestSimIntegration(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "sim", "--integration", "notion", "--duration", "1m")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	if !hasRow(stdout, "S1-steady", "notion") || hasRow(stdout, "S1-steady", "dynlimit") {
		t.Errorf("want notion's row alone:\n%s", stdout)
	}

	// The override reaches the simulated limiter: capped at 1 request/s,
	// notion gets at most a tenth of S1's 10 requests/s.
	file := writeFile(t, "o.json", `{"notion": {"rate_limit_per_sec": 1, "max_rate": 1}}`)
	code, stdout, stderr = dynlimit(t, "sim", "--integration", "notion", "--overrides", file, "--duration", "1m", "--json")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	var rs []struct {
		Strategy string  `json:"strategy"`
		Goodput  float64 `json:"goodput"`
	}
	if err := json.Unmarshal([]byte(stdout), &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Strategy != "notion" || rs[0].Goodput > 0.11 {
		t.Errorf("results %+v, want notion's alone with a goodput of at most 11 %%", rs)
	}
	code, both, _ := dynlimit(t, "sim", "--integration", "github", "--policy", "default", "--duration", "1m")
	if code != exitOK || !hasRow(both, "S1-steady", "github") || !hasRow(both, "S1-steady", "dynlimit") {
		t.Errorf("--policy with --integration plays both:\n%s", both)
	}
}

func TestIntegrationErrors(t *testing.T) {
	bad := writeFile(t, "bad.json", `{"notion": {"decrease_factor": 2}}`)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown integration", []string{"integrations", "notoin"}, exitUsage, []string{`unknown integration "notoin"`, "airtable, anthropic"}},
		{"bad overrides", []string{"integrations", "--overrides", bad}, exitRuntime, []string{bad, "notion: decrease_factor = 2"}},
		{"validate no file", []string{"validate"}, exitUsage, []string{"want one override file"}},
		{"validate two files", []string{"validate", bad, bad}, exitUsage, []string{"got 2"}},
		{"validate missing file", []string{"validate", bad + ".missing"}, exitRuntime, []string{"no such file"}},
		{"sim unknown integration", []string{"sim", "--integration", "notoin"}, exitUsage, []string{`--integration unknown integration "notoin"`}},
		{"sim overrides alone", []string{"sim", "--overrides", bad}, exitUsage, []string{"--overrides needs --integration"}},
		{"sim bad overrides", []string{"sim", "--integration", "notion", "--overrides", bad}, exitRuntime, []string{"decrease_factor = 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := dynlimit(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
		})
	}
	for _, tc := range []struct{ args, want string }{
		{"integrations -h", "Usage: dynlimit integrations"},
		{"validate --help", "Usage: dynlimit validate"},
		{"help validate", "Usage: dynlimit validate"},
		{"-h", "integrations "},
	} {
		code, stdout, _ := dynlimit(t, strings.Fields(tc.args)...)
		if code != exitOK || !strings.Contains(stdout, tc.want) {
			t.Errorf("dynlimit %s: exit %d, want %q in:\n%s", tc.args, code, tc.want, stdout)
		}
	}
}
