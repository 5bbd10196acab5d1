package signal_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/dynlimit/dynlimit/signal"
)

// recordingRule decides when decide is set and records that it was asked.
type recordingRule struct {
	name   string
	decide bool
	kind   signal.Kind
	log    *[]string
}

func (r recordingRule) Decide(*http.Response, error) (signal.Signal, bool) {
	*r.log = append(*r.log, r.name)
	return signal.Signal{Kind: r.kind}, r.decide
}

func TestChain(t *testing.T) {
	fallback := signal.ClassifierFunc(func(*http.Response, error) signal.Signal {
		return signal.Signal{Kind: signal.Failed, Status: -1}
	})
	tests := []struct {
		name    string
		decides []bool
		want    signal.Signal
		asked   []string
	}{
		{"no rules: fallback", nil, signal.Signal{Kind: signal.Failed, Status: -1}, nil},
		{"none decides: fallback", []bool{false, false}, signal.Signal{Kind: signal.Failed, Status: -1}, []string{"r0", "r1"}},
		{"first decides", []bool{true, true}, signal.Signal{Kind: signal.Throttled}, []string{"r0"}},
		{"second decides, third not asked", []bool{false, true, true}, signal.Signal{Kind: signal.Overloaded}, []string{"r0", "r1"}},
	}
	kinds := []signal.Kind{signal.Throttled, signal.Overloaded, signal.Canceled}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			var rules []signal.Rule
			for i, d := range tt.decides {
				rules = append(rules, recordingRule{name: "r" + string(rune('0'+i)), decide: d, kind: kinds[i], log: &log})
			}
			c := signal.Chain(fallback, rules...)
			if got := classify(c, http.StatusOK, nil); got != tt.want {
				t.Errorf("Classify = %+v, want %+v", got, tt.want)
			}
			if strings.Join(log, ",") != strings.Join(tt.asked, ",") {
				t.Errorf("rules asked: %v, want %v", log, tt.asked)
			}
		})
	}
}

func TestChainNilFallbackIsHTTP(t *testing.T) {
	c := signal.Chain(nil)
	if got := classify(c, http.StatusTooManyRequests, hdr("Retry-After", "2")); got.Kind != signal.Throttled || got.RetryAfter == 0 {
		t.Errorf("429 = %+v, want what HTTP{} says", got)
	}
}

func TestChainCopiesRules(t *testing.T) {
	throttle := signal.RuleFunc(func(*http.Response, error) (signal.Signal, bool) {
		return signal.Signal{Kind: signal.Throttled}, true
	})
	pass := signal.RuleFunc(func(*http.Response, error) (signal.Signal, bool) { return signal.Signal{}, false })
	rules := []signal.Rule{pass}
	c := signal.Chain(nil, rules...)
	rules[0] = throttle
	if got := classify(c, http.StatusOK, nil).Kind; got != signal.Success {
		t.Errorf("after the caller changed its slice, Classify = %v; the chain should keep its own rules", got)
	}
}

func TestRuleFuncSeesArguments(t *testing.T) {
	errBoom := errors.New("boom")
	resp := &http.Response{StatusCode: http.StatusInternalServerError}
	var gotResp *http.Response
	var gotErr error
	c := signal.Chain(nil, signal.RuleFunc(func(r *http.Response, err error) (signal.Signal, bool) {
		gotResp, gotErr = r, err
		return signal.Signal{}, false
	}))
	if got := c.Classify(resp, errBoom).Kind; got != signal.Overloaded {
		t.Errorf("fallback for a transport error = %v, want overloaded", got)
	}
	if gotResp != resp || !errors.Is(gotErr, errBoom) {
		t.Errorf("rule saw (%v, %v), want the arguments of Classify", gotResp, gotErr)
	}
}

// closeBody records whether Close was called.
type closeBody struct {
	io.Reader
	closed int
}

func (b *closeBody) Close() error { b.closed++; return nil }

func TestPeekBody(t *testing.T) {
	const text = "hello, world"
	tests := []struct {
		name string
		n    int
		want string
	}{
		{"prefix", 5, "hello"},
		{"all of it", len(text), text},
		{"more than the body", 1 << 20, text},
		{"one byte", 1, "h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := &closeBody{Reader: iotest.OneByteReader(strings.NewReader(text))}
			resp := &http.Response{StatusCode: http.StatusForbidden, Body: orig}
			got, err := signal.PeekBody(resp, tt.n)
			if err != nil || string(got) != tt.want {
				t.Fatalf("PeekBody(%d) = %q, %v; want %q", tt.n, got, err, tt.want)
			}
			all, err := io.ReadAll(resp.Body)
			if err != nil || string(all) != text {
				t.Fatalf("body after peeking = %q, %v; want %q intact", all, err, text)
			}
			if orig.closed != 0 {
				t.Fatal("PeekBody closed the original body")
			}
			if err := resp.Body.Close(); err != nil || orig.closed != 1 {
				t.Errorf("Close = %v, original closed %d times; want it closed once", err, orig.closed)
			}
		})
	}
}

func TestPeekBodyNothingToPeek(t *testing.T) {
	body := io.NopCloser(strings.NewReader("x"))
	tests := []struct {
		name string
		resp *http.Response
		n    int
	}{
		{"nil response", nil, 10},
		{"nil body", &http.Response{}, 10},
		{"NoBody", &http.Response{Body: http.NoBody}, 10},
		{"n zero", &http.Response{Body: body}, 0},
		{"n negative", &http.Response{Body: body}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before io.ReadCloser
			if tt.resp != nil {
				before = tt.resp.Body
			}
			got, err := signal.PeekBody(tt.resp, tt.n)
			if got != nil || err != nil {
				t.Errorf("PeekBody = %q, %v; want nil, nil", got, err)
			}
			if tt.resp != nil && tt.resp.Body != before {
				t.Error("PeekBody replaced the body")
			}
		})
	}
}

func TestPeekBodyEmptyBody(t *testing.T) {
	resp := &http.Response{Body: io.NopCloser(strings.NewReader(""))}
	got, err := signal.PeekBody(resp, 10)
	if len(got) != 0 || err != nil {
		t.Errorf("PeekBody(empty) = %q, %v", got, err)
	}
	if all, err := io.ReadAll(resp.Body); len(all) != 0 || err != nil {
		t.Errorf("body = %q, %v", all, err)
	}
}

// Peeking twice (two rules of a chain) sees the same bytes and still leaves
// the body whole.
func TestPeekBodyTwice(t *testing.T) {
	resp := &http.Response{Body: io.NopCloser(strings.NewReader("abcdef"))}
	a, _ := signal.PeekBody(resp, 3)
	b, _ := signal.PeekBody(resp, 4)
	if string(a) != "abc" || string(b) != "abcd" {
		t.Errorf("peeks = %q, %q", a, b)
	}
	if all, _ := io.ReadAll(resp.Body); string(all) != "abcdef" {
		t.Errorf("body = %q, want abcdef", all)
	}
}

// What a rule does to the bytes it peeked does not reach the caller.
func TestPeekBodyCopy(t *testing.T) {
	resp := &http.Response{Body: io.NopCloser(strings.NewReader("abc"))}
	p, _ := signal.PeekBody(resp, 3)
	copy(p, "xyz")
	if all, _ := io.ReadAll(resp.Body); string(all) != "abc" {
		t.Errorf("body = %q, want abc", all)
	}
}

func TestPeekBodyReadError(t *testing.T) {
	errRead := errors.New("connection reset")
	orig := io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errRead))
	resp := &http.Response{Body: io.NopCloser(orig)}
	got, err := signal.PeekBody(resp, 10)
	if string(got) != "abc" || !errors.Is(err, errRead) {
		t.Fatalf("PeekBody = %q, %v; want the bytes before the error and the error", got, err)
	}
	all, err := io.ReadAll(resp.Body)
	if !bytes.Equal(all, []byte("abc")) || !errors.Is(err, errRead) {
		t.Errorf("body = %q, %v; want the peeked bytes, then the original's error", all, err)
	}
}
