package sfv

import (
	"errors"
	"strconv"
	"strings"
)

// Token is a Token bare item: an unquoted name such as a policy's.
type Token string

// Item is a bare item with its parameters. Value is an int64 (Integer),
// float64 (Decimal), string (String or Display String), Token, []byte
// (Byte Sequence), bool (Boolean) or Date.
type Item struct {
	Value  any
	Params Params
}

// Date is a Date bare item (RFC 9651): seconds since the Unix epoch.
type Date int64

// InnerList is an inner list of items with its parameters.
type InnerList struct {
	Items  []Item
	Params Params
}

// Member is a member of a List or a Dictionary: an Item or an InnerList.
type Member any

// Param is one parameter.
type Param struct {
	Key   string
	Value any
}

// Params are the parameters of an item or an inner list, in order.
type Params []Param

// Get returns the value of the parameter key.
func (p Params) Get(key string) (any, bool) {
	for _, kv := range p {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// DictMember is one member of a Dictionary.
type DictMember struct {
	Key   string
	Value Member
}

// Dictionary is a Dictionary's members, in order.
type Dictionary []DictMember

// Get returns the member key.
func (d Dictionary) Get(key string) (Member, bool) {
	for _, kv := range d {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// ErrSyntax is what every parse error wraps.
var ErrSyntax = errors.New("sfv: invalid structured field")

// parser holds the input left to parse.
type parser struct {
	s string
	i int
}

func (p *parser) fail(what string) error {
	return &syntaxError{what: what, at: p.i}
}

type syntaxError struct {
	what string
	at   int
}

func (e *syntaxError) Error() string {
	return "sfv: " + e.what + " at offset " + strconv.Itoa(e.at)
}

func (e *syntaxError) Unwrap() error { return ErrSyntax }

func (p *parser) done() bool { return p.i >= len(p.s) }

func (p *parser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *parser) skipSP() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *parser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// combine joins the field's lines into one value, as RFC 9651 section 4.2
// asks (by RFC 9110 section 5.3): a comma and a space between two.
func combine(lines []string) string {
	return strings.Join(lines, ", ")
}

// ParseList parses a List field from its lines (RFC 9651 section 4.2.1).
func ParseList(lines []string) ([]Member, error) {
	p := &parser{s: combine(lines)}
	p.skipSP()
	var members []Member
	for !p.done() {
		m, err := p.itemOrInnerList()
		if err != nil {
			return nil, err
		}
		members = append(members, m)
		p.skipOWS()
		if p.done() {
			return members, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected a comma")
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, p.fail("trailing comma")
		}
	}
	return members, nil
}

// ParseDictionary parses a Dictionary field from its lines (RFC 9651
// section 4.2.2). A key given twice keeps its first place and its last
// value.
func ParseDictionary(lines []string) (Dictionary, error) {
	p := &parser{s: combine(lines)}
	p.skipSP()
	var d Dictionary
	for !p.done() {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var m Member
		if p.peek() == '=' {
			p.i++
			if m, err = p.itemOrInnerList(); err != nil {
				return nil, err
			}
		} else {
			params, err := p.params()
			if err != nil {
				return nil, err
			}
			m = Item{Value: true, Params: params}
		}
		d = setMember(d, key, m)
		p.skipOWS()
		if p.done() {
			return d, nil
		}
		if p.s[p.i] != ',' {
			return nil, p.fail("expected a comma")
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil, p.fail("trailing comma")
		}
	}
	return d, nil
}

func setMember(d Dictionary, key string, m Member) Dictionary {
	for i := range d {
		if d[i].Key == key {
			d[i].Value = m
			return d
		}
	}
	return append(d, DictMember{key, m})
}

func (p *parser) itemOrInnerList() (Member, error) {
	if p.peek() == '(' {
		return p.innerList()
	}
	return p.item()
}

func (p *parser) innerList() (InnerList, error) {
	p.i++ // (
	var l InnerList
	for !p.done() {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			params, err := p.params()
			if err != nil {
				return InnerList{}, err
			}
			l.Params = params
			return l, nil
		}
		it, err := p.item()
		if err != nil {
			return InnerList{}, err
		}
		l.Items = append(l.Items, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return InnerList{}, p.fail("expected a space or ) in an inner list")
		}
	}
	return InnerList{}, p.fail("unterminated inner list")
}

func (p *parser) item() (Item, error) {
	v, err := p.bareItem()
	if err != nil {
		return Item{}, err
	}
	params, err := p.params()
	if err != nil {
		return Item{}, err
	}
	return Item{Value: v, Params: params}, nil
}

func (p *parser) params() (Params, error) {
	var ps Params
	for p.peek() == ';' {
		p.i++
		p.skipSP()
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var v any = true
		if p.peek() == '=' {
			p.i++
			if v, err = p.bareItem(); err != nil {
				return nil, err
			}
		}
		replaced := false
		for i := range ps {
			if ps[i].Key == key {
				ps[i].Value, replaced = v, true
				break
			}
		}
		if !replaced {
			ps = append(ps, Param{key, v})
		}
	}
	return ps, nil
}

func isLCAlpha(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool   { return c >= '0' && c <= '9' }

// isTChar reports whether c is a tchar of RFC 9110.
func isTChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *parser) key() (string, error) {
	start := p.i
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", p.fail("a key must start with a lowercase letter or *")
	}
	p.i++
	for !p.done() {
		c := p.s[p.i]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *parser) bareItem() (any, error) {
	switch c := p.peek(); {
	case c == '-' || isDigit(c):
		return p.number()
	case c == '"':
		return p.str()
	case c == '*' || isAlpha(c):
		return p.token(), nil
	case c == ':':
		return p.byteSeq()
	case c == '?':
		return p.boolean()
	case c == '@':
		p.i++
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		i, ok := n.(int64)
		if !ok {
			return nil, p.fail("a date must be an integer")
		}
		return Date(i), nil
	case c == '%':
		return p.displayString()
	}
	return nil, p.fail("not a bare item")
}

// number parses an Integer (up to 15 digits) or a Decimal (up to 12
// digits, a point and up to 3 more).
func (p *parser) number() (any, error) {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	if !isDigit(p.peek()) {
		return nil, p.fail("expected a digit")
	}
	digits, point := 0, -1
scan:
	for !p.done() {
		switch c := p.s[p.i]; {
		case isDigit(c):
			digits++
		case c == '.' && point < 0:
			if digits > 12 {
				return nil, p.fail("a decimal has at most 12 digits before its point")
			}
			point = digits
		default:
			break scan
		}
		if point < 0 && digits > 15 {
			return nil, p.fail("an integer has at most 15 digits")
		}
		if point >= 0 && digits-point > 3 {
			return nil, p.fail("a decimal has at most 3 digits after its point")
		}
		p.i++
	}
	text := p.s[start:p.i]
	if point < 0 {
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, p.fail("bad integer")
		}
		return n, nil
	}
	if point == digits {
		return nil, p.fail("a decimal cannot end with its point")
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, p.fail("bad decimal")
	}
	return f, nil
}

func (p *parser) str() (string, error) {
	p.i++ // "
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.done() {
				return "", p.fail("unterminated escape")
			}
			e := p.s[p.i]
			if e != '"' && e != '\\' {
				return "", p.fail("only \\\" and \\\\ are escapes")
			}
			b.WriteByte(e)
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", p.fail("a string holds printable ASCII only")
		default:
			b.WriteByte(c)
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) token() Token {
	start := p.i
	p.i++
	for !p.done() {
		c := p.s[p.i]
		if !isTChar(c) && c != ':' && c != '/' {
			break
		}
		p.i++
	}
	return Token(p.s[start:p.i])
}

func (p *parser) byteSeq() ([]byte, error) {
	p.i++ // :
	start := p.i
	for !p.done() {
		c := p.s[p.i]
		if c == ':' {
			b64 := p.s[start:p.i]
			p.i++
			return decodeBase64(b64, p)
		}
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return nil, p.fail("a byte sequence holds base64 only")
		}
		p.i++
	}
	return nil, p.fail("unterminated byte sequence")
}

func (p *parser) boolean() (bool, error) {
	p.i++ // ?
	switch p.peek() {
	case '0':
		p.i++
		return false, nil
	case '1':
		p.i++
		return true, nil
	}
	return false, p.fail("a boolean is ?0 or ?1")
}

// displayString parses a Display String (RFC 9651 section 4.2.10):
// %"...", with non-ASCII as percent-encoded UTF-8 in lowercase hex.
func (p *parser) displayString() (string, error) {
	p.i++ // %
	if p.peek() != '"' {
		return "", p.fail(`a display string starts with %"`)
	}
	p.i++
	var b []byte
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c < 0x20 || c > 0x7e:
			return "", p.fail("a display string holds printable ASCII only")
		case c == '%':
			if p.i+2 > len(p.s) {
				return "", p.fail("short percent escape")
			}
			h, ok1 := lowerHex(p.s[p.i])
			l, ok2 := lowerHex(p.s[p.i+1])
			if !ok1 || !ok2 {
				return "", p.fail("a percent escape is two lowercase hex digits")
			}
			b = append(b, h<<4|l)
			p.i += 2
		case c == '"':
			if !utf8Valid(b) {
				return "", p.fail("a display string decodes to UTF-8")
			}
			return string(b), nil
		default:
			b = append(b, c)
		}
	}
	return "", p.fail("unterminated display string")
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
