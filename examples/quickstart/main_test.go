package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// row is one line of the quickstart's table.
type row struct {
	sec      int
	rate     float64
	ok, n429 int
}

// TestRun plays the quickstart for 8 s of real time against its 20 req/s
// server and checks the story its doc tells: slow start takes the rate from
// 5 req/s past the limit, a 429 comes and lowers it, and it ends near the
// limit with few of the requests refused.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 8 s of real time")
	}
	const limit = 20
	var out bytes.Buffer
	if err := run(&out, limit, 8*time.Second, 8); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) < 3 || lines[0] != "server limit 20 req/s; 8 workers" || lines[1] != "second  limiter rate  ok/s  429/s" {
		t.Fatalf("no header:\n%s", text)
	}
	var rows []row
	for _, l := range lines[2 : len(lines)-1] {
		var r row
		if _, err := fmt.Sscanf(l, "%d %f/s %d %d", &r.sec, &r.rate, &r.ok, &r.n429); err != nil {
			t.Fatalf("row %q: %v\n%s", l, err, text)
		}
		rows = append(rows, r)
	}
	var granted, throttled, decreases int
	if _, err := fmt.Sscanf(lines[len(lines)-1], "granted %d, throttled %d, decreases %d", &granted, &throttled, &decreases); err != nil {
		t.Fatalf("last line %q: %v\n%s", lines[len(lines)-1], err, text)
	}
	// A busy machine may skip a tick, not most of them.
	if len(rows) < 5 {
		t.Fatalf("%d rows in 8 s:\n%s", len(rows), text)
	}

	peak, at := 0.0, 0
	ok, n429 := 0, 0
	for i, r := range rows {
		if r.rate > peak {
			peak, at = r.rate, i
		}
		ok += r.ok
		n429 += r.n429
	}
	// Slow start from 5 req/s: the rate passes the limit it does not know.
	if peak <= limit || peak > 4*limit {
		t.Errorf("peak rate %.1f/s, want above the limit and within 4 times it:\n%s", peak, text)
	}
	// The 429s it got set the limit and bring the rate back down.
	if n429 == 0 || throttled == 0 || decreases == 0 {
		t.Errorf("%d 429s in the table, throttled %d, decreases %d: the limit was never found:\n%s", n429, throttled, decreases, text)
	}
	last := rows[len(rows)-1]
	if at == len(rows)-1 || last.rate >= peak {
		t.Errorf("the rate ends at its peak (%.1f/s), not below it:\n%s", peak, text)
	}
	if last.rate < limit/2 || last.rate > 2*limit {
		t.Errorf("final rate %.1f/s, want within [%d, %d]:\n%s", last.rate, limit/2, 2*limit, text)
	}
	// Few requests are refused: each 429 pauses the limiter.
	if granted == 0 || throttled*5 > granted {
		t.Errorf("throttled %d of %d granted, want at most a fifth:\n%s", throttled, granted, text)
	}
	// The server lets through at most limit requests a second.
	if ok > limit*(len(rows)+1) {
		t.Errorf("%d successes in %d s, above the server's limit:\n%s", ok, len(rows), text)
	}
}
