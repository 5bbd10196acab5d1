package integrations_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/integrations"
)

// docs/integrations.md tabulates the built-ins and copies their sources;
// this keeps the page and the code from drifting apart.
func TestDocsMatchTheBuiltins(t *testing.T) {
	data, err := os.ReadFile("../docs/integrations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'g', 3, 64) }
	b := integrations.Builtin()
	for _, name := range integrations.Names(b) {
		c := b[name]
		base, key, inFlight, pause := "", "", "", ""
		if c.BaseURL != "" {
			base = "`" + c.BaseURL + "`"
		}
		if c.Key != "" {
			key = "`" + c.Key + "`"
		}
		if c.MaxInFlight > 0 {
			inFlight = strconv.Itoa(c.MaxInFlight)
		}
		if c.MinRetryAfterSec > 0 {
			pause = num(c.MinRetryAfterSec) + " s"
		}
		var st []string
		for _, s := range c.BackoffStatusCodes {
			st = append(st, strconv.Itoa(s))
		}
		row := "| " + strings.Join([]string{name, dash(base), num(c.AIMD.Rate), num(c.AIMD.Burst), num(c.AIMD.MaxRate),
			dash(key), dash(inFlight), strings.Join(st, ", "), dash(pause)}, " | ") + " |\n"
		if !strings.Contains(doc, row) {
			t.Errorf("docs/integrations.md has no row\n%s", row)
		}
		if src := "- **" + name + "**: " + c.Source + "\n"; !strings.Contains(doc, src) {
			t.Errorf("docs/integrations.md does not carry %s's source:\n%s", name, src)
		}
	}
}
