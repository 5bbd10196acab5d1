package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1 // the command line was fine, something else failed
	exitUsage   = 2 // the command line was not
)

// command is one subcommand.
type command struct {
	name    string
	args    string // what follows the name in the usage line
	summary string // one line, for the command list
	about   string // paragraphs printed under the usage line by -h
	// flags defines the command's flags on fs and returns what runs once
	// they are parsed, with the positional arguments.
	flags func(fs *flag.FlagSet) func(pos []string, stdout, stderr io.Writer) error
}

func commands() []*command {
	return []*command{simCommand(), tuneCommand(), scenariosCommand(), integrationsCommand(), validateCommand()}
}

// run is main without the process: it returns the exit code, so that tests
// can drive every path.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeMainUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			c := lookup(args[1])
			if c == nil {
				fmt.Fprintf(stderr, "dynlimit help: unknown command %q\n", args[1])
				return exitUsage
			}
			fs := newFlagSet(c)
			c.flags(fs)
			c.writeUsage(stdout, fs)
			return exitOK
		}
		writeMainUsage(stdout)
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "dynlimit: unknown command %q\nRun 'dynlimit -h' for usage.\n", name)
		return exitUsage
	}
	fs := newFlagSet(c)
	exec := c.flags(fs)
	pos, err := c.parseFlags(fs, args[1:], stdout)
	if err == nil {
		err = exec(pos, stdout, stderr)
	}
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "dynlimit %s: %v\nRun 'dynlimit %s -h' for usage.\n", c.name, ue.err, c.name)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "dynlimit %s: %v\n", c.name, err)
		return exitRuntime
	}
}

func lookup(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func writeMainUsage(w io.Writer) {
	fmt.Fprint(w, `dynlimit runs the dynlimit simulator: how a rate-limiting strategy fares
against a model of an upstream API, and which AIMD parameters fare best. It
also lists the built-in API configurations and checks override files.

Usage:

	dynlimit <command> [flags] [arguments]

Commands:

`)
	for _, c := range commands() {
		fmt.Fprintf(w, "\t%-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'dynlimit <command> -h' for a command's flags.
`)
}

// writeUsage prints the command's usage and its flags.
func (c *command) writeUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: dynlimit %s %s\n\n%s\n\nFlags:\n", c.name, c.args, strings.TrimSpace(c.about))
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// usageError is a problem with the command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("dynlimit "+c.name, flag.ContinueOnError)
	// The flag package would print its errors and the usage itself; run
	// prints them once, in one format, on the right stream.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args with fs, allowing flags after the positional
// arguments ("sim S2 --json") since that is how people type; "--" ends the
// flags. On -h it prints the usage to stdout and returns flag.ErrHelp.
func (c *command) parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.writeUsage(stdout, fs)
				return nil, flag.ErrHelp
			}
			return nil, &usageError{err}
		}
		rest := fs.Args()
		consumed := args[:len(args)-len(rest)]
		if len(rest) == 0 || len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
