package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/internal/simtest"
	"github.com/dynlimit/dynlimit/policy"
)

// 'dynlimit sim' alone plays S1 in full against the default and the
// baselines.
func TestSimDefault(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "sim")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "scenario S1-steady ") {
		t.Errorf("no scenario header:\n%s", stdout)
	}
	for _, st := range []string{"dynlimit", "fixed-10", "fixed-13", "naive-retry", "aws-adaptive", "cubic"} {
		if !hasRow(stdout, "S1-steady", st) {
			t.Errorf("no S1-steady row for %s:\n%s", st, stdout)
		}
	}
	// One line says what the baselines are, once.
	for _, want := range []string{"fixed-10 is told the true limit", "fixed-13 is told 30% too much",
		"naive-retry has no pacing", "aws-adaptive is the AWS SDK's adaptive algorithm, no cooldown on Retry-After",
		"cubic is policy.CUBIC: the AWS algorithm inside this library's limiter, Retry-After honoured as a cooldown"} {
		if n := strings.Count(stdout, want); n != 1 {
			t.Errorf("the output says %q %d times, want once:\n%s", want, n, stdout)
		}
	}
}

// Every name of a strategy selects it alone; the baselines line names only
// the baselines played.
func TestSimStrategyNames(t *testing.T) {
	for _, tc := range []struct{ policy, want string }{
		{"aws", "aws-adaptive"},
		{"aws-adaptive", "aws-adaptive"},
		{"naive-retry", "naive-retry"},
		{"fixed+30%", "fixed-13"},
		{"fixed+30", "fixed-13"},
		{"dynlimit", "dynlimit"},
		{"breaker", "dynlimit+breaker"},
		{"cubic", "cubic"},
	} {
		rs := simJSON(t, "--policy", tc.policy, "--duration", "10s")
		if len(rs) != 1 || rs[0].Strategy != tc.want {
			t.Errorf("--policy %s played %d strategies, want %s alone", tc.policy, len(rs), tc.want)
		}
	}
	code, stdout, stderr := dynlimit(t, "sim", "--policy", "default,aws", "--duration", "10s")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	var notes []string
	for line := range strings.Lines(stdout) {
		if strings.HasPrefix(line, "  baselines: ") {
			notes = append(notes, line)
		}
	}
	if len(notes) != 1 || strings.Contains(notes[0], "fixed") || !strings.Contains(notes[0], "aws-adaptive") {
		t.Errorf("baselines lines %q, want one naming aws-adaptive alone", notes)
	}
}

// hasRow reports whether out has simtest's summary row of a scenario and
// a strategy.
func hasRow(out, scenario, strategy string) bool {
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == scenario && f[1] == strategy && f[2] == "goodput" {
			return true
		}
	}
	return false
}

// Flags may follow the scenario; a profile's drops and raises are reported
// under the row.
func TestSimReactions(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "sim", "S2", "--policy", "default", "--duration", "5m")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	if !hasRow(stdout, "S2-step", "dynlimit") {
		t.Errorf("no row:\n%s", stdout)
	}
	for _, want := range []string{"drop at 2m0s", "raise at 4m0s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not mention %q:\n%s", want, stdout)
		}
	}
}

// A strategy with no rate to settle does not settle at once: its line
// counts the throttles after the drop instead of saying there were none.
func TestSimReactionsUnpaced(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "sim", "S2", "--policy", "naive", "--duration", "3m")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	rs := simJSON(t, "S2", "--policy", "naive", "--duration", "3m", "--trace")
	var after uint64
	for _, s := range rs[0].Trace {
		if s.T > 2*time.Minute {
			after += s.Throttled
		}
	}
	if after == 0 {
		t.Fatal("naive retries on S2: no throttle after the drop")
	}
	want := fmt.Sprintf("drop at 2m0s: no rate to settle, %d throttled after the drop", after)
	if !strings.Contains(stdout, want) || strings.Contains(stdout, "no throttle") {
		t.Errorf("output does not say %q, or says no throttle:\n%s", want, stdout)
	}
}

func TestDropReaction(t *testing.T) {
	for _, tc := range []struct {
		d    simtest.Drop
		want string
	}{
		{simtest.Drop{}, "no throttle"},
		{simtest.Drop{Throttled: 3}, "no throttle before settling, 3 after"},
		{simtest.Drop{Settle: 10 * time.Second, Episodes: 1, Throttled: 7}, "last throttle +10s, 1 episode"},
		{simtest.Drop{Settle: 90 * time.Second, Episodes: 2, Throttled: 700, Unpaced: true}, "no rate to settle, 700 throttled after the drop"},
		{simtest.Drop{Unpaced: true}, "no rate to settle, 0 throttled after the drop"},
	} {
		if got := dropReaction(tc.d); got != tc.want {
			t.Errorf("dropReaction(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// The baselines of a shared quota are each client's share of it.
func TestSimFixedShare(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "sim", "S3", "--duration", "30s", "--policy", "fixed,fixed:2:4")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	for _, st := range []string{"fixed-5", "fixed-2:4"} {
		if !hasRow(stdout, "S3-shared", st) {
			t.Errorf("no row for %s:\n%s", st, stdout)
		}
	}
}

func simJSON(t *testing.T, args ...string) []simtest.Result {
	t.Helper()
	code, stdout, stderr := dynlimit(t, append([]string{"sim", "--json"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	var rs []simtest.Result
	if err := json.Unmarshal([]byte(stdout), &rs); err != nil {
		t.Fatalf("output is not a JSON array of results: %v\n%s", err, stdout)
	}
	return rs
}

func TestSimJSON(t *testing.T) {
	rs := simJSON(t, "--duration", "30s")
	var names []string
	for _, r := range rs {
		names = append(names, r.Strategy)
		if r.Scenario != "S1-steady" || r.Sent == 0 {
			t.Errorf("result %+v: want S1-steady with requests sent", r)
		}
		if r.Trace != nil {
			t.Errorf("%s has a trace without --trace", r.Strategy)
		}
	}
	if got, want := strings.Join(names, " "), "dynlimit fixed-10 fixed-13 naive-retry aws-adaptive cubic"; got != want {
		t.Errorf("strategies = %s, want %s", got, want)
	}

	rs = simJSON(t, "--duration", "30s", "--trace", "--seed", "7", "--policy", "default")
	if len(rs) != 1 || rs[0].Seed != 7 {
		t.Fatalf("with --seed 7 --policy default: got %+v, want one result with seed 7", rs)
	}
	// One sample a second; the last second may end with the run.
	if n := len(rs[0].Trace); n < 29 || n > 30 {
		t.Errorf("with --trace over 30s: %d samples, want one a second", n)
	}
}

// The same command line prints the same bytes.
func TestSimDeterministic(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--json", "--trace", "S3", "--duration", "1m"},
		{"sim", "S2", "--duration", "1m"},
	} {
		_, first, _ := dynlimit(t, args...)
		_, second, _ := dynlimit(t, args...)
		if first == "" || first != second {
			t.Errorf("%s printed different output:\n%s\n---\n%s", strings.Join(args, " "), first, second)
		}
	}
}

// A scenario printed by 'scenarios --json' plays as the built-in does, a
// moving limit's too.
func TestSimScenarioFile(t *testing.T) {
	for _, name := range []string{"S2", "S8-moving-r2-p20"} {
		code, def, stderr := dynlimit(t, "scenarios", "--json", name)
		if code != exitOK {
			t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
		}
		path := writeFile(t, name+".json", def)
		fromFile := simJSON(t, "--scenario-file", path, "--duration", "1m")
		builtin := simJSON(t, name, "--duration", "1m")
		a, _ := json.Marshal(fromFile)
		b, _ := json.Marshal(builtin)
		if !bytes.Equal(a, b) {
			t.Errorf("the scenario from 'scenarios --json %s' played differently:\n%s\n%s", name, a, b)
		}
	}
}

// A policy file in either form plays as its parameters say, under its name.
func TestSimPolicyFile(t *testing.T) {
	bare := writeFile(t, "mine.json", `{"decrease_factor": 0.5, "increase_factor": 0.2}`)
	named := writeFile(t, "overrides.json", `{"fast": {"increase_factor": 0.2, "decrease_factor": 0.5}}`)

	a := simJSON(t, "--policy-file", bare, "--duration", "1m")
	b := simJSON(t, "--policy-file", named, "--duration", "1m")
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("--policy-file alone played %d and %d strategies, want 1", len(a), len(b))
	}
	if a[0].Strategy != "mine" || b[0].Strategy != "fast" {
		t.Errorf("strategies named %q and %q, want mine (the file) and fast (the entry)", a[0].Strategy, b[0].Strategy)
	}
	a[0].Strategy = b[0].Strategy
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Errorf("the two forms played differently:\n%s\n%s", ja, jb)
	}
	def := simJSON(t, "--policy", "default", "--duration", "1m")
	def[0].Strategy = b[0].Strategy
	if mustJSON(t, def) == mustJSON(t, b) {
		t.Error("the policy file played as the defaults: its parameters were not used")
	}

	// With --policy as well, both play.
	both := simJSON(t, "--policy-file", named, "--policy", "naive", "--duration", "30s")
	if len(both) != 2 || both[0].Strategy != "naive-retry" || both[1].Strategy != "fast" {
		t.Errorf("--policy naive --policy-file: got %d results, want naive-retry then fast", len(both))
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSimPlot(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		file  string
		check func(t *testing.T, b []byte)
	}{
		{"s1.svg", func(t *testing.T, b []byte) {
			if !bytes.HasPrefix(b, []byte("<?xml")) && !bytes.HasPrefix(b, []byte("<svg")) {
				t.Errorf("not an SVG document: %.80q", b)
			}
			for _, want := range []string{"S1-steady, dynlimit", "S1-steady, naive-retry", "hidden limit", "throttled/s"} {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("the SVG has no %q", want)
				}
			}
		}},
		{"s1.png", func(t *testing.T, b []byte) {
			if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
				t.Errorf("not a PNG image: %.16q", b)
			}
		}},
		{"s1.html", func(t *testing.T, b []byte) {
			s := string(b)
			if !strings.HasPrefix(s, "<!DOCTYPE html>") || !strings.Contains(s, "</html>") {
				t.Errorf("not an HTML page: %.80q", s)
			}
			if n := strings.Count(s, "<svg"); n != 6 {
				t.Errorf("the page has %d SVG charts, want 6, one a strategy", n)
			}
			if strings.Contains(s, "<?xml") {
				t.Error("the page carries an XML declaration inside its body")
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			code, stdout, stderr := dynlimit(t, "sim", "--duration", "1m", "--plot", path)
			if code != exitOK {
				t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
			}
			if !hasRow(stdout, "S1-steady", "dynlimit") {
				t.Errorf("no summary with --plot:\n%s", stdout)
			}
			if !strings.Contains(stderr, path) {
				t.Errorf("stderr does not say where the plot went: %q", stderr)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)
		})
	}
}

func TestThrottleScale(t *testing.T) {
	for _, tc := range []struct{ max, top, want float64 }{
		{5, 10, 1},
		{10, 10, 1},
		{15, 10, 2},
		{45, 10, 5},
		{90, 10, 10},
		{150, 10, 20},
		{4000, 10, 500},
	} {
		if got := throttleScale(tc.max, tc.top); got != tc.want {
			t.Errorf("throttleScale(%v, %v) = %v, want %v", tc.max, tc.top, got, tc.want)
		}
	}
}

// S8 plays the representative of its family, S8* the family in order, one
// table each.
func TestSimFamily(t *testing.T) {
	rs := simJSON(t, "S8", "--policy", "default", "--duration", "30s")
	if len(rs) != 1 || rs[0].Scenario != "S8-moving-r3-p40" {
		t.Fatalf("S8 played %d results, want S8-moving-r3-p40 alone", len(rs))
	}
	rs = simJSON(t, "S8*", "--policy", "default,naive", "--duration", "30s")
	var names []string
	for i := 0; i < len(rs); i += 2 {
		names = append(names, rs[i].Scenario)
		if rs[i].Strategy != "dynlimit" || rs[i+1].Strategy != "naive-retry" || rs[i+1].Scenario != rs[i].Scenario {
			t.Errorf("results %d and %d are %s/%s and %s/%s, want a scenario's dynlimit then naive-retry",
				i, i+1, rs[i].Scenario, rs[i].Strategy, rs[i+1].Scenario, rs[i+1].Strategy)
		}
	}
	var want []string
	for _, sc := range simtest.MovingLimits() {
		want = append(want, sc.Name)
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("S8* played %v, want %v", names, want)
	}
	code, stdout, stderr := dynlimit(t, "sim", "s8*", "--policy", "default", "--duration", "30s")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	if n := strings.Count(stdout, "scenario S8-moving-"); n != 12 {
		t.Errorf("%d tables, want 12:\n%s", n, stdout)
	}
}

// Every row says how long the clients took to 90 % of the limit from the
// start; many steps of the limit are summed up in one line.
func TestSimReactionsMany(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "sim", "S8", "--policy", "default,naive")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"start: 90% of the limit after ", "15 drops: last throttle +", "15 drops: no rate to settle, ", "14 raises: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not say %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "drop at") {
		t.Errorf("the drops are told one by one:\n%s", stdout)
	}
}

func TestStepSummaries(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		got, want string
	}{
		{dropsSummary(nil), "no drop"},
		{dropsSummary([]simtest.Drop{{Settle: 3 * s, Episodes: 1, Throttled: 4}, {Settle: 9 * s, Episodes: 2, Throttled: 5}, {}}),
			"3 drops: last throttle +3s median, +9s at most, 3 episodes, 9 throttled"},
		{dropsSummary([]simtest.Drop{{}, {Throttled: 2}}), "2 drops: no throttle before settling, 2 after"},
		{dropsSummary([]simtest.Drop{{}, {}}), "2 drops: no throttle"},
		{dropsSummary([]simtest.Drop{{Unpaced: true, Throttled: 5, Episodes: 1}, {Unpaced: true, Throttled: 6}}),
			"2 drops: no rate to settle, 11 throttled after them"},
		{raisesSummary(nil), "no raise"},
		{raisesSummary([]simtest.Raise{{To90: -1}, {To90: -1}}), "2 raises: never back to 90% of the new limit"},
		{raisesSummary([]simtest.Raise{{To90: 5 * s}, {To90: 20 * s}, {To90: 7 * s}}), "3 raises: 90% of the new limit after 7s median, 20s at most"},
		{raisesSummary([]simtest.Raise{{To90: 5 * s}, {To90: -1}, {To90: 8 * s}}), "3 raises: 90% of the new limit after 5s median, 8s at most, 1 never"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// A row ends with the requests sent inside a Retry-After, as the JSON
// counts them.
func TestSimInsideRetryAfter(t *testing.T) {
	args := []string{"--policy", "default,naive,aws", "--duration", "1m"}
	rs := simJSON(t, args...)
	code, stdout, stderr := dynlimit(t, append([]string{"sim"}, args...)...)
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	some := false
	for _, r := range rs {
		some = some || r.InsideRetryAfter > 0
		want := fmt.Sprintf("insideRA %5d", r.InsideRetryAfter)
		found := false
		for line := range strings.Lines(stdout) {
			if hasRow(line, r.Scenario, r.Strategy) {
				found = strings.HasSuffix(strings.TrimRight(line, "\n"), want)
			}
		}
		if !found {
			t.Errorf("no %s row ending in %q:\n%s", r.Strategy, want, stdout)
		}
	}
	if !some {
		t.Errorf("no strategy sent inside a Retry-After on S1, naive retries included: %+v", rs)
	}
}

// cubic plays DefaultCUBIC where its ceiling is above every limit, and
// says so where it lifts the ceiling.
func TestSimCUBIC(t *testing.T) {
	for _, name := range []string{"S1", "S7"} {
		sc, _ := simtest.ScenarioByName(name)
		code, stdout, stderr := dynlimit(t, "sim", name, "--policy", "cubic", "--duration", "10s")
		if code != exitOK {
			t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
		}
		if !hasRow(stdout, sc.Name, "cubic") {
			t.Errorf("no %s row for cubic:\n%s", sc.Name, stdout)
		}
		lifted := sc.PeakRate() > policy.DefaultCUBIC().MaxRate
		want := fmt.Sprintf("max_rate lifted to %g, twice the highest limit", 2*sc.PeakRate())
		if strings.Contains(stdout, want) != lifted || strings.Contains(stdout, "lifted") != lifted {
			t.Errorf("%s, highest limit %g, default max rate %g: lifted %v, but the output says:\n%s",
				sc.Name, sc.PeakRate(), policy.DefaultCUBIC().MaxRate, lifted, stdout)
		}
	}
}
