package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

func scenariosCommand() *command {
	return &command{
		name:    "scenarios",
		args:    "[flags] [scenario...]",
		summary: "list the built-in scenarios",
		about: `Scenarios lists the built-in scenarios, or the ones named, with what each
shows. A name may be a full name (S2-step) or the part before the dash (S2);
one ending in * names every scenario that starts so, families in full: S8
is S8-moving-r3-p40, S8* the twelve of its family.

With --json it prints their definitions instead; with exactly one name, the
scenario alone, ready to edit and pass to 'dynlimit sim --scenario-file'.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) error {
			asJSON := fs.Bool("json", false, "print the scenarios' definitions as JSON")
			return func(names []string, stdout, _ io.Writer) error {
				scs := simtest.Scenarios()
				if len(names) > 0 {
					scs = nil
					for _, n := range names {
						more, err := builtinScenarios(n)
						if err != nil {
							return err
						}
						scs = append(scs, more...)
					}
				}
				if *asJSON {
					var v any = scs
					if len(scs) == 1 && len(names) == 1 {
						v = scs[0]
					}
					return writeJSON(stdout, v)
				}
				tw := newTable(stdout)
				fmt.Fprintln(tw, "NAME\tDURATION\tDESCRIPTION")
				for _, sc := range scs {
					fmt.Fprintf(tw, "%s\t%v\t%s\n", sc.Name, sc.Duration.D(), sc.Description)
				}
				return tw.Flush()
			}
		},
	}
}

// builtinScenario finds a built-in scenario by name or by the part of its
// name before the dash.
func builtinScenario(name string) (simtest.Scenario, error) {
	if sc, ok := simtest.ScenarioByName(name); ok {
		return sc, nil
	}
	return simtest.Scenario{}, usagef("unknown scenario %q (built-in: %s; S8* for the S8 family)", name, strings.Join(scenarioNames(), ", "))
}

// builtinScenarios is builtinScenario, but a name ending in * is a pattern:
// every built-in scenario whose name starts with what comes before it,
// ignoring case, families in full (simtest.AllScenarios).
func builtinScenarios(name string) ([]simtest.Scenario, error) {
	prefix, ok := strings.CutSuffix(name, "*")
	if !ok {
		sc, err := builtinScenario(name)
		return []simtest.Scenario{sc}, err
	}
	var scs []simtest.Scenario
	for _, sc := range simtest.AllScenarios() {
		if len(sc.Name) >= len(prefix) && strings.EqualFold(sc.Name[:len(prefix)], prefix) {
			scs = append(scs, sc)
		}
	}
	if len(scs) == 0 {
		return nil, usagef("no scenario matches %q (built-in: %s; S8* for the S8 family)", name, strings.Join(scenarioNames(), ", "))
	}
	return scs, nil
}

func scenarioNames() []string {
	var names []string
	for _, sc := range simtest.Scenarios() {
		names = append(names, sc.Name)
	}
	return names
}

// loadScenario reads a scenario file. A scenario without a name takes the
// file's, so that results say where they came from.
func loadScenario(path string) (simtest.Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return simtest.Scenario{}, err
	}
	sc, err := simtest.ParseScenario(data)
	if err != nil {
		return simtest.Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return sc, nil
}

// clientShare is each client's even share of the upstream's hidden rate at
// the start: what someone who knew the limit would configure each client's
// fixed limiter at. With one client it is the limit itself; with several,
// each set to the whole limit would together ask for a multiple of it.
func clientShare(sc simtest.Scenario) float64 {
	return trueRate(sc) / float64(max(sc.Clients.Count, 1))
}

// trueRate is the upstream's hidden rate at the start, in requests per
// second.
func trueRate(sc simtest.Scenario) float64 {
	u := sc.Upstream
	rate, limit := u.Rate, u.Limit
	for _, st := range u.Profile {
		if st.At.D() == 0 {
			rate, limit = st.Rate, st.Limit
		}
	}
	if u.Model == simtest.ModelFixedWindow {
		return float64(limit) / u.Window.D().Seconds()
	}
	return rate
}

// newTable returns a writer of plain-text tables. Text after a row's last
// tab is not padded: end each row without a tab and no line ends in spaces.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
