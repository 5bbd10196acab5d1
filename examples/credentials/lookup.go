package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// ErrNotFound reports that no source holds the token.
var ErrNotFound = errors.New("credentials: token not found")

// Secret holds a token. Its String and GoString methods hide the value, so
// that a Secret passed to a logger or a fmt verb by mistake prints
// "[redacted]"; Reveal returns the value for the one place that needs it,
// the Authorization header.
type Secret struct{ v string }

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (Secret) GoString() string { return "[redacted]" }

// Reveal returns the token itself.
func (s Secret) Reveal() string { return s.v }

// runner runs a command and returns its standard output; tests replace it.
var runner = func(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = nil // the tools print nothing useful, and never the secret, on stderr
	err := cmd.Run()
	return out.Bytes(), err
}

// goos is runtime.GOOS; tests replace it.
var goos = runtime.GOOS

// Lookup returns the token stored for service and account in the OS
// keychain, else the value of the environment variable env, and says where
// it came from. A missing tool or entry is not an error: the next source is
// tried. It returns ErrNotFound when no source has it.
func Lookup(ctx context.Context, service, account, env string) (Secret, string, error) {
	var (
		out []byte
		err error
	)
	switch goos {
	case "darwin":
		out, err = runner(ctx, "security", "find-generic-password", "-s", service, "-a", account, "-w")
	case "linux", "freebsd", "openbsd", "netbsd":
		out, err = runner(ctx, "secret-tool", "lookup", "service", service, "account", account)
	default:
		err = errors.ErrUnsupported
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Secret{}, "", fmt.Errorf("credentials: keychain: %w", ctxErr)
	}
	if err == nil {
		if tok := strings.TrimRight(string(out), "\r\n"); tok != "" {
			return Secret{tok}, "OS keychain", nil
		}
	}
	if tok := os.Getenv(env); tok != "" {
		return Secret{tok}, "environment variable " + env, nil
	}
	return Secret{}, "", ErrNotFound
}
