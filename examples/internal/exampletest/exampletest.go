// Package exampletest holds what the API examples' tests share: an address
// that refuses connections, and the checks of what an example tells its
// user when a call fails.
package exampletest

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// RefusedURL returns an http URL whose connections are refused: that of a
// loopback listener, closed before it returns.
func RefusedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr
}

// Expect fails t unless out holds every one of want and none of wrong.
func Expect(t testing.TB, out string, want, wrong []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, w := range wrong {
		if strings.Contains(out, w) {
			t.Errorf("output says %q:\n%s", w, out)
		}
	}
}

// ReportCase is one failure an example must explain: what it prints for Err
// holds Want and none of Wrong.
type ReportCase struct {
	Name  string
	Err   error
	Want  string
	Wrong []string
}

// Reports runs report, an example's explanation of a failed call, on each
// case as a subtest: it must exit 1 and say what the case wants.
func Reports(t *testing.T, report func(io.Writer, error) int, cases []ReportCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var out bytes.Buffer
			if code := report(&out, c.Err); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			Expect(t, out.String(), []string{c.Want}, c.Wrong)
		})
	}
}

// Timeout is a net.Error that timed out, as a client's deadline gives.
type Timeout struct{}

// Error returns "i/o timeout".
func (Timeout) Error() string { return "i/o timeout" }

// Timeout reports true.
func (Timeout) Timeout() bool { return true }

// Temporary reports true.
func (Timeout) Temporary() bool { return true }
