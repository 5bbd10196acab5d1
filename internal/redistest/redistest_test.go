package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStartPing(t *testing.T) {
	t.Parallel()
	s := Start(t)
	host, _, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", s.Addr())
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got, err := s.Do("SET", "k", "v"); err != nil || got != "OK" {
		t.Fatalf("SET = %#v, %v; want OK", got, err)
	}
	if got, err := s.Do("GET", "k"); err != nil || got != "v" {
		t.Fatalf("GET = %#v, %v; want v", got, err)
	}
	if got, err := s.Do("GET", "missing"); err != nil || got != nil {
		t.Fatalf("GET missing = %#v, %v; want nil", got, err)
	}
	if got, err := s.Do("INCRBY", "n", "5"); err != nil || got != int64(5) {
		t.Fatalf("INCRBY = %#v, %v; want 5", got, err)
	}
	_, err = s.Do("NOSUCHCOMMAND")
	var redisErr RedisError
	if !errors.As(err, &redisErr) || !strings.HasPrefix(string(redisErr), "ERR") {
		t.Fatalf("unknown command: err = %v, want a RedisError starting with ERR", err)
	}
}

func TestParallelServersAreDistinct(t *testing.T) {
	t.Parallel()
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers on %s", a.Addr())
	}
	if _, err := a.Do("SET", "k", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Do("GET", "k"); err != nil || got != nil {
		t.Fatalf("GET on the other server = %#v, %v; want nil", got, err)
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	addr := s.Addr()
	if _, err := s.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}

	s.Kill()
	if err := s.Ping(); err == nil {
		t.Fatal("Ping after Kill succeeded")
	}
	s.Kill() // a second Kill is harmless

	s.Restart(t)
	if s.Addr() != addr {
		t.Fatalf("Addr after Restart = %s, want %s", s.Addr(), addr)
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping after Restart: %v", err)
	}
	if got, err := s.Do("GET", "k"); err != nil || got != nil {
		t.Fatalf("GET after Restart = %#v, %v; want nil (a fresh server)", got, err)
	}

	// Restart on a running server kills it first.
	s.Restart(t)
	if err := s.Ping(); err != nil {
		t.Fatalf("Ping after a second Restart: %v", err)
	}

	s.Stop()
	if err := s.Ping(); err == nil {
		t.Fatal("Ping after Stop succeeded")
	}
	s.Stop() // and so is a second Stop, as the cleanup will do
}

func TestCommandStats(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.ResetStats(t)
	for range 3 {
		if _, err := s.Do("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Do("GET", "k"); err != nil {
		t.Fatal(err)
	}
	got := s.CommandStats(t)
	want := map[string]int64{"set": 3, "get": 1, "config|resetstat": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("CommandStats (-want +got):\n%s", diff)
	}
	if got := s.CommandStats(t); got["info"] != 1 {
		t.Fatalf("second CommandStats: info = %d, want 1 (the first read)", got["info"])
	}

	s.ResetStats(t)
	if got := s.CommandStats(t); got["set"] != 0 || got["get"] != 0 {
		t.Fatalf("after ResetStats: %v, want no set or get", got)
	}
}

func TestPortTaken(t *testing.T) {
	t.Parallel()
	s := Start(t)
	// A second server on the same port fails with errAddrInUse, which
	// Start answers with another port, and leaves no process behind.
	other := &Server{bin: s.bin, dir: t.TempDir(), port: s.port}
	err := other.start()
	if !errors.Is(err, errAddrInUse) {
		t.Fatalf("start on a taken port: err = %v, want errAddrInUse", err)
	}
	if !strings.Contains(err.Error(), "server output:") {
		t.Errorf("error %q does not carry the server's output", err)
	}
	if other.proc == nil || !other.proc.exited() {
		t.Fatal("the failed server's process is still running")
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("the first server: %v", err)
	}
}

func TestParseCommandStats(t *testing.T) {
	t.Parallel()
	info := "# Commandstats\r\n" +
		"cmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_config|resetstat:calls=1,usec=33,usec_per_call=33.00\r\n" +
		"cmdstat_PING:calls=7,usec=5\r\n" +
		"\r\n"
	got, err := parseCommandStats(info, "calls")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"evalsha": 12, "config|resetstat": 1, "ping": 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("parseCommandStats (-want +got):\n%s", diff)
	}

	for _, bad := range []string{
		"cmdstat_get\r\n",
		"cmdstat_get:usec=3\r\n",
		"cmdstat_get:calls=x,usec=3\r\n",
	} {
		if _, err := parseCommandStats(bad, "calls"); err == nil {
			t.Errorf("parseCommandStats(%q) succeeded, want an error", bad)
		}
	}
}

func TestReadReply(t *testing.T) {
	t.Parallel()
	in := "*4\r\n+OK\r\n:-3\r\n$-1\r\n-ERR inner\r\n"
	got, err := readReply(bufio.NewReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"OK", int64(-3), nil, RedisError("ERR inner")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("readReply (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "?x\r\n", "$3\r\nab", "+OK\n", "*x\r\n"} {
		if _, err := readReply(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readReply(%q) succeeded, want an error", bad)
		}
	}
}

func TestMissingBinary(t *testing.T) {
	// Not parallel: it changes the environment.
	t.Setenv("PATH", t.TempDir())
	t.Setenv(RequiredEnv, "")

	ft := &fakeTB{TB: t}
	runFake(func() { Start(ft) })
	if !ft.skipped || ft.failed {
		t.Fatalf("without the env var: skipped=%v failed=%v, want a skip", ft.skipped, ft.failed)
	}
	if !strings.Contains(ft.msg, "apt-get install redis-server") {
		t.Errorf("skip message %q does not name the package", ft.msg)
	}

	t.Setenv(RequiredEnv, "1")
	ft = &fakeTB{TB: t}
	runFake(func() { Start(ft) })
	if !ft.failed || ft.skipped {
		t.Fatalf("with %s=1: skipped=%v failed=%v, want a failure", RequiredEnv, ft.skipped, ft.failed)
	}
	if !strings.Contains(ft.msg, "apt-get install redis-server") {
		t.Errorf("failure message %q does not name the package", ft.msg)
	}
}

// fakeTB records a Skip or Fatal instead of acting on it; runFake stops
// the function it runs at that point, as the testing package does.
type fakeTB struct {
	testing.TB
	msg             string
	skipped, failed bool
}

type fakeStop struct{}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	panic(fakeStop{})
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	panic(fakeStop{})
}

func runFake(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fakeStop); !ok {
				panic(r)
			}
		}
	}()
	fn()
}
