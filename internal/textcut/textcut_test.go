package textcut_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dynlimit/dynlimit/internal/textcut"
)

func ExampleCut() {
	fmt.Println(textcut.Cut("rate_limit_per_sec", 64))
	fmt.Println(textcut.Cut("rate_limit_per_sec", 10))
	fmt.Println(textcut.Cut("héllo", 2)) // the é is not split
	// Output:
	// rate_limit_per_sec
	// rate_limit...
	// h...
}

func TestCut(t *testing.T) {
	for _, tt := range []struct {
		s     string
		limit int
		want  string
	}{
		{"", 4, ""},
		{"abcd", 4, "abcd"},
		{"abcde", 4, "abcd..."},
		{"ab€", 3, "ab..."},
		{"ab€", 5, "ab€"},
		{"€€", 4, "€..."},
		{"abc", 0, "..."},
		{"abc", -1, "..."},
	} {
		if got := textcut.Cut(tt.s, tt.limit); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
		}
	}
}

// FuzzCut checks that the head is a prefix of at most limit bytes, valid
// UTF-8 when the input is, and the longest such.
func FuzzCut(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Add(strings.Repeat("€", 30), 64)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		h, cut := textcut.Head(s, limit)
		if !strings.HasPrefix(s, h) || cut != (len(s) > limit) || cut && len(h) > max(limit, 0) {
			t.Fatalf("Head(%q, %d) = %q, %v", s, limit, h, cut)
		}
		if utf8.ValidString(s) && !utf8.ValidString(h) {
			t.Fatalf("Head(%q, %d) = %q splits a UTF-8 sequence", s, limit, h)
		}
		if cut && utf8.ValidString(s) && limit > 0 {
			if _, size := utf8.DecodeRuneInString(s[len(h):]); len(h)+size <= limit {
				t.Fatalf("Head(%q, %d) = %q: the next rune fits too", s, limit, h)
			}
		}
	})
}
