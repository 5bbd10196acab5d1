package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/policy"
)

// The winner file is in the overrides format, holds every parameter, and
// loads back with policy.ParseAIMD and with sim --policy-file.
func TestTuneWritesWinner(t *testing.T) {
	out := filepath.Join(t.TempDir(), "winner.json")
	code, stdout, stderr := dynlimit(t, "tune", "S1", "--duration", "30s",
		"--increase", "0.05,0.2", "--decrease", "0.5,0.8", "--out", out, "--name", "notion")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	// 2 × 2 configurations and the start (the defaults, not in the grid).
	if !strings.Contains(stderr, "5/5") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	for _, want := range []string{"Pareto front", "increase_factor", "decrease_factor", "winner (", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not mention %q:\n%s", want, stdout)
		}
	}
	if !hasRow(stdout, "S1-steady", "notion") {
		t.Errorf("no summary of the winner:\n%s", stdout)
	}

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatalf("winner file: %v\n%s", err, data)
	}
	if len(top) != 1 || top["notion"] == nil {
		t.Fatalf("winner file has entries %v, want one named notion", slices.Sorted(maps.Keys(top)))
	}
	for _, f := range aimdFields() {
		if _, ok := top["notion"][f]; !ok {
			t.Errorf("winner file lacks %s:\n%s", f, data)
		}
	}
	entry, err := json.Marshal(top["notion"])
	if err != nil {
		t.Fatal(err)
	}
	a, err := policy.ParseAIMD(entry)
	if err != nil {
		t.Fatalf("policy.ParseAIMD(the entry): %v", err)
	}
	if !slices.Contains([]float64{0.05, 0.2, policy.DefaultAIMD().IncreaseFactor}, a.IncreaseFactor) ||
		!slices.Contains([]float64{0.5, 0.8, policy.DefaultAIMD().DecreaseFactor}, a.DecreaseFactor) {
		t.Errorf("winner %+v is not from the grid", a)
	}
	name, b, err := loadPolicy(out)
	if err != nil || name != "notion" {
		t.Fatalf("loadPolicy = %q, %v; want notion", name, err)
	}
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("loadPolicy and ParseAIMD disagree (-ParseAIMD +loadPolicy):\n%s", d)
	}

	code, stdout, stderr = dynlimit(t, "sim", "--policy-file", out, "--duration", "30s")
	if code != exitOK || !hasRow(stdout, "S1-steady", "notion") {
		t.Errorf("sim --policy-file winner.json: exit code %d\n%s%s", code, stdout, stderr)
	}
}

func TestMarshalPolicyRoundTrip(t *testing.T) {
	want := policy.DefaultAIMD()
	want.IncreaseFactor, want.DecreaseFactor, want.Rate = 0.37, 0.81, 2.5
	b, err := marshalPolicy("x", want)
	if err != nil {
		t.Fatal(err)
	}
	name, got, err := parsePolicy(b)
	if err != nil || name != "x" {
		t.Fatalf("parsePolicy = %q, %v; want x", name, err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

// The same sweep prints the same bytes, however the runs were scheduled.
func TestTuneDeterministic(t *testing.T) {
	args := []string{"tune", "S1", "S3", "--duration", "30s", "--increase", "0.05,0.1,0.2", "--decrease", "0.5,0.7"}
	_, first, _ := dynlimit(t, args...)
	_, second, _ := dynlimit(t, args...)
	if first == "" || first != second {
		t.Errorf("two sweeps printed differently:\n%s\n---\n%s", first, second)
	}
}

// --param reaches the parameters without a flag of their own.
func TestTuneParam(t *testing.T) {
	var field string
	for _, f := range aimdFloatFields() {
		if !slices.ContainsFunc(axes(), func(ax *axis) bool { return ax.field == f }) {
			field = f
			break
		}
	}
	if field == "" {
		t.Skip("every numeric AIMD parameter has a flag of its own")
	}
	start := policy.DefaultAIMD()
	v := *aimdFloat(&start, field)
	code, stdout, stderr := dynlimit(t, "tune", "S1", "--duration", "30s", "--increase", "0.1", "--decrease", "0.7",
		"--cooldown", "0.5,1.5", "--param", field+"="+fmtFloat(v))
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"cooldown_multiplier", field} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table has no %s column:\n%s", want, stdout)
		}
	}
}

// Every axis with a flag of its own names a numeric AIMD parameter.
func TestAxesExist(t *testing.T) {
	for _, ax := range axes() {
		if aimdFloat(&policy.AIMD{}, ax.field) == nil {
			t.Errorf("--%s: policy.AIMD has no numeric field %q", ax.flag, ax.field)
		}
	}
}

func TestParetoAndWinner(t *testing.T) {
	mk := func(g, th float64) config { return config{goodput: g, throttled: th} }
	cfgs := []config{
		mk(0.90, 0.005), // front
		mk(0.95, 0.010), // front, the winner within 1 %
		mk(0.94, 0.020), // dominated by the one above
		mk(0.99, 0.050), // front
		mk(0.80, 0.001), // front
		mk(0.95, 0.010), // the same score as the second: on the front too
	}
	var got [][2]float64
	for _, c := range paretoFront(cfgs) {
		got = append(got, [2]float64{c.goodput, c.throttled})
	}
	want := [][2]float64{{0.99, 0.05}, {0.95, 0.01}, {0.95, 0.01}, {0.90, 0.005}, {0.80, 0.001}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("front (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		budget float64
		want   int
	}{
		{0.01, 1},  // highest goodput within budget; the first of a tie
		{0.05, 3},  // the budget admits the top
		{0.002, 4}, // only the most careful fits
		{0, 4},     // none fits: the lowest throttled share
	} {
		w, why := winner(cfgs, tc.budget)
		if w != &cfgs[tc.want] {
			t.Errorf("winner(budget %v) = %+v (%s), want config %d", tc.budget, *w, why, tc.want)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	def := policy.DefaultAIMD()
	withDecrease := def
	withDecrease.DecreaseFactor = 0.6
	cubic := policy.DefaultCUBIC()
	cubic.MaxRate = 20
	for _, tc := range []struct {
		name, json string
		wantName   string
		want       policy.Policy
		wantErr    []string
	}{
		{name: "aimd named", json: `{"policy": "aimd", "decrease_factor": 0.6}`, want: withDecrease},
		{name: "cubic", json: `{"policy": "cubic", "max_rate": 20}`, want: cubic},
		{name: "named cubic", json: `{"x": {"max_rate": 20, "policy": "cubic"}}`, wantName: "x", want: cubic},
		{name: "unknown policy", json: `{"policy": "cubc"}`, wantErr: []string{`"cubc"`, `"cubic"`}},
		{name: "policy not a string", json: `{"x": {"policy": 1}}`, wantErr: []string{`"x"`, `"policy" = 1`}},
		{name: "AIMD field for cubic", json: `{"policy": "cubic", "decrease_factor": 0.5}`, wantErr: []string{"decrease_factor = 0.5: unknown field"}},
		{name: "bad cubic value", json: `{"policy": "cubic", "beta": 1}`, wantErr: []string{"beta", "1"}},
		{name: "empty object", json: `{}`, want: def},
		{name: "bare", json: `{"decrease_factor": 0.6}`, want: withDecrease},
		{name: "named", json: `{"slack": {"decrease_factor": 0.6}}`, wantName: "slack", want: withDecrease},
		{name: "named, empty", json: ` { "slack" : { } }`, wantName: "slack", want: def},
		{name: "unknown bare field", json: `{"decrease": 0.6}`, wantErr: []string{"decrease = 0.6: unknown field"}},
		{name: "bad bare value", json: `{"min_rate": -1}`, wantErr: []string{"min_rate", "-1"}},
		{name: "parameter given an object", json: `{"decrease_factor": {}}`, wantErr: []string{"decrease_factor"}},
		{name: "bad named value", json: `{"x": {"burst_size": 0.5}}`, wantErr: []string{`"x"`, "burst_size", "0.5"}},
		{name: "two entries", json: `{"b": {}, "a": {}}`, wantErr: []string{"exactly one", "2 entries", "a, b"}},
		{name: "not an object", json: `[1]`, wantErr: []string{"JSON object"}},
		{name: "empty", json: ``, wantErr: []string{"JSON object"}},
		{name: "trailing data", json: `{"decrease_factor": 0.6} {}`, wantErr: []string{"JSON object"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, got, err := parsePolicy([]byte(tc.json))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("parsePolicy(%s) = %+v, want an error", tc.json, got)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePolicy(%s): %v", tc.json, err)
			}
			if name != tc.wantName {
				t.Errorf("name = %q, want %q", name, tc.wantName)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("parameters (-want +got):\n%s", d)
			}
		})
	}
}
