package sfv_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/internal/sfv"
)

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []sfv.Member
	}{
		{[]string{`"default";r=50;t=30`}, []sfv.Member{
			sfv.Item{Value: "default", Params: sfv.Params{{"r", int64(50)}, {"t", int64(30)}}}}},
		{[]string{`"burst";q=100;w=60`, ` "daily";q=1000;w=86400`}, []sfv.Member{
			sfv.Item{Value: "burst", Params: sfv.Params{{"q", int64(100)}, {"w", int64(60)}}},
			sfv.Item{Value: "daily", Params: sfv.Params{{"q", int64(1000)}, {"w", int64(86400)}}}}},
		{[]string{`tok/en:x;a;b=?0, -1.5, ("a" b);p=:aGk=:, @1700000000, %"caf%c3%a9"`}, []sfv.Member{
			sfv.Item{Value: sfv.Token("tok/en:x"), Params: sfv.Params{{"a", true}, {"b", false}}},
			sfv.Item{Value: -1.5},
			sfv.InnerList{Items: []sfv.Item{{Value: "a"}, {Value: sfv.Token("b")}}, Params: sfv.Params{{"p", []byte("hi")}}},
			sfv.Item{Value: sfv.Date(1700000000)},
			sfv.Item{Value: "café"}}},
		{[]string{`a;x=1;x=2`}, []sfv.Member{sfv.Item{Value: sfv.Token("a"), Params: sfv.Params{{"x", int64(2)}}}}},
		{[]string{`"a \"q\" \\ b"`}, []sfv.Member{sfv.Item{Value: `a "q" \ b`}}},
		{[]string{`123456789012345, 123456789012.123`}, []sfv.Member{sfv.Item{Value: int64(123456789012345)}, sfv.Item{Value: 123456789012.123}}},
		{[]string{``}, nil},
		{[]string{`  1	,	2`}, []sfv.Member{sfv.Item{Value: int64(1)}, sfv.Item{Value: int64(2)}}},
	} {
		got, err := sfv.ParseList(tc.in)
		if err != nil {
			t.Errorf("ParseList(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseList(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseListRejects(t *testing.T) {
	for _, in := range []string{
		`1,`, `1,,2`, `1 2`, `"open`, `"bad \n escape"`, "\"tab\there\"", `1234567890123456`, `1234567890123.1`,
		`1.1234`, `1.`, `-`, `-a`, `?2`, `:not base64!:`, `:aGk=`, `A;B=1`, `a;=1`, `(1 2`, `(1,2)`, `é`, `%"no close`,
		`%"bad%zz"`, `%"%ff"`, `@1.5`, `1 ;a`, `a;b=`, `,1`, "\t1",
	} {
		if got, err := sfv.ParseList([]string{in}); err == nil {
			t.Errorf("ParseList(%q) = %v, want an error", in, got)
		} else if !errors.Is(err, sfv.ErrSyntax) {
			t.Errorf("ParseList(%q): %v does not wrap ErrSyntax", in, err)
		}
	}
}

func TestParseDictionary(t *testing.T) {
	got, err := sfv.ParseDictionary([]string{`limit=100, remaining=50`, `reset=30;x, flag, limit=7`})
	if err != nil {
		t.Fatal(err)
	}
	want := sfv.Dictionary{
		{"limit", sfv.Item{Value: int64(7)}},
		{"remaining", sfv.Item{Value: int64(50)}},
		{"reset", sfv.Item{Value: int64(30), Params: sfv.Params{{"x", true}}}},
		{"flag", sfv.Item{Value: true}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseDictionary (-want +got):\n%s", diff)
	}
	if m, ok := got.Get("remaining"); !ok || m.(sfv.Item).Value != int64(50) {
		t.Errorf("Get(remaining) = %v, %v", m, ok)
	}
	for _, in := range []string{`Limit=1`, `a=1,`, `a=1 b=2`, `a=(1`, `=1`} {
		if _, err := sfv.ParseDictionary([]string{in}); !errors.Is(err, sfv.ErrSyntax) {
			t.Errorf("ParseDictionary(%q): err = %v, want ErrSyntax", in, err)
		}
	}
}

// Whatever the input, the parsers return members or an ErrSyntax, never
// panic, and parse what they accept the same way twice.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`"default";r=50;t=30`, `limit=100, remaining=50, reset=30`, `("a" b);p=:aGk=:, @17, %"x%c3%a9"`,
		`a;b=?1, -1.5`, `*t;k*=1`, `"\"`, `(`, `1.`, `:=:`} {
		f.Add(s, "")
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		lines := []string{a}
		if b != "" {
			lines = append(lines, b)
		}
		l1, err1 := sfv.ParseList(lines)
		l2, err2 := sfv.ParseList(lines)
		if (err1 == nil) != (err2 == nil) || !cmp.Equal(l1, l2) {
			t.Fatalf("ParseList(%q) is not deterministic", lines)
		}
		if err1 != nil && !errors.Is(err1, sfv.ErrSyntax) {
			t.Fatalf("ParseList(%q): %v does not wrap ErrSyntax", lines, err1)
		}
		if _, err := sfv.ParseDictionary(lines); err != nil && !errors.Is(err, sfv.ErrSyntax) {
			t.Fatalf("ParseDictionary(%q): %v does not wrap ErrSyntax", lines, err)
		}
	})
}
