package policytest_test

import (
	"math"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dynlimit/dynlimit/policy"
	"github.com/dynlimit/dynlimit/policy/policytest"
	"github.com/dynlimit/dynlimit/signal"
)

// plainAIMD is AIMD without the growth in time: +0.1 per success.
func plainAIMD() policy.AIMD {
	a := policy.DefaultAIMD()
	a.IncreaseFactor, a.DecreaseFactor = 0.1, 0.5
	a.SlowStart, a.Recovery, a.Probe, a.Restart = 0, 0, 0, 0
	return a
}

func TestRunAcceptsBuiltins(t *testing.T) {
	t.Run("AIMD", func(t *testing.T) { policytest.Run(t, plainAIMD()) })
	t.Run("Fixed", func(t *testing.T) { policytest.Run(t, policy.Fixed{Rate: 3, Burst: 2, HonorRetryAfter: true}) })
}

// rules are the subtests of Run, one per rule.
var rules = []string{
	"Validate", "Initial", "Deterministic", "NextNeedsNoSanitize", "SanitizedStateStaysValid",
	"FailedAndCanceledKeepRateAndCooldown", "NoEvidenceNoIncrease", "CountMeansRepeats", "StaleThrottleKeepsRate",
}

// known are built-in policies that break a rule of the contract, with the
// one they break: each must keep every other rule, and a fix must take it
// out of here.
//
// known lists policies of this module that break a rule on purpose, with
// the rule; none does today. A policy listed here must fail exactly that
// rule (TestKnownBreaks), so that the list cannot go stale.
var known = map[string]struct {
	p    policy.Policy
	rule string
}{}

func TestKnownBreaks(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already a child process")
	}
	for name, k := range known {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenPolicy$", "-test.count=1", "-test.timeout=1m", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("Run passed %s, known to break %s: take it out of known; output:\n%s", name, k.rule, out)
			}
			for _, rule := range rules {
				want := "--- PASS: TestBrokenPolicy/" + rule + " "
				if rule == k.rule {
					want = "--- FAIL: TestBrokenPolicy/" + rule + " "
				}
				if !strings.Contains(string(out), want) {
					t.Errorf("%s: want %q in the output", name, strings.TrimSpace(want))
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// A suite that passes everything proves nothing: each policy below breaks
// exactly one rule, and Run must fail the subtest named after it.
var broken = map[string]struct {
	p    policy.Policy
	rule string
}{
	"invalid":          {policy.Fixed{Rate: 0, Burst: 1}, "Validate"},
	"badInitial":       {badInitial{policy.Fixed{Rate: 1, Burst: 1}}, "Initial"},
	"nondeterministic": {nondeterministic{policy.DefaultAIMD()}, "Deterministic"},
	"nanRate":          {nanOnOverload{policy.DefaultAIMD()}, "NextNeedsNoSanitize"},
	"noEpochBump":      {noEpochBump{policy.DefaultAIMD()}, "NextNeedsNoSanitize"},
	"lowerOnCanceled":  {lowerOnCanceled{policy.DefaultAIMD()}, "FailedAndCanceledKeepRateAndCooldown"},
	"growOnOverload":   {growOnOverload{plainAIMD()}, "NoEvidenceNoIncrease"},
	"ignoreCount":      {ignoreCount{plainAIMD()}, "CountMeansRepeats"},
	"decreaseOnStale":  {decreaseOnStale{policy.DefaultAIMD()}, "StaleThrottleKeepsRate"},
}

const brokenEnv = "POLICYTEST_BROKEN_POLICY"

// TestBrokenPolicy runs Run on one broken policy in a child process of
// TestRunCatchesBrokenPolicies: a failing *testing.T cannot be observed
// from inside the test binary that owns it.
func TestBrokenPolicy(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs only as a child of TestRunCatchesBrokenPolicies")
	}
	p := broken[name].p
	if k, ok := known[name]; ok {
		p = k.p
	}
	policytest.Run(t, p)
}

func TestRunCatchesBrokenPolicies(t *testing.T) {
	if os.Getenv(brokenEnv) != "" {
		t.Skip("already a child process")
	}
	for name, b := range broken {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenPolicy$", "-test.count=1", "-test.timeout=1m")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("Run passed a policy that breaks %s; output:\n%s", b.rule, out)
			}
			if want := "--- FAIL: TestBrokenPolicy/" + b.rule + " "; !strings.Contains(string(out), want) {
				t.Fatalf("Run did not fail %s; output:\n%s", b.rule, out)
			}
		})
	}
}

type badInitial struct{ policy.Fixed }

func (p badInitial) Initial() policy.State { return policy.State{Rate: p.Rate, Burst: 0.5} }

var calls atomic.Uint64

// nondeterministic depends on how often it was called, as a policy that
// kept state of its own would.
type nondeterministic struct{ policy.AIMD }

func (p nondeterministic) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	s = p.AIMD.Next(s, o, now)
	s.Burst += float64(calls.Add(1) % 2)
	return s
}

type nanOnOverload struct{ policy.AIMD }

func (p nanOnOverload) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	if o.Signal.Kind == signal.Overloaded {
		s.Rate = math.NaN()
		return s
	}
	return p.AIMD.Next(s, o, now)
}

type noEpochBump struct{ policy.AIMD }

func (p noEpochBump) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	next := p.AIMD.Next(s, o, now)
	next.Epoch = s.Epoch
	return next
}

type lowerOnCanceled struct{ policy.AIMD }

func (p lowerOnCanceled) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	if o.Signal.Kind == signal.Canceled {
		s.Rate = math.Max(s.Rate*p.DecreaseFactor, p.MinRate)
		s.Epoch++
		return s
	}
	return p.AIMD.Next(s, o, now)
}

type growOnOverload struct{ policy.AIMD }

func (p growOnOverload) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	if o.Signal.Kind == signal.Overloaded {
		s.Rate = math.Min(s.Rate+p.IncreaseFactor, p.MaxRate)
		return s
	}
	return p.AIMD.Next(s, o, now)
}

type ignoreCount struct{ policy.AIMD }

func (p ignoreCount) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	o.Count = 1
	return p.AIMD.Next(s, o, now)
}

type decreaseOnStale struct{ policy.AIMD }

func (p decreaseOnStale) Next(s policy.State, o policy.Outcome, now time.Time) policy.State {
	if o.Signal.Kind == signal.Throttled {
		o.Epoch = s.Epoch
	}
	return p.AIMD.Next(s, o, now)
}
