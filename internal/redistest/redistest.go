package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequiredEnv is the environment variable that turns a missing
// redis-server from a skipped test into a failed one: any non-empty value
// does.
const RequiredEnv = "DYNLIMIT_REDIS_REQUIRED"

// Binary is the name of the server's executable, looked up on PATH.
const Binary = "redis-server"

const (
	// readyTimeout bounds the wait for a new server to answer PING.
	readyTimeout = 10 * time.Second
	// pollInterval is the pause between two readiness probes.
	pollInterval = 10 * time.Millisecond
	// stopTimeout bounds the wait for a graceful exit before SIGKILL.
	stopTimeout = 5 * time.Second
	// commandTimeout bounds one command sent by [Server.Do].
	commandTimeout = 5 * time.Second
	// portAttempts is how many free ports Start tries: another process may
	// take the port between the moment it is found free and the bind.
	portAttempts = 5
	// maxLog is how much of the server's output is kept for error messages.
	maxLog = 16 << 10
)

// Server is a redis-server process started by [Start]. Its methods are
// safe for concurrent use.
type Server struct {
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	proc *process // the current process; nil before the first start
}

// process is one run of redis-server.
type process struct {
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result, readable once done is closed
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start starts a redis-server on a free port of 127.0.0.1, waits until it
// answers PING and registers a cleanup on t that stops it. The server keeps
// nothing on disk (no RDB snapshots, no AOF; its directory is a fresh
// t.TempDir) and accepts connections without a password.
//
// When redis-server is not on PATH, Start skips the test, or fails it when
// the environment variable DYNLIMIT_REDIS_REQUIRED is non-empty; either way
// the message says how to install it. Start also fails the test when the
// server does not start or does not answer within 10 seconds, with the
// server's output in the message.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		msg := fmt.Sprintf("redistest: %s not found on PATH (Debian/Ubuntu: apt-get install redis-server)", Binary)
		if os.Getenv(RequiredEnv) != "" {
			t.Fatalf("%s, and %s is set", msg, RequiredEnv)
		}
		t.Skipf("%s; set %s=1 to fail instead of skipping", msg, RequiredEnv)
	}
	s := &Server{bin: bin, dir: t.TempDir()}
	// Registered after TempDir, so it runs first: the directory is removed
	// only once the server has exited.
	t.Cleanup(s.Stop)

	var lastErr error
	for range portAttempts {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		s.port = port
		if lastErr = s.start(); lastErr == nil {
			return s
		}
		if !errors.Is(lastErr, errAddrInUse) {
			break
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Addr returns the server's address, "127.0.0.1:PORT". It does not change
// across [Server.Restart].
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Kill sends SIGKILL to the server and waits for the process to exit: the
// server vanishes at once, as in a crash, and its data with it. Connections
// to it break and new ones are refused until [Server.Restart]. Kill does
// nothing if the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signalAndWait(syscall.SIGKILL, 0)
}

// Restart starts a fresh, empty server on the same address after
// [Server.Kill] or [Server.Stop], and waits until it answers PING; a server
// still running is killed first. It fails t if the server cannot be started
// or does not answer within 10 seconds (for instance because another
// process took the port in the meantime). The cleanup registered by
// [Start] stops the new process too.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	if err := s.start(); err != nil {
		t.Fatalf("redistest: restart on %s: %v", s.Addr(), err)
	}
}

// Stop shuts the server down: SIGTERM, then SIGKILL if it has not exited
// within 5 seconds; it returns once the process has exited. Stop does
// nothing if the server is not running, so it may follow [Server.Kill] and
// be called more than once. [Start] registers it as a cleanup.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signalAndWait(syscall.SIGTERM, stopTimeout)
}

// CommandStats returns how many times the server has executed each command
// since it started, or since the last [Server.ResetStats], from INFO
// commandstats. Keys are lower-case command names as Redis reports them
// ("evalsha", "get", and "config|resetstat" for a subcommand); commands
// never called are absent. The counts include the commands the helper
// sends itself (PING and INFO while waiting for the server, CONFIG
// RESETSTAT, earlier calls to CommandStats) but not the INFO that reads
// them: call [Server.ResetStats] just before the operation to measure. It
// fails t if the server does not answer.
func (s *Server) CommandStats(t testing.TB) map[string]int64 {
	t.Helper()
	return s.commandStats(t, "calls")
}

// CommandMicros is [Server.CommandStats] for the time spent: the
// microseconds the server spent executing each command (usec of INFO
// commandstats), scripts' own commands included in their EVALSHA's.
func (s *Server) CommandMicros(t testing.TB) map[string]int64 {
	t.Helper()
	return s.commandStats(t, "usec")
}

// commandStats reads field of every command in INFO commandstats.
func (s *Server) commandStats(t testing.TB, field string) map[string]int64 {
	t.Helper()
	reply, err := s.Do("INFO", "commandstats")
	if err != nil {
		t.Fatalf("redistest: INFO commandstats: %v", err)
	}
	text, ok := reply.(string)
	if !ok {
		t.Fatalf("redistest: INFO commandstats: unexpected reply %#v", reply)
	}
	stats, err := parseCommandStats(text, field)
	if err != nil {
		t.Fatalf("redistest: INFO commandstats: %v", err)
	}
	return stats
}

// ResetStats clears the server's statistics (CONFIG RESETSTAT), so that
// [Server.CommandStats] counts from now on; the CONFIG RESETSTAT itself is
// counted, as "config|resetstat". It fails t if the server does not answer.
func (s *Server) ResetStats(t testing.TB) {
	t.Helper()
	if _, err := s.Do("CONFIG", "RESETSTAT"); err != nil {
		t.Fatalf("redistest: CONFIG RESETSTAT: %v", err)
	}
}

// Ping sends PING on a new connection and returns nil if the server
// answers PONG.
func (s *Server) Ping() error {
	reply, err := s.Do("PING")
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("PING: unexpected reply %#v", reply)
	}
	return nil
}

// Do sends one command on a new connection, with a 5-second deadline, and
// returns the reply: a string for a simple or bulk string, an int64 for an
// integer, nil for a null, a []any for an array. An error reply from Redis
// is returned as an error, as is a connection that fails (a killed server).
func (s *Server) Do(args ...string) (any, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(), commandTimeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return roundTrip(conn, time.Now().Add(commandTimeout), args)
}

// errAddrInUse marks a start that failed because the port was taken.
var errAddrInUse = errors.New("address already in use")

// start runs a new process on s.port and waits until it answers PING. On
// failure it leaves no process behind.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return errors.New("server already running")
	}
	out := &tailBuffer{max: maxLog}
	// Every setting is on the command line: no config file, no
	// persistence, no protected mode (it would refuse clients on an
	// interface without a password; the bind keeps the server local).
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--dir", s.dir,
		"--daemonize", "no",
	)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	if err := s.waitReady(p); err != nil {
		s.signalAndWait(syscall.SIGKILL, 0)
		log := p.out.String()
		if !errors.Is(err, errAddrInUse) && strings.Contains(log, "Address already in use") {
			err = fmt.Errorf("%w: %w", errAddrInUse, err)
		}
		return fmt.Errorf("%s on port %d: %w\nserver output:\n%s", s.bin, s.port, err, log)
	}
	return nil
}

// waitReady polls the server with PING until it answers PONG, the process
// exits, or readyTimeout passes.
func (s *Server) waitReady(p *process) error {
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for {
		if p.exited() {
			if p.err == nil {
				return errors.New("exited before answering PING")
			}
			return fmt.Errorf("exited before answering PING: %w", p.err)
		}
		probeDeadline := time.Now().Add(500 * time.Millisecond)
		if probeDeadline.After(deadline) {
			probeDeadline = deadline
		}
		if lastErr = probe(s.Addr(), probeDeadline); lastErr == nil {
			return s.checkOwner(p)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to PING within %v (last error: %w)", readyTimeout, lastErr)
		}
		time.Sleep(pollInterval)
	}
}

// checkOwner makes sure the server answering on s.port is process p, not
// another one that took the port first (p then fails to bind and exits).
func (s *Server) checkOwner(p *process) error {
	reply, err := s.Do("INFO", "server")
	if err != nil {
		return fmt.Errorf("INFO server: %w", err)
	}
	text, _ := reply.(string)
	want := "process_id:" + strconv.Itoa(p.cmd.Process.Pid)
	for line := range strings.Lines(text) {
		if strings.TrimRight(line, "\r\n") == want {
			return nil
		}
	}
	return fmt.Errorf("%w: another server answers on port %d", errAddrInUse, s.port)
}

// probe sends one PING to addr and expects PONG (a server still loading
// answers an error, and is not ready).
func probe(addr string, deadline time.Time) error {
	conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return err
	}
	defer conn.Close()
	reply, err := roundTrip(conn, deadline, []string{"PING"})
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("PING: unexpected reply %#v", reply)
	}
	return nil
}

// signalAndWait sends sig to the current process and waits for it to exit;
// if grace is positive and it has not exited by then, it sends SIGKILL and
// waits again. The caller holds s.mu.
func (s *Server) signalAndWait(sig syscall.Signal, grace time.Duration) {
	p := s.proc
	if p == nil || p.exited() {
		return
	}
	// An error means the process has already exited; done then closes.
	_ = p.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-p.done:
			return
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
		}
	}
	<-p.done
}

// freePort returns a port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, err
	}
	return port, nil
}

// roundTrip writes one command in RESP and reads one reply.
func roundTrip(conn net.Conn, deadline time.Time, args []string) (any, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(b.Bytes()); err != nil {
		return nil, err
	}
	return readReply(bufio.NewReader(conn))
}

// RedisError is an error reply from the server, such as "ERR unknown
// command".
type RedisError string

// Error returns the server's message.
func (e RedisError) Error() string { return "redis: " + string(e) }

// readReply reads one RESP2 reply. An error reply is returned as a
// RedisError; inside an array it becomes the element.
func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return body, nil
	case '-':
		return nil, RedisError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("malformed bulk length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, fmt.Errorf("malformed array length %q", body)
		}
		if n < 0 {
			return nil, nil
		}
		items := make([]any, n)
		for i := range items {
			item, err := readReply(r)
			var redisErr RedisError
			if errors.As(err, &redisErr) {
				item, err = redisErr, nil
			}
			if err != nil {
				return nil, err
			}
			items[i] = item
		}
		return items, nil
	default:
		return nil, fmt.Errorf("unknown reply type %q", kind)
	}
}

// parseCommandStats reads field (calls, usec) of every command in the body
// of INFO commandstats: lines "cmdstat_NAME:calls=N,usec=...", section
// headers starting with '#' and blank lines.
func parseCommandStats(info, field string) (map[string]int64, error) {
	stats := make(map[string]int64)
	for line := range strings.Lines(info) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		v, found := int64(0), false
		for f := range strings.SplitSeq(fields, ",") {
			value, ok := strings.CutPrefix(f, field+"=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("malformed %s in %q", field, line)
			}
			v, found = n, true
			break
		}
		if !found {
			return nil, fmt.Errorf("no %s in %q", field, line)
		}
		stats[strings.ToLower(name)] = v
	}
	return stats, nil
}

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use (the process writes while a failed start reads).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

// Write appends p, dropping the oldest bytes beyond max.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// String returns what the buffer holds.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
