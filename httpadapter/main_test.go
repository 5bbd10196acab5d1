package httpadapter_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package when a test leaves net/http goroutines behind:
// synctest bubbles catch their own leaks, but the tests on real sockets
// (and the examples) must close their servers and idle connections.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := netHTTPGoroutines(2 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// netHTTPGoroutines returns the stacks of the goroutines still serving or
// holding a connection once they have had up to wait to wind down.
func netHTTPGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "net/http.(*persistConn)") || strings.Contains(g, "net/http.(*conn).serve") ||
				strings.Contains(g, "net/http/httptest.") {
				leaks = append(leaks, g)
			}
		}
		if len(leaks) == 0 || time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
