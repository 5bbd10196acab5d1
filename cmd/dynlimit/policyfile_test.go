package main

import "testing"

// A policy file that says "policy": "cubic" plays CUBIC, under its name.
func TestSimCUBICPolicyFile(t *testing.T) {
	aimd := writeFile(t, "aimd.json", `{"max_rate": 20}`)
	cubic := writeFile(t, "cubic.json", `{"policy": "cubic", "max_rate": 20}`)
	a := simJSON(t, "--policy-file", aimd, "--duration", "1m")
	c := simJSON(t, "--policy-file", cubic, "--duration", "1m")
	if len(a) != 1 || len(c) != 1 {
		t.Fatalf("--policy-file alone played %d and %d strategies, want 1", len(a), len(c))
	}
	if c[0].Strategy != "cubic" {
		t.Errorf("strategy named %q, want cubic (the file)", c[0].Strategy)
	}
	c[0].Strategy = a[0].Strategy
	if mustJSON(t, a) == mustJSON(t, c) {
		t.Error(`"policy": "cubic" played as AIMD`)
	}
}

// sim --integration plays the policy the integration's entry selects.
func TestSimIntegrationCUBIC(t *testing.T) {
	file := writeFile(t, "overrides.json", `{"notion": {"policy": "cubic"}}`)
	aimd := simJSON(t, "--integration", "notion", "--duration", "1m")
	cubic := simJSON(t, "--integration", "notion", "--overrides", file, "--duration", "1m")
	if len(aimd) != 1 || len(cubic) != 1 {
		t.Fatalf("played %d and %d strategies, want 1", len(aimd), len(cubic))
	}
	if mustJSON(t, aimd) == mustJSON(t, cubic) {
		t.Error(`notion with "policy": "cubic" played as AIMD`)
	}
}
