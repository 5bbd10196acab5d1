package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dynlimit/dynlimit/internal/simtest"
	"github.com/dynlimit/dynlimit/policy"
)

// axis is one AIMD parameter the sweep can vary.
type axis struct {
	flag  string    // the flag that sets the grid; empty for --param
	field string    // the JSON name, as in policy files
	def   []float64 // the default grid; none keeps the starting value
	grid  floatList // from the flag
}

func (ax *axis) ptr(a *policy.AIMD) *float64 { return aimdFloat(a, ax.field) }

// name is how an error refers to the axis: by the flag that set it.
func (ax *axis) name() string {
	if ax.flag == "" {
		return "--param " + ax.field
	}
	return "--" + ax.flag
}

// axes returns the parameters with a flag of their own. Any other numeric
// parameter, those added to policy.AIMD later included, is reached with
// --param.
func axes() []*axis {
	return []*axis{
		{flag: "increase", field: "increase_factor", def: []float64{0.02, 0.05, 0.1, 0.2, 0.5}},
		{flag: "decrease", field: "decrease_factor", def: []float64{0.5, 0.6, 0.7, 0.8, 0.9}},
		{flag: "cooldown", field: "cooldown_multiplier"},
		{flag: "rate", field: "rate_limit_per_sec"},
		{flag: "burst", field: "burst_size"},
		{flag: "min-rate", field: "min_rate"},
		{flag: "max-rate", field: "max_rate"},
	}
}

// paramFlag reads --param FIELD=V1,V2,... into more axes.
type paramFlag struct{ o *tuneOptions }

func (f paramFlag) String() string { return "" }

func (f paramFlag) Set(s string) error {
	field, vals, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want FIELD=V1,V2,..., got %q", s)
	}
	if aimdFloat(&policy.AIMD{}, field) == nil {
		return fmt.Errorf("%q is not a numeric AIMD parameter (want one of %s)", field, strings.Join(aimdFloatFields(), ", "))
	}
	for _, ax := range f.o.axes {
		if ax.field == field {
			if ax.flag != "" {
				return fmt.Errorf("%s has a flag of its own: %s", field, ax.name())
			}
			return fmt.Errorf("%s is given twice", field)
		}
	}
	ax := &axis{field: field}
	if err := ax.grid.Set(vals); err != nil {
		return err
	}
	f.o.axes = append(f.o.axes, ax)
	return nil
}

type tuneOptions struct {
	axes          []*axis
	policyFile    string
	scenarioFiles stringList
	seed          seedFlag
	duration      durationFlag
	maxThrottled  float64
	out, name     string
}

func tuneCommand() *command {
	return &command{
		name:    "tune",
		args:    "[flags] [scenario...]",
		summary: "sweep AIMD parameters over scenarios; pick and write the best",
		about: `Tune plays a grid of AIMD parameters over one or more scenarios (default
S1 S2 S3), starting from policy.DefaultAIMD or --policy-file, and scores each
configuration by its goodput and its throttled share, each averaged over the
scenarios. It prints the configurations no other beats on both (the Pareto
front, highest goodput first) and picks a winner: the highest goodput whose
throttled share is at most --max-throttled, or else the lowest throttled share.
The starting configuration is always played too, so that the sweep shows
what it gains over it; it may win.

The grid is the product of the values given to --increase, --decrease,
--cooldown, --rate, --burst, --min-rate, --max-rate and --param
(comma-separated); --increase and --decrease have default grids, the others
keep the starting value. Runs go in parallel, one per CPU, with their
progress on stderr; the results do not depend on the parallelism.

--out writes the winner as {"<name>": {...every AIMD parameter...}}, which
'dynlimit sim --policy-file' and policy.ParseAIMD (on the entry) read back.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) error {
			o := &tuneOptions{axes: axes()}
			for _, ax := range o.axes {
				usage := fmt.Sprintf("comma-separated `values` of %s to try", ax.field)
				if ax.def != nil {
					usage += " (default " + (*floatList)(&ax.def).String() + ")"
				} else {
					usage += " (default: the starting value)"
				}
				fs.Var(&ax.grid, ax.flag, usage)
			}
			var others []string
			for _, f := range aimdFloatFields() {
				if !slices.ContainsFunc(o.axes, func(ax *axis) bool { return ax.field == f }) {
					others = append(others, f)
				}
			}
			usage := "sweep one more AIMD parameter by its JSON name: `FIELD=V1,V2,...` (repeatable)"
			if len(others) > 0 {
				usage += "; FIELD is one of " + strings.Join(others, ", ")
			}
			fs.Var(paramFlag{o}, "param", usage)
			fs.StringVar(&o.policyFile, "policy-file", "", "start from the AIMD parameters in this JSON `file` instead of the defaults")
			fs.Var(&o.scenarioFiles, "scenario-file", "play the scenario in this JSON `file` too (repeatable); with no scenario named, only the files")
			fs.Var(&o.seed, "seed", "override every scenario's random seed with `N`")
			fs.Var(&o.duration, "duration", "override every scenario's simulated `duration` (e.g. 2m)")
			fs.Float64Var(&o.maxThrottled, "max-throttled", 0.01, "the highest mean throttled `share` (0 to 1) the winner may have")
			fs.StringVar(&o.out, "out", "", "write the winner to this JSON `file`")
			fs.StringVar(&o.name, "name", "tuned", "the winner's name in the --out file")
			return func(pos []string, stdout, stderr io.Writer) error { return o.run(pos, stdout, stderr) }
		},
	}
}

// config is one point of the grid and its score.
type config struct {
	a     policy.AIMD
	start bool // the starting configuration
	// Means over the scenarios.
	goodput, throttled float64
	failed             uint64 // in total
	results            []*simtest.Result
}

func (o *tuneOptions) run(pos []string, stdout, stderr io.Writer) error {
	if o.maxThrottled < 0 || o.maxThrottled > 1 {
		return usagef("--max-throttled %v: want a share within [0, 1]", o.maxThrottled)
	}
	if o.name == "" {
		return usagef("--name must not be empty")
	}
	start := policy.DefaultAIMD()
	startName := "policy.DefaultAIMD"
	if o.policyFile != "" {
		var err error
		if _, start, err = loadAIMD(o.policyFile); err != nil {
			return err
		}
		startName = o.policyFile
	}
	scs, err := o.scenarios(pos)
	if err != nil {
		return err
	}
	cfgs, varied, err := o.grid(start)
	if err != nil {
		return err
	}

	jobs := make([]job, 0, len(cfgs)*len(scs))
	for i, c := range cfgs {
		for _, sc := range scs {
			jobs = append(jobs, job{sc, simtest.Dynlimit("config-"+strconv.Itoa(i+1), c.a)})
		}
	}
	names := make([]string, len(scs))
	for i, sc := range scs {
		names[i] = sc.Name
	}
	fmt.Fprintf(stderr, "tune: %d configurations x %d scenarios (%s) = %d runs\n",
		len(cfgs), len(scs), strings.Join(names, ", "), len(jobs))
	rs, err := runAll(jobs, progress(stderr, len(jobs)))
	if err != nil {
		return err
	}
	for i := range cfgs {
		c := &cfgs[i]
		c.results = rs[i*len(scs) : (i+1)*len(scs)]
		for _, r := range c.results {
			c.goodput += r.Goodput
			c.throttled += r.ThrottledShare
			c.failed += r.Failed
		}
		c.goodput /= float64(len(scs))
		c.throttled /= float64(len(scs))
	}

	front := paretoFront(cfgs)
	win, why := winner(cfgs, o.maxThrottled)

	fmt.Fprintf(stdout, "Pareto front over %s: mean goodput against mean throttled share\n\n", strings.Join(names, ", "))
	tw := newTable(stdout)
	fmt.Fprint(tw, "#\t")
	for _, ax := range varied {
		fmt.Fprintf(tw, "%s\t", ax.field)
	}
	fmt.Fprint(tw, "goodput\tthrottled\tfailed\n")
	for i, c := range front {
		fmt.Fprintf(tw, "%d\t", i+1)
		for _, ax := range varied {
			fmt.Fprintf(tw, "%s\t", fmtFloat(*ax.ptr(&c.a)))
		}
		var notes []string
		if c == win {
			notes = append(notes, "winner")
		}
		if c.start {
			notes = append(notes, "start")
		}
		fmt.Fprintf(tw, "%.2f%%\t%.2f%%\t%d", 100*c.goodput, 100*c.throttled, c.failed)
		if len(notes) > 0 {
			fmt.Fprintf(tw, "\t%s", strings.Join(notes, ", "))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	st := startConfig(cfgs)
	fmt.Fprintf(stdout, "\nstart (%s): goodput %.2f%%, throttled %.2f%%\n", startName, 100*st.goodput, 100*st.throttled)
	fmt.Fprintf(stdout, "winner (%s): %s: goodput %.2f%%, throttled %.2f%%\n\n",
		why, describe(win.a, varied), 100*win.goodput, 100*win.throttled)
	for _, r := range win.results {
		named := *r
		named.Strategy = o.name
		if err := named.WriteSummary(stdout); err != nil {
			return err
		}
	}

	if o.out != "" {
		b, err := marshalPolicy(o.name, win.a)
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.out, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s (%q)\n", o.out, o.name)
	}
	return nil
}

// scenarios returns the scenarios to play, with the overrides applied.
func (o *tuneOptions) scenarios(pos []string) ([]simtest.Scenario, error) {
	if len(pos) == 0 && len(o.scenarioFiles) == 0 {
		pos = []string{"S1", "S2", "S3"}
	}
	var scs []simtest.Scenario
	for _, name := range pos {
		sc, err := builtinScenario(name)
		if err != nil {
			return nil, err
		}
		scs = append(scs, sc)
	}
	for _, path := range o.scenarioFiles {
		sc, err := loadScenario(path)
		if err != nil {
			return nil, err
		}
		scs = append(scs, sc)
	}
	for i := range scs {
		scs[i] = apply(scs[i], &o.seed, &o.duration)
	}
	return scs, nil
}

// grid returns the configurations to play, the starting one last unless
// the grid has it, and the axes worth showing: those the grid varies or the
// command line names, and always the two factors the sweep is about.
func (o *tuneOptions) grid(start policy.AIMD) ([]config, []*axis, error) {
	values := make([][]float64, len(o.axes))
	var varied []*axis
	for i, ax := range o.axes {
		switch {
		case len(ax.grid) > 0:
			values[i] = ax.grid
		case ax.def != nil:
			values[i] = ax.def
		default:
			values[i] = []float64{*ax.ptr(&start)}
		}
		if len(values[i]) > 1 || ax.def != nil || len(ax.grid) > 0 {
			varied = append(varied, ax)
		}
		// Each value alone, so that an error names the flag it came from.
		for _, v := range values[i] {
			a := start
			*ax.ptr(&a) = v
			if err := a.Validate(); err != nil && fieldOf(err) == ax.field {
				return nil, nil, usagef("%s %s: %v", ax.name(), fmtFloat(v), err)
			}
		}
	}
	var cfgs []config
	hasStart := false
	idx := make([]int, len(values))
	for {
		a := start
		same := true
		for i, ax := range o.axes {
			*ax.ptr(&a) = values[i][idx[i]]
			same = same && *ax.ptr(&a) == *ax.ptr(&start)
		}
		if err := a.Validate(); err != nil {
			return nil, nil, usagef("%s: %v", describe(a, o.axes), err)
		}
		cfgs = append(cfgs, config{a: a, start: same})
		hasStart = hasStart || same
		// The last axis moves fastest, as in nested loops.
		i := len(idx) - 1
		for ; i >= 0; i-- {
			if idx[i]++; idx[i] < len(values[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			break
		}
	}
	if !hasStart {
		cfgs = append(cfgs, config{a: start, start: true})
	}
	return cfgs, varied, nil
}

func fieldOf(err error) string {
	if pe := (*policy.Error)(nil); errors.As(err, &pe) {
		return pe.Field
	}
	return ""
}

// paretoFront returns the configurations that no other beats on both
// goodput and throttled share, highest goodput first.
func paretoFront(cfgs []config) []*config {
	var front []*config
	for i := range cfgs {
		c := &cfgs[i]
		dominated := false
		for j := range cfgs {
			d := &cfgs[j]
			if d.goodput >= c.goodput && d.throttled <= c.throttled && (d.goodput > c.goodput || d.throttled < c.throttled) {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, c)
		}
	}
	// Stable, and ties keep the grid's order: the same bytes every time.
	slices.SortStableFunc(front, func(a, b *config) int {
		return cmp.Or(cmp.Compare(b.goodput, a.goodput), cmp.Compare(a.throttled, b.throttled))
	})
	return front
}

// winner picks the highest goodput within the throttled budget, else the
// lowest throttled share, and says which rule picked it.
func winner(cfgs []config, maxThrottled float64) (*config, string) {
	var best *config
	for i := range cfgs {
		c := &cfgs[i]
		if c.throttled <= maxThrottled && (best == nil || c.goodput > best.goodput ||
			c.goodput == best.goodput && c.throttled < best.throttled) {
			best = c
		}
	}
	if best != nil {
		return best, fmt.Sprintf("the highest goodput with throttled <= %s%%", fmtFloat(100*maxThrottled))
	}
	for i := range cfgs {
		c := &cfgs[i]
		if best == nil || c.throttled < best.throttled ||
			c.throttled == best.throttled && c.goodput > best.goodput {
			best = c
		}
	}
	return best, fmt.Sprintf("none has throttled <= %s%%: the lowest throttled share", fmtFloat(100*maxThrottled))
}

func startConfig(cfgs []config) *config {
	for i := range cfgs {
		if cfgs[i].start {
			return &cfgs[i]
		}
	}
	return &cfgs[len(cfgs)-1]
}

func describe(a policy.AIMD, axs []*axis) string {
	parts := make([]string, len(axs))
	for i, ax := range axs {
		parts[i] = ax.field + " " + fmtFloat(*ax.ptr(&a))
	}
	return strings.Join(parts, ", ")
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// progress reports runs done on w: one updating line on a terminal, a line
// every tenth of the way otherwise, so that a log is not flooded.
func progress(w io.Writer, total int) func(int) {
	if isTerminal(w) {
		return func(n int) {
			fmt.Fprintf(w, "\rtune: %d/%d", n, total)
			if n == total {
				fmt.Fprintln(w)
			}
		}
	}
	step := max(total/10, 1)
	return func(n int) {
		if n%step == 0 || n == total {
			fmt.Fprintf(w, "tune: %d/%d\n", n, total)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
