package bench

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dunglas/httpsfv"
	"github.com/google/go-cmp/cmp"

	"github.com/dynlimit/dynlimit/internal/sfv"
)

// The root module parses Structured Field Values itself (internal/sfv) so
// as to require no module for it; this holds it to the library it replaced,
// github.com/dunglas/httpsfv: the same inputs accepted, the same values.
func FuzzSFVAgainstHTTPSFV(f *testing.F) {
	for _, s := range []string{`"default";r=50;t=30`, `"burst";q=100;w=60, "daily";q=1000;w=86400`,
		`limit=100, remaining=50, reset=30`, `("a" b);p=:aGk=:, @17, %"x%c3%a9"`, `a;b=?1, -1.5`, `*t;k*=1`,
		`1.`, `:=:`, `123456789012.123`, `a=1;x, b`, `"\""`} {
		f.Add(s, "")
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		lines := []string{a}
		if b != "" {
			lines = append(lines, b)
		}
		got, err := sfv.ParseList(lines)
		ref, refErr := httpsfv.UnmarshalList(lines)
		if unpadded(err, refErr) {
			return
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("ParseList(%q): %v; httpsfv: %v", lines, err, refErr)
		}
		if err == nil {
			if diff := cmp.Diff(fromList(ref), got, sameDecimal); diff != "" {
				t.Fatalf("ParseList(%q) (-httpsfv +sfv):\n%s", lines, diff)
			}
		}
		gotD, err := sfv.ParseDictionary(lines)
		refD, refErr := httpsfv.UnmarshalDictionary(lines)
		if unpadded(err, refErr) {
			return
		}
		if (err == nil) != (refErr == nil) {
			t.Fatalf("ParseDictionary(%q): %v; httpsfv: %v", lines, err, refErr)
		}
		if err == nil {
			if diff := cmp.Diff(fromDict(refD), gotD, sameDecimal); diff != "" {
				t.Fatalf("ParseDictionary(%q) (-httpsfv +sfv):\n%s", lines, diff)
			}
		}
	})
}

// unpadded reports the one difference allowed: RFC 9651 section 4.2.7 asks
// parsers not to fail on base64 without its "=" padding, which sfv
// accepts and httpsfv refuses.
func unpadded(err, refErr error) bool {
	return err == nil && refErr != nil && strings.Contains(refErr.Error(), "base64")
}

// sameDecimal compares decimals as the values of one text: the two
// parsers may compute them differently in the last bit.
var sameDecimal = cmp.Comparer(func(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
})

func fromList(l httpsfv.List) []sfv.Member {
	var out []sfv.Member
	for _, m := range l {
		out = append(out, fromMember(m))
	}
	return out
}

func fromDict(d *httpsfv.Dictionary) sfv.Dictionary {
	var out sfv.Dictionary
	for _, k := range d.Names() {
		m, _ := d.Get(k)
		out = append(out, sfv.DictMember{Key: k, Value: fromMember(m)})
	}
	return out
}

func fromMember(m httpsfv.Member) sfv.Member {
	switch m := m.(type) {
	case httpsfv.Item:
		return fromItem(m)
	case httpsfv.InnerList:
		il := sfv.InnerList{Params: fromParams(m.Params)}
		for _, it := range m.Items {
			il.Items = append(il.Items, fromItem(it))
		}
		return il
	}
	panic(fmt.Sprintf("httpsfv member %T", m))
}

func fromItem(it httpsfv.Item) sfv.Item {
	return sfv.Item{Value: fromBare(it.Value), Params: fromParams(it.Params)}
}

func fromParams(p *httpsfv.Params) sfv.Params {
	if p == nil {
		return nil
	}
	var out sfv.Params
	for _, k := range p.Names() {
		v, _ := p.Get(k)
		out = append(out, sfv.Param{Key: k, Value: fromBare(v)})
	}
	return out
}

func fromBare(v any) any {
	switch v := v.(type) {
	case httpsfv.Token:
		return sfv.Token(v)
	case httpsfv.DisplayString:
		return string(v)
	case time.Time:
		return sfv.Date(v.Unix())
	}
	return v
}
