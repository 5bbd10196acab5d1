package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

type simOptions struct {
	scenarioFile string
	policy       string
	policySet    bool
	policyFile   string
	integration  string
	overrides    string
	seed         seedFlag
	duration     durationFlag
	json, trace  bool
	plot         string
}

func simCommand() *command {
	return &command{
		name:    "sim",
		args:    "[flags] [scenario]",
		summary: "play a scenario against strategies; print, or plot, what happened",
		about: `Sim plays a scenario (default S1; see 'dynlimit scenarios') against one or
more strategies and prints one summary row per strategy: goodput (successes
over the upstream's capacity), throttled share, failed requests, caller
latency, rate decreases, fairness across clients, and how the clients reacted
to each drop and raise of the hidden limit and to the end of each outage.

--policy takes a comma-separated list of:

` + strategyHelp() + `
A line under the scenario's header says what each baseline is.

--policy-file adds AIMD parameters read from a JSON file, either a bare
object ({"decrease_factor": 0.7}) or one named entry ({"mine": {...}}), as
'dynlimit tune --out' writes; fields left out keep the defaults. Given alone,
it replaces the default --policy.

--integration plays the configuration of a built-in API ('dynlimit
integrations'): its AIMD parameters, in-flight cap and throttle statuses,
with --overrides laying an override file over the built-ins first. The
scenario's upstream and retries stay those of the scenario; an API whose
requests split by key plays one key's limiter. Given alone, it replaces the
default --policy.

--json prints the results as a JSON array, in the order of the strategies;
the per-second trace only with --trace. --plot draws, per strategy, the
clients' rate against the hidden limit and the throttles per second, as SVG,
PNG or an HTML page, by the file's extension.

The same command line prints the same bytes every time.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) error {
			o := &simOptions{}
			fs.StringVar(&o.scenarioFile, "scenario-file", "", "read the scenario from this JSON `file` instead (see 'dynlimit scenarios --json S1')")
			fs.StringVar(&o.policy, "policy", "all", "the strategies to play, comma-separated: "+strategyNames())
			fs.StringVar(&o.policyFile, "policy-file", "", "also play AIMD parameters read from this JSON `file`")
			fs.StringVar(&o.integration, "integration", "", "also play the configuration of this built-in API `name`")
			fs.StringVar(&o.overrides, "overrides", "", "with --integration, lay this override `file` over the built-ins first")
			fs.Var(&o.seed, "seed", "override the scenario's random seed with `N`")
			fs.Var(&o.duration, "duration", "override the scenario's simulated `duration` (e.g. 5m)")
			fs.BoolVar(&o.json, "json", false, "print the results as JSON")
			fs.BoolVar(&o.trace, "trace", false, "with --json, include the per-second trace")
			fs.StringVar(&o.plot, "plot", "", "draw the runs to this `file`: .svg, .png or .html")
			return func(pos []string, stdout, stderr io.Writer) error {
				fs.Visit(func(f *flag.Flag) { o.policySet = o.policySet || f.Name == "policy" })
				return o.run(pos, stdout, stderr)
			}
		},
	}
}

func (o *simOptions) run(pos []string, stdout, stderr io.Writer) error {
	switch {
	case len(pos) > 1:
		return usagef("want at most one scenario, got %d: %s", len(pos), strings.Join(pos, " "))
	case len(pos) == 1 && o.scenarioFile != "":
		return usagef("give a scenario name (%s) or --scenario-file, not both", pos[0])
	case o.trace && !o.json:
		return usagef("--trace needs --json")
	case o.overrides != "" && o.integration == "":
		return usagef("--overrides needs --integration")
	}
	if o.plot != "" {
		if _, err := plotFormat(o.plot); err != nil {
			return err
		}
	}
	var sc simtest.Scenario
	var err error
	switch {
	case o.scenarioFile != "":
		sc, err = loadScenario(o.scenarioFile)
	case len(pos) == 1:
		sc, err = builtinScenario(pos[0])
	default:
		sc, err = builtinScenario("S1")
	}
	if err != nil {
		return err
	}
	sc = apply(sc, &o.seed, &o.duration)

	var sts []simtest.Strategy
	var notes string
	if o.policySet || o.policyFile == "" && o.integration == "" {
		if sts, notes, err = parseStrategies(o.policy, sc); err != nil {
			return err
		}
	}
	if o.policyFile != "" {
		name, a, err := loadPolicy(o.policyFile)
		if err != nil {
			return err
		}
		sts = append(sts, simtest.Dynlimit(name, a))
	}
	if o.integration != "" {
		st, err := integrationStrategy(o.integration, o.overrides)
		if err != nil {
			return err
		}
		sts = append(sts, st)
	}

	jobs := make([]job, len(sts))
	for i, st := range sts {
		jobs[i] = job{sc, st}
	}
	rs, err := runAll(jobs, nil)
	if err != nil {
		return err
	}

	if o.json {
		out := make([]simtest.Result, len(rs))
		for i, r := range rs {
			out[i] = *r
			if !o.trace {
				out[i].Trace = nil
			}
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else if err := writeSummary(stdout, sc, notes, rs); err != nil {
		return err
	}
	if o.plot != "" {
		if err := writePlot(o.plot, sc, notes, sts, rs); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "dynlimit sim: wrote %s\n", o.plot)
	}
	return nil
}

// writeSummary writes the results of a scenario's runs under a header that
// names it, describes it and, when notes is not empty, says what the
// baselines are.
func writeSummary(w io.Writer, sc simtest.Scenario, notes string, rs []*simtest.Result) error {
	fmt.Fprintf(w, "scenario %s (seed %d, %v simulated, capacity %.0f requests)\n",
		sc.Name, sc.Seed, sc.Duration.D(), capacityOf(rs))
	if sc.Description != "" {
		fmt.Fprintf(w, "  %s\n", sc.Description)
	}
	if notes != "" {
		fmt.Fprintf(w, "  %s\n", notes)
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		if err := r.WriteSummary(w); err != nil {
			return err
		}
		if s := reactions(r); s != "" {
			fmt.Fprintf(w, "%33s %s\n", "", s)
		}
	}
	return nil
}

func capacityOf(rs []*simtest.Result) float64 {
	if len(rs) == 0 {
		return 0
	}
	return rs[0].Capacity
}

// reactions describes how the clients reacted to the changes of the
// upstream, on one line.
func reactions(r *simtest.Result) string {
	var parts []string
	for _, d := range r.Drops {
		parts = append(parts, fmt.Sprintf("drop at %v: %s", d.At, dropReaction(d)))
	}
	for _, x := range r.Raises {
		parts = append(parts, fmt.Sprintf("raise at %v: %s", x.At, to90(x.To90, "the new limit")))
	}
	for _, x := range r.Outages {
		parts = append(parts, fmt.Sprintf("outage over at %v: %s, %d %s reached the dead upstream",
			x.End, to90(x.To90, "the limit"), r.OutageHits, plural(int(r.OutageHits), "request", "requests")))
	}
	if r.BreakerRejected > 0 {
		parts = append(parts, fmt.Sprintf("%d refused by the breaker", r.BreakerRejected))
	}
	return strings.Join(parts, "; ")
}

// dropReaction says how the clients reacted to a drop: when their rate
// settled on the new limit and after how many bursts of throttles, or, for
// a strategy with no rate to settle, how many responses were throttled.
func dropReaction(d simtest.Drop) string {
	switch {
	case d.Unpaced:
		return fmt.Sprintf("no rate to settle; %d throttled after the drop", d.Throttled)
	case d.Episodes > 0:
		return fmt.Sprintf("last throttle +%v, %d %s", roundDur(d.Settle), d.Episodes, plural(d.Episodes, "episode", "episodes"))
	case d.Throttled > 0:
		return fmt.Sprintf("no throttle before settling, %d after", d.Throttled)
	default:
		return "no throttle"
	}
}

func to90(d time.Duration, of string) string {
	if d < 0 {
		return "never back to 90% of " + of
	}
	return fmt.Sprintf("90%% of %s after %v", of, roundDur(d))
}

func roundDur(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// plotFormat returns the format a plot file's extension asks for.
func plotFormat(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".svg", ".png":
		return ext[1:], nil
	case ".html", ".htm":
		return "html", nil
	default:
		return "", usagef("--plot %s: want a file ending in .svg, .png or .html", path)
	}
}
