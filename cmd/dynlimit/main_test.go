package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dynlimit runs the command with args and returns its exit code and output.
func dynlimit(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFile writes content to name in a fresh temporary directory and
// returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNoArgumentsPrintsUsage(t *testing.T) {
	code, stdout, stderr := dynlimit(t)
	if code != exitUsage {
		t.Errorf("exit code = %d, want %d", code, exitUsage)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	for _, want := range []string{"Usage:", "sim", "tune", "scenarios"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"help", "sim"}, {"help", "tune"},
		{"sim", "-h"}, {"sim", "--help"}, {"sim", "S2", "--json", "-h"},
		{"tune", "-h"}, {"tune", "--help"},
		{"scenarios", "-h"}, {"scenarios", "--help"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := dynlimit(t, args...)
			if code != exitOK {
				t.Errorf("exit code = %d, want 0; stderr:\n%s", code, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			if !strings.Contains(stdout, "Usage") {
				t.Errorf("stdout has no usage:\n%s", stdout)
			}
			if len(args) > 1 && !strings.Contains(stdout, "Flags:") {
				t.Errorf("a command's help lists no flags:\n%s", stdout)
			}
		})
	}
}

// Bad input gets a message that names the problem, on stderr, and exit
// code 2 when the command line is at fault, 1 otherwise.
func TestErrors(t *testing.T) {
	badPolicy := writeFile(t, "bad.json", `{"decrease_factor": 1.5}`)
	badNamed := writeFile(t, "named.json", `{"mine": {"decrease_factr": 0.5}}`)
	twoEntries := writeFile(t, "two.json", `{"a": {}, "b": {}}`)
	cubic := writeFile(t, "cubic.json", `{"policy": "cubic"}`)
	notJSON := writeFile(t, "notjson.json", `rate: 5`)
	badScenario := writeFile(t, "sc.json", `{"name": "x", "duration": "1m", "upstream": {"rate": -1}}`)
	missing := filepath.Join(t.TempDir(), "missing.json")

	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // in stderr
	}{
		{"unknown command", []string{"simulate"}, exitUsage, []string{`unknown command "simulate"`}},
		{"unknown help topic", []string{"help", "simulate"}, exitUsage, []string{`unknown command "simulate"`}},
		{"unknown scenario", []string{"sim", "S9"}, exitUsage, []string{`unknown scenario "S9"`, "S1-steady"}},
		{"unknown scenario in tune", []string{"tune", "S1", "nope"}, exitUsage, []string{`unknown scenario "nope"`}},
		{"two scenarios", []string{"sim", "S1", "S2"}, exitUsage, []string{"at most one scenario"}},
		{"name and file", []string{"sim", "S1", "--scenario-file", badScenario}, exitUsage, []string{"not both"}},
		{"unknown flag", []string{"sim", "--nope"}, exitUsage, []string{"-nope", "dynlimit sim -h"}},
		{"bad seed", []string{"sim", "--seed", "abc"}, exitUsage, []string{"-seed", `"abc"`}},
		{"negative seed", []string{"sim", "--seed", "-1"}, exitUsage, []string{"-seed"}},
		{"bad duration", []string{"sim", "--duration", "soon"}, exitUsage, []string{"-duration", `"soon"`}},
		{"zero duration", []string{"tune", "--duration", "0s"}, exitUsage, []string{"-duration", "must be > 0"}},
		{"unknown policy", []string{"sim", "--policy", "default,aimd"}, exitUsage, []string{`"aimd"`}},
		{"bad fixed rate", []string{"sim", "--policy", "fixed:-2"}, exitUsage, []string{"rate_limit_per_sec", "-2"}},
		{"bad fixed burst", []string{"sim", "--policy", "fixed:5:x"}, exitUsage, []string{`"x"`}},
		{"trace without json", []string{"sim", "--trace"}, exitUsage, []string{"--trace needs --json"}},
		{"plot format", []string{"sim", "--plot", "out.pdf"}, exitUsage, []string{"out.pdf", ".svg"}},
		{"policy file field", []string{"sim", "--policy-file", badPolicy}, exitRuntime, []string{badPolicy, "decrease_factor", "1.5"}},
		{"named policy file field", []string{"sim", "--policy-file", badNamed}, exitRuntime, []string{badNamed, `"mine"`, "decrease_factr"}},
		{"policy file entries", []string{"sim", "--policy-file", twoEntries}, exitRuntime, []string{twoEntries, "exactly one", "a, b"}},
		{"policy file not JSON", []string{"sim", "--policy-file", notJSON}, exitRuntime, []string{notJSON, "JSON object"}},
		{"missing policy file", []string{"sim", "--policy-file", missing}, exitRuntime, []string{missing}},
		{"scenario file field", []string{"sim", "--scenario-file", badScenario}, exitRuntime, []string{badScenario, "upstream.rate"}},
		{"missing scenario file", []string{"tune", "--scenario-file", missing}, exitRuntime, []string{missing}},
		{"tune bad grid", []string{"tune", "--decrease", "0.5,1.5"}, exitUsage, []string{"--decrease 1.5", "decrease_factor"}},
		{"tune bad number", []string{"tune", "--increase", "0.1,fast"}, exitUsage, []string{"-increase", `"fast"`}},
		{"tune bad param", []string{"tune", "--param", "speed=1"}, exitUsage, []string{`"speed"`, "increase_factor"}},
		{"tune param with a flag", []string{"tune", "--param", "decrease_factor=0.5"}, exitUsage, []string{"--decrease"}},
		{"tune budget", []string{"tune", "--max-throttled", "5"}, exitUsage, []string{"--max-throttled 5"}},
		{"tune policy file", []string{"tune", "--policy-file", badPolicy}, exitRuntime, []string{badPolicy, "decrease_factor"}},
		{"scenarios unknown", []string{"scenarios", "S9"}, exitUsage, []string{`unknown scenario "S9"`}},
		{"scenarios no match", []string{"scenarios", "S9*"}, exitUsage, []string{`no scenario matches "S9*"`}},
		{"sim plot of a family", []string{"sim", "S8*", "--plot", "x.svg"}, exitUsage, []string{"--plot draws one scenario"}},
		{"tune cubic policy file", []string{"tune", "--policy-file", cubic}, exitRuntime, []string{cubic, "AIMD", `"cubic"`}},
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
}

func TestScenarios(t *testing.T) {
	code, stdout, stderr := dynlimit(t, "scenarios")
	if code != exitOK {
		t.Fatalf("exit code = %d; stderr:\n%s", code, stderr)
	}
	for _, name := range []string{"S1-steady", "S2-step", "S3-shared", "S4-headers", "S5-outage", "S6-in-flight", "S7-slow-start", "S8-moving-r3-p40"} {
		if !strings.Contains(stdout, "\n"+name+" ") {
			t.Errorf("no row for %s:\n%s", name, stdout)
		}
	}
	for line := range strings.Lines(stdout) {
		if strings.HasSuffix(strings.TrimSuffix(line, "\n"), " ") {
			t.Errorf("line ends in a space: %q", line)
		}
	}
}
