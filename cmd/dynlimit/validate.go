package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/dynlimit/dynlimit/integrations"
)

func validateCommand() *command {
	return &command{
		name:    "validate",
		args:    "file",
		summary: "check an integration override file and print every problem in it",
		about: `Validate checks an override file (docs/configuration.md) as
integrations.LoadOverrides does and prints every problem in it, one per line,
each naming the integration, the field and the value as written: syntax
errors with their line and column, unknown fields, wrong types, values out of
range, and values that conflict with the built-in they override (a min_rate
above the built-in's max_rate). It exits with 1 when there is any problem,
and prints "ok" with what the file changes otherwise.`,
		flags: func(*flag.FlagSet) func([]string, io.Writer, io.Writer) error {
			return func(pos []string, stdout, _ io.Writer) error {
				if len(pos) != 1 {
					return usagef("want one override file, got %d arguments", len(pos))
				}
				return validateFile(pos[0], stdout)
			}
		},
	}
}

func validateFile(path string, stdout io.Writer) error {
	o, err := integrations.LoadOverridesFile(path)
	var e *integrations.Error
	if errors.As(err, &e) {
		for _, p := range e.Problems {
			fmt.Fprintf(stdout, "%s: %s\n", path, p)
		}
		return fmt.Errorf("%s: %d %s", path, len(e.Problems), plural(len(e.Problems), "problem", "problems"))
	}
	if err != nil {
		return err
	}
	// LoadOverrides checked each entry over its built-in; this cannot fail
	// unless the two disagree, which is worth hearing about.
	if _, err := integrations.Merge(integrations.Builtin(), o); err != nil {
		return err
	}
	var changed, defined []string
	for _, n := range o.Names() {
		if _, ok := integrations.Get(n); ok {
			changed = append(changed, n)
		} else {
			defined = append(defined, n)
		}
	}
	msg := "ok: " + path
	if len(changed) > 0 {
		msg += "; overrides " + strings.Join(changed, ", ")
	}
	if len(defined) > 0 {
		msg += "; defines " + strings.Join(defined, ", ")
	}
	if len(changed)+len(defined) == 0 {
		msg += "; changes nothing"
	}
	fmt.Fprintln(stdout, msg)
	return nil
}
