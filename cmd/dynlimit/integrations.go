package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/dynlimit/dynlimit/integrations"
	"github.com/dynlimit/dynlimit/internal/simtest"
)

func integrationsCommand() *command {
	return &command{
		name:    "integrations",
		args:    "[flags] [name...]",
		summary: "list the built-in API configurations, or those an override file makes",
		about: `Integrations lists the built-in configurations, or the ones named: the base
URL, the starting rate in requests per second, the burst, how requests split
into limiters (key), the in-flight cap and the statuses that mean throttling.
docs/integrations.md says where each number comes from.

--overrides lays an override file over the built-ins first, as
integrations.WithOverrides does, so that its custom integrations are listed
too. --json prints the configurations in full as an override file, which
'dynlimit validate' and --overrides read back.`,
		flags: func(fs *flag.FlagSet) func([]string, io.Writer, io.Writer) error {
			asJSON := fs.Bool("json", false, "print the configurations in full, as an override file")
			overrides := fs.String("overrides", "", "lay this override `file` over the built-ins first")
			return func(names []string, stdout, _ io.Writer) error {
				configs, err := loadConfigs(*overrides)
				if err != nil {
					return err
				}
				if len(names) == 0 {
					names = integrations.Names(configs)
				}
				chosen := make(map[string]integrations.Config, len(names))
				for _, n := range names {
					c, ok := configs[n]
					if !ok {
						return unknownIntegration("", n, configs)
					}
					chosen[n] = c
				}
				if *asJSON {
					return writeJSON(stdout, chosen)
				}
				tw := newTable(stdout)
				fmt.Fprintln(tw, "NAME\tBASE URL\tRATE/S\tBURST\tKEY\tIN-FLIGHT\tTHROTTLE")
				for _, n := range names {
					c := chosen[n]
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, orDash(c.BaseURL),
						number(c.AIMD.Rate), number(c.AIMD.Burst), orDash(c.Key),
						orDash(positive(c.MaxInFlight)), statuses(c.BackoffStatusCodes))
				}
				return tw.Flush()
			}
		},
	}
}

// loadConfigs returns the built-ins with the override file at path laid
// over them; the built-ins alone when path is empty.
func loadConfigs(path string) (map[string]integrations.Config, error) {
	if path == "" {
		return integrations.Builtin(), nil
	}
	o, err := integrations.LoadOverridesFile(path)
	if err != nil {
		return nil, err
	}
	return integrations.Merge(integrations.Builtin(), o)
}

// integrationStrategy is the simulator's strategy for the integration
// name: its policy, in-flight cap and classifier.
func integrationStrategy(name, overrides string) (simtest.Strategy, error) {
	configs, err := loadConfigs(overrides)
	if err != nil {
		return simtest.Strategy{}, err
	}
	c, ok := configs[name]
	if !ok {
		return simtest.Strategy{}, unknownIntegration("--integration ", name, configs)
	}
	st := simtest.Dynlimit(name, c.NewPolicy())
	st.MaxInFlight = c.MaxInFlight
	st.Classifier = c.NewClassifier
	return st, nil
}

func unknownIntegration(prefix, name string, configs map[string]integrations.Config) error {
	return usagef("%sunknown integration %q; available: %s", prefix, name,
		strings.Join(integrations.Names(configs), ", "))
}

// number prints a rate or a burst with three significant digits: 20/min is
// 0.333, GitHub's 5,000/h is 1.39.
func number(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }

func positive(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// statuses prints a status list; nil stands for the default it means.
func statuses(codes []int) string {
	if codes == nil {
		codes = []int{429}
	}
	if len(codes) == 0 {
		return "none"
	}
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}
