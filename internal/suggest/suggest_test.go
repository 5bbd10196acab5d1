package suggest_test

import (
	"strings"
	"testing"

	"github.com/dynlimit/dynlimit/internal/suggest"
)

func TestClosest(t *testing.T) {
	names := []string{"notion", "slack", "openai", "decrease_factor", "increase_factor"}
	for _, tc := range []struct {
		got  string
		max  int
		want string
	}{
		{"notoin", 2, "notion"},
		{"Notion", 2, "notion"},
		{"NOTION", 0, "notion"},
		{"decrese_factor", 3, "decrease_factor"},
		{"inc_factor", 3, ""},
		{"zzzzzz", 2, ""},
		{"", 2, ""},
		{strings.Repeat("n", 1<<20), 3, ""},
	} {
		if got := suggest.Closest(tc.got, names, tc.max); got != tc.want {
			t.Errorf("Closest(%.20q, %d) = %q, want %q", tc.got, tc.max, got, tc.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"notion", "notoin", 2}, {"abc", "abc", 0}} {
		if got := suggest.Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
