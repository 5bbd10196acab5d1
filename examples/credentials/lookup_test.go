package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func fake(t *testing.T, os string, out string, err error) *[]string {
	t.Helper()
	var called []string
	oldRunner, oldOS := runner, goos
	t.Cleanup(func() { runner, goos = oldRunner, oldOS })
	goos = os
	runner = func(_ context.Context, name string, args ...string) ([]byte, error) {
		called = append(called, fmt.Sprint(append([]string{name}, args...)))
		return []byte(out), err
	}
	return &called
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		os, out   string
		runErr    error
		env       string
		wantTok   string
		wantFrom  string
		wantErr   error
		wantCalls string
	}{
		{name: "macOS keychain", os: "darwin", out: "s3cret\n", wantTok: "s3cret", wantFrom: "OS keychain",
			wantCalls: "[[security find-generic-password -s svc -a acct -w]]"},
		{name: "Linux secret service", os: "linux", out: "s3cret", wantTok: "s3cret", wantFrom: "OS keychain",
			wantCalls: "[[secret-tool lookup service svc account acct]]"},
		{name: "not in the keychain: environment", os: "linux", runErr: errors.New("exit status 1"), env: "from-env",
			wantTok: "from-env", wantFrom: "environment variable TOKEN_FOR_TEST"},
		{name: "empty keychain answer: environment", os: "darwin", out: "\n", env: "from-env",
			wantTok: "from-env", wantFrom: "environment variable TOKEN_FOR_TEST"},
		{name: "no keychain on this OS", os: "plan9", env: "from-env", wantTok: "from-env",
			wantFrom: "environment variable TOKEN_FOR_TEST", wantCalls: "[]"},
		{name: "nowhere", os: "linux", runErr: errors.New("not found"), wantErr: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := fake(t, tt.os, tt.out, tt.runErr)
			t.Setenv("TOKEN_FOR_TEST", tt.env)
			tok, from, err := Lookup(context.Background(), "svc", "acct", "TOKEN_FOR_TEST")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tok.Reveal() != tt.wantTok || from != tt.wantFrom {
				t.Errorf("Lookup = (%q, %q), want (%q, %q)", tok.Reveal(), from, tt.wantTok, tt.wantFrom)
			}
			if tt.wantCalls != "" && fmt.Sprint(*calls) != tt.wantCalls {
				t.Errorf("ran %v, want %v", *calls, tt.wantCalls)
			}
		})
	}
}

// A Secret never prints its value, whatever the verb.
func TestSecretIsRedacted(t *testing.T) {
	s := Secret{"s3cret"}
	for _, format := range []string{"%s", "%v", "%+v", "%#v", "%q"} {
		if got := fmt.Sprintf(format, s); got == "" || contains(got, "s3cret") {
			t.Errorf("Sprintf(%q) = %q: the secret shows", format, got)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
