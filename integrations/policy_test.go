package integrations_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/policy"
)

// "policy" selects what NewPolicy makes; CUBIC takes its rates and burst
// from the entry's AIMD fields and its own parameters from beta,
// scale_constant and smooth.
func TestNewPolicy(t *testing.T) {
	def := policy.DefaultCUBIC()
	for _, tc := range []struct {
		name, file, integration string
		want                    policy.Policy
	}{
		{"the default is AIMD", `{}`, "notion", func() policy.Policy { c, _ := integrations.Get("notion"); return c.AIMD }()},
		{"aimd named", `{"notion": {"policy": "aimd"}}`, "notion", func() policy.Policy { c, _ := integrations.Get("notion"); return c.AIMD }()},
		{"cubic over a built-in", `{"notion": {"policy": "cubic"}}`, "notion",
			policy.CUBIC{Rate: 3, Burst: 3, MinRate: 0.1, MaxRate: 6, Beta: def.Beta, ScaleConstant: def.ScaleConstant, Smooth: def.Smooth}},
		{"cubic with its own parameters", `{"mine": {"policy": "cubic", "beta": 0.6, "scale_constant": 1, "smooth": 0.5, "max_rate": 20}}`, "mine",
			policy.CUBIC{Rate: 5, Burst: 5, MinRate: 0.1, MaxRate: 20, Beta: 0.6, ScaleConstant: 1, Smooth: 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustMerge(t, tc.file)[tc.integration]
			if d := cmp.Diff(tc.want, c.NewPolicy()); d != "" {
				t.Errorf("NewPolicy() (-want +got):\n%s", d)
			}
			if err := c.NewPolicy().Validate(); err != nil {
				t.Errorf("NewPolicy().Validate() = %v", err)
			}
		})
	}

	// A Config made in Go before the field existed selects AIMD, and its
	// zero CUBIC parameters are no problem while CUBIC is not selected.
	c := integrations.Config{Name: "literal", AIMD: policy.DefaultAIMD(), MaxWaitSec: 1}
	if err := c.Validate(); err != nil {
		t.Errorf("a Config without PolicyName: %v", err)
	}
	if _, ok := c.NewPolicy().(policy.AIMD); !ok {
		t.Errorf("a Config without PolicyName runs %T, want policy.AIMD", c.NewPolicy())
	}
	c.PolicyName = integrations.PolicyCUBIC
	var e *integrations.Error
	if err := c.Validate(); !errors.As(err, &e) || len(e.Problems) != 3 {
		t.Errorf("CUBIC without its parameters: %v, want beta, scale_constant and smooth named", err)
	}

	// The token budget stays AIMD: its rate is in tokens, and CUBIC's cap
	// is in outcomes.
	o := mustMerge(t, `{"openai": {"policy": "cubic"}}`)["openai"]
	if tp, ok := o.TokenPolicy(); !ok || tp.Validate() != nil {
		t.Errorf("openai's token policy under cubic: %+v, %v", tp, ok)
	}
}

func TestPolicyProblems(t *testing.T) {
	const choice = `must be "aimd" (the default) or "cubic"`
	const cubicOnly = `is a parameter of "policy": "cubic", and this entry's policy is "aimd"`
	for _, tc := range []struct {
		name, file string
		want       []integrations.Problem
	}{
		{"a typo", `{"notion": {"policy": "cubc"}}`,
			[]integrations.Problem{{"notion", "policy", `"cubc"`, choice + `; did you mean "cubic"?`}}},
		{"upper case", `{"notion": {"policy": "CUBIC"}}`,
			[]integrations.Problem{{"notion", "policy", `"CUBIC"`, choice + `; did you mean "cubic"?`}}},
		{"another policy", `{"notion": {"policy": "bbr"}}`,
			[]integrations.Problem{{"notion", "policy", `"bbr"`, choice}}},
		{"a number", `{"notion": {"policy": 1}}`,
			[]integrations.Problem{{"notion", "policy", "1", "must be a string"}}},
		{"null", `{"notion": {"policy": null}}`,
			[]integrations.Problem{{"notion", "policy", "null", "must be a string, not null"}}},
		{"a misspelt key", `{"notion": {"polcy": "cubic"}}`,
			[]integrations.Problem{{"notion", "polcy", `"cubic"`, `unknown field; did you mean "policy"?`}}},
		{"a misspelt parameter", `{"notion": {"policy": "cubic", "betta": 0.5}}`,
			[]integrations.Problem{{"notion", "betta", "0.5", `unknown field; did you mean "beta"?`}}},
		{"CUBIC's parameters without its policy", `{"notion": {"beta": 0.5, "smooth": 0.5}}`,
			[]integrations.Problem{{"notion", "beta", "0.5", cubicOnly}, {"notion", "smooth", "0.5", cubicOnly}}},
		{"CUBIC's parameters with aimd named", `{"mine": {"policy": "aimd", "scale_constant": 1}}`,
			[]integrations.Problem{{"mine", "scale_constant", "1", cubicOnly}}},
		{"CUBIC's parameters out of range", `{"notion": {"smooth": -1, "policy": "cubic", "beta": 1.5, "scale_constant": 0}}`,
			[]integrations.Problem{
				{"notion", "smooth", "-1", "must be in (0, 1)"},
				{"notion", "beta", "1.5", "must be in (0, 1)"},
				{"notion", "scale_constant", "0", "must be a number > 0 and at most 1e6"},
			}},
		{"the shared rates still checked", `{"notion": {"policy": "cubic", "rate_limit_per_sec": 7}}`,
			[]integrations.Problem{{"notion", "rate_limit_per_sec", "7", "must be <= max_rate (6)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, tc.file)
			var e *integrations.Error
			if !errors.As(err, &e) {
				t.Fatalf("LoadOverrides(%s) = %v, want an *integrations.Error", tc.file, err)
			}
			if d := cmp.Diff(tc.want, e.Problems); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}

// A CUBIC configuration goes out with its policy and parameters and comes
// back the same; an AIMD one goes out without CUBIC's parameters, which its
// entry could not name.
func TestMarshalPolicy(t *testing.T) {
	m := mustMerge(t, `{"notion": {"policy": "cubic", "beta": 0.6}, "mine": {"policy": "cubic", "max_rate": 20}}`)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"policy":"cubic"`, `"beta":0.6`, `"scale_constant":0.4`, `"smooth":0.8`, `"policy":"aimd"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the JSON lacks %s:\n%s", want, data)
		}
	}
	slack, err := json.Marshal(m["slack"])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(slack), "beta") || !strings.Contains(string(slack), `"policy":"aimd"`) {
		t.Errorf("an AIMD configuration's JSON: %s", slack)
	}
	o, err := loadString(t, string(data))
	if err != nil {
		t.Fatalf("LoadOverrides of the written configurations: %v", err)
	}
	again, err := integrations.Merge(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"notion", "mine"} {
		want, got := m[name], again[name]
		if d := cmp.Diff(want.NewPolicy(), got.NewPolicy()); d != "" || got.PolicyName != integrations.PolicyCUBIC {
			t.Errorf("%s after a round trip: policy %q (-want +got):\n%s", name, got.PolicyName, d)
		}
	}
}
