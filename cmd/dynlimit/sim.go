package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
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
		args:    "[flags] [scenario | pattern*]",
		summary: "play a scenario against strategies; print, or plot, what happened",
		about: `Sim plays a scenario (default S1; see 'dynlimit scenarios') against one or
more strategies and prints one summary row per strategy: goodput (successes
over the upstream's capacity), throttled share, failed requests, caller
latency, rate decreases, fairness across clients, the requests sent inside a
Retry-After (insideRA: sent by a client before the end of the Retry-After of
a throttled response it had received), and how the clients reacted to each
drop and raise of the hidden limit and to the end of each outage.

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

A scenario name ending in * plays every built-in scenario whose name starts
with the rest, families in full: 'S8*' plays the twelve S8-moving-r*-p*
(S8 alone plays S8-moving-r3-p40), 'S*' all of them.

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
	var scs []simtest.Scenario
	var err error
	switch {
	case o.scenarioFile != "":
		var sc simtest.Scenario
		sc, err = loadScenario(o.scenarioFile)
		scs = []simtest.Scenario{sc}
	case len(pos) == 1:
		scs, err = builtinScenarios(pos[0])
	default:
		scs, err = builtinScenarios("S1")
	}
	if err != nil {
		return err
	}
	if o.plot != "" && len(scs) > 1 {
		return usagef("--plot draws one scenario; %s names %d", pos[0], len(scs))
	}

	// The strategies that do not depend on the scenario.
	var extra []simtest.Strategy
	if o.policyFile != "" {
		name, a, err := loadPolicy(o.policyFile)
		if err != nil {
			return err
		}
		extra = append(extra, simtest.Dynlimit(name, a))
	}
	if o.integration != "" {
		st, err := integrationStrategy(o.integration, o.overrides)
		if err != nil {
			return err
		}
		extra = append(extra, st)
	}
	runs := make([]simRun, len(scs))
	var jobs []job
	for i, sc := range scs {
		sc = apply(sc, &o.seed, &o.duration)
		run := simRun{sc: sc}
		if o.policySet || o.policyFile == "" && o.integration == "" {
			if run.sts, run.notes, err = parseStrategies(o.policy, sc); err != nil {
				return err
			}
		}
		run.sts = append(run.sts, extra...)
		for _, st := range run.sts {
			jobs = append(jobs, job{sc, st})
		}
		runs[i] = run
	}
	rs, err := runAll(jobs, nil)
	if err != nil {
		return err
	}
	for i := range runs {
		runs[i].rs, rs = rs[:len(runs[i].sts)], rs[len(runs[i].sts):]
	}

	if o.json {
		var out []simtest.Result
		for _, run := range runs {
			for _, r := range run.rs {
				r := *r
				if !o.trace {
					r.Trace = nil
				}
				out = append(out, r)
			}
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		for i, run := range runs {
			if i > 0 {
				fmt.Fprintln(stdout)
			}
			if err := writeSummary(stdout, run.sc, run.notes, run.rs); err != nil {
				return err
			}
		}
	}
	if o.plot != "" {
		run := runs[0]
		if err := writePlot(o.plot, run.sc, run.notes, run.sts, run.rs); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "dynlimit sim: wrote %s\n", o.plot)
	}
	return nil
}

// simRun is one scenario of a sim command: the strategies it plays, what
// the baselines among them are, and their results.
type simRun struct {
	sc    simtest.Scenario
	sts   []simtest.Strategy
	notes string
	rs    []*simtest.Result
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
			fmt.Fprintf(w, "%36s %s\n", "", s)
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
	if st := r.Start; st.Until > 0 {
		if st.To90 < 0 {
			parts = append(parts, fmt.Sprintf("start: not at 90%% of the limit by %v", roundDur(st.Until)))
		} else {
			parts = append(parts, "start: "+to90(st.To90, "the limit"))
		}
	}
	if len(r.Drops)+len(r.Raises) > detailedSteps {
		parts = append(parts, dropsSummary(r.Drops), raisesSummary(r.Raises))
	} else {
		for _, d := range r.Drops {
			parts = append(parts, fmt.Sprintf("drop at %v: %s", d.At, dropReaction(d)))
		}
		for _, x := range r.Raises {
			parts = append(parts, fmt.Sprintf("raise at %v: %s", x.At, to90(x.To90, "the new limit")))
		}
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
		return fmt.Sprintf("no rate to settle, %d throttled after the drop", d.Throttled)
	case d.Episodes > 0:
		return fmt.Sprintf("last throttle +%v, %d %s", roundDur(d.Settle), d.Episodes, plural(d.Episodes, "episode", "episodes"))
	case d.Throttled > 0:
		return fmt.Sprintf("no throttle before settling, %d after", d.Throttled)
	default:
		return "no throttle"
	}
}

// detailedSteps is the most drops and raises a reaction line tells one by
// one; beyond it, it sums them up.
const detailedSteps = 4

// dropsSummary sums up the reactions to many drops: the median and the
// longest time to the last throttle, the bursts and the throttles in all.
func dropsSummary(ds []simtest.Drop) string {
	n := fmt.Sprintf("%d %s", len(ds), plural(len(ds), "drop", "drops"))
	var settles []time.Duration
	var episodes int
	var throttled uint64
	unpaced := true
	for _, d := range ds {
		settles = append(settles, d.Settle)
		episodes += d.Episodes
		throttled += d.Throttled
		unpaced = unpaced && d.Unpaced
	}
	switch {
	case len(ds) == 0:
		return "no drop"
	case unpaced:
		return fmt.Sprintf("%s: no rate to settle, %d throttled after them", n, throttled)
	case episodes > 0:
		return fmt.Sprintf("%s: last throttle +%v median, +%v at most, %d %s, %d throttled",
			n, roundDur(median(settles)), roundDur(slices.Max(settles)), episodes, plural(episodes, "episode", "episodes"), throttled)
	case throttled > 0:
		return fmt.Sprintf("%s: no throttle before settling, %d after", n, throttled)
	default:
		return n + ": no throttle"
	}
}

// raisesSummary sums up the reactions to many raises: the median and the
// longest time to 90 % of the new limit over those that reached it, and
// how many did not.
func raisesSummary(xs []simtest.Raise) string {
	n := fmt.Sprintf("%d %s", len(xs), plural(len(xs), "raise", "raises"))
	var reached []time.Duration
	for _, x := range xs {
		if x.To90 >= 0 {
			reached = append(reached, x.To90)
		}
	}
	switch {
	case len(xs) == 0:
		return "no raise"
	case len(reached) == 0:
		return n + ": never back to 90% of the new limit"
	}
	s := fmt.Sprintf("%s: 90%% of the new limit after %v median, %v at most", n, roundDur(median(reached)), roundDur(slices.Max(reached)))
	if never := len(xs) - len(reached); never > 0 {
		s += fmt.Sprintf(", %d never", never)
	}
	return s
}

// median returns the middle of ds, the lower of the two middle ones when
// there is an even number of them, reordering ds.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[(len(ds)-1)/2]
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
