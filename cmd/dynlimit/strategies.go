package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dynlimit/dynlimit/breaker"
	"github.com/dynlimit/dynlimit/internal/simtest"
	"github.com/dynlimit/dynlimit/policy"
)

// namedStrategy is a strategy --policy knows by a name.
type namedStrategy struct {
	// names are what --policy accepts for it; the first is the one the
	// help shows.
	names []string
	// help says what it is, for the help.
	help string
	// all puts it in --policy all.
	all bool
	// make builds it for a scenario.
	make func(sc simtest.Scenario) simtest.Strategy
	// note says, for a baseline, what it is told or does, after its name
	// (st, as make built it) in the line under the scenario's header; nil
	// for none.
	note func(sc simtest.Scenario, st simtest.Strategy) string
}

// namedStrategies are the strategies --policy knows by name, in the order
// the help lists them and --policy all plays those it includes. Another
// strategy is one more line here.
var namedStrategies = []namedStrategy{
	{names: []string{"default", "dynlimit"}, help: "the library's defaults (policy.DefaultAIMD)", all: true,
		make: func(simtest.Scenario) simtest.Strategy { return simtest.Default() }},
	{names: []string{"breaker"}, help: "the defaults with a circuit breaker (breaker.DefaultConfig)",
		make: func(simtest.Scenario) simtest.Strategy {
			return simtest.WithBreaker(simtest.Default(), "dynlimit+breaker", breaker.DefaultConfig())
		}},
	{names: []string{"fixed"}, help: "a fixed-rate token bucket per client at its even\nshare of the upstream's true rate (the rate itself\nfor one client)", all: true,
		make: func(sc simtest.Scenario) simtest.Strategy { r := clientShare(sc); return fixedAt(r, r, false) },
		note: func(sc simtest.Scenario, st simtest.Strategy) string { return st.Name + " is told " + told(sc) }},
	{names: []string{"fixed+30%", "fixed+30"}, help: "the same at 1.3x the share: told 30% too much", all: true,
		make: func(sc simtest.Scenario) simtest.Strategy { r := 1.3 * clientShare(sc); return fixedAt(r, r, false) },
		note: func(_ simtest.Scenario, st simtest.Strategy) string { return st.Name + " is told 30% too much" }},
	{names: []string{"naive", "naive-retry"}, help: "no pacing, retries with exponential backoff", all: true,
		make: func(simtest.Scenario) simtest.Strategy { return simtest.NaiveRetry() },
		note: func(_ simtest.Scenario, st simtest.Strategy) string {
			return st.Name + " has no pacing, retries with exponential backoff"
		}},
	{names: []string{"aws-adaptive", "aws"}, help: "the AWS SDK for Go v2's adaptive retry mode: its\nclient-side rate limiter and backoff, no cooldown\non Retry-After", all: true,
		make: func(simtest.Scenario) simtest.Strategy { return simtest.AWSAdaptive() },
		note: func(_ simtest.Scenario, st simtest.Strategy) string {
			return st.Name + " is the AWS SDK's adaptive algorithm, no cooldown on Retry-After"
		}},
	{names: []string{"cubic"}, help: "policy.CUBIC with the AWS SDK's constants\n(policy.DefaultCUBIC): the AWS algorithm inside\nthis library's limiter, Retry-After honoured as a\ncooldown; it starts at its max_rate, lifted to twice\nthe highest limit of a scenario above it", all: true,
		make: simtest.CUBICFor,
		note: func(_ simtest.Scenario, st simtest.Strategy) string {
			s := st.Name + " is policy.CUBIC: the AWS algorithm inside this library's limiter, Retry-After honoured as a cooldown"
			if c, ok := st.Policy.(policy.CUBIC); ok && c.MaxRate != policy.DefaultCUBIC().MaxRate {
				s += fmt.Sprintf(", max_rate lifted to %g, twice the highest limit", c.MaxRate)
			}
			return s
		}},
}

// told is what the fixed baseline of sc is told: the true limit, or each
// client's share of it, as it is at the start.
func told(sc simtest.Scenario) string {
	what := "the true limit"
	if sc.Clients.Count > 1 {
		what = "each client's share of the true limit"
	}
	for _, st := range sc.Upstream.Profile {
		if st.At > 0 && sc.Upstream.RateAt(st.At.D()) != trueRate(sc) {
			return what + " at the start"
		}
	}
	return what
}

// strategyHelp is the help's list of what --policy takes.
func strategyHelp() string {
	var b strings.Builder
	row := func(name, help string) {
		for i, line := range strings.Split(help, "\n") {
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(&b, "\t%-16s %s\n", name, line)
		}
	}
	for _, n := range namedStrategies {
		row(n.names[0], n.help)
		if n.names[0] == "fixed" {
			row("fixed:RATE", "a fixed-rate token bucket at RATE req/s, burst RATE")
			row("fixed:RATE:BURST", "the same with another burst")
		}
	}
	row("all", strings.Join(allNames(), ", "))
	return b.String()
}

// strategyNames lists, for the flag's help and its errors, the names
// --policy takes.
func strategyNames() string {
	var names []string
	for _, n := range namedStrategies {
		names = append(names, n.names[0])
		if n.names[0] == "fixed" {
			names = append(names, "fixed:RATE", "fixed:RATE:BURST")
		}
	}
	return strings.Join(append(names, "all"), ", ")
}

func allNames() []string {
	var names []string
	for _, n := range namedStrategies {
		if n.all {
			names = append(names, n.names[0])
		}
	}
	return names
}

// parseStrategies reads --policy. It also returns what the baselines
// among them are, in one line (see namedStrategy.note).
func parseStrategies(spec string, sc simtest.Scenario) ([]simtest.Strategy, string, error) {
	var sts []simtest.Strategy
	var notes []string
	add := func(n namedStrategy) {
		st := n.make(sc)
		sts = append(sts, st)
		if n.note != nil {
			notes = append(notes, n.note(sc, st))
		}
	}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		kind, args, _ := strings.Cut(item, ":")
		if item == "all" {
			for _, n := range namedStrategies {
				if n.all {
					add(n)
				}
			}
			continue
		}
		if i := indexStrategy(item); i >= 0 {
			add(namedStrategies[i])
			continue
		}
		if kind != "fixed" {
			return nil, "", usagef("--policy %q: want one of %s", item, strategyNames())
		}
		st, err := parseFixed(args)
		if err != nil {
			return nil, "", usagef("--policy %q: %v", item, err)
		}
		sts = append(sts, st)
	}
	if len(notes) == 0 {
		return sts, "", nil
	}
	return sts, "baselines: " + strings.Join(notes, "; "), nil
}

// indexStrategy returns the index in namedStrategies of the one named
// name, or -1.
func indexStrategy(name string) int {
	for i, n := range namedStrategies {
		for _, m := range n.names {
			if m == name {
				return i
			}
		}
	}
	return -1
}

func parseFixed(args string) (simtest.Strategy, error) {
	parts := strings.Split(args, ":")
	if len(parts) > 2 {
		return simtest.Strategy{}, fmt.Errorf("want fixed:RATE or fixed:RATE:BURST")
	}
	var v [2]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return simtest.Strategy{}, fmt.Errorf("%q is not a number", p)
		}
		v[i] = f
	}
	rate, burst := v[0], v[1]
	if len(parts) == 1 {
		burst = max(rate, 1)
	}
	if err := (policy.Fixed{Rate: rate, Burst: burst}).Validate(); err != nil {
		return simtest.Strategy{}, err
	}
	return fixedAt(rate, burst, len(parts) == 2), nil
}

// fixedAt is the fixed-rate baseline, named after its rate (and its burst
// when it was chosen) so that two of them can be told apart in a table.
func fixedAt(rate, burst float64, showBurst bool) simtest.Strategy {
	// 1.3 × 10 is 13.000000000000002: round what is shown and played alike.
	rate, burst = round3(rate), max(round3(burst), 1)
	name := "fixed-" + strconv.FormatFloat(rate, 'g', -1, 64)
	if showBurst {
		name += ":" + strconv.FormatFloat(burst, 'g', -1, 64)
	}
	return simtest.FixedRate(name, rate, burst)
}

func round3(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	scale := math.Pow(10, 3-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*scale) / scale
}
