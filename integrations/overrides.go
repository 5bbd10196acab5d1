package integrations

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dynlimit/dynlimit/internal/suggest"
	"github.com/dynlimit/dynlimit/internal/textcut"
)

// JSON names of a Config's fields.
const (
	fBaseURL       = "base_url"
	fPolicy        = "policy"
	fRate          = "rate_limit_per_sec"
	fBurst         = "burst_size"
	fIncrease      = "increase_factor"
	fDecrease      = "decrease_factor"
	fMinRate       = "min_rate"
	fMaxRate       = "max_rate"
	fCooldown      = "cooldown_multiplier"
	fSlowStart     = "slow_start_sec"
	fRecovery      = "recovery_sec"
	fProbe         = "probe_sec"
	fRestart       = "restart_above"
	fBeta          = "beta"
	fScaleConstant = "scale_constant"
	fSmooth        = "smooth"
	fBackoff       = "backoff_status_codes"
	fOverload      = "overload_status_codes"
	fRetries       = "max_retries_on_backoff"
	fMaxWait       = "max_wait_sec"
	fMaxPause      = "max_pause_sec"
	fMaxInFlight   = "max_in_flight"
	fKey           = "key"
	fMinRetryAfter = "min_retry_after_sec"
	fTokensPerSec  = "tokens_per_sec"
	fTokenBurst    = "token_burst"
)

// maxOverridesSize bounds what LoadOverrides reads: an override file is a
// few kilobytes, and a stray multi-gigabyte input should be an error rather
// than an allocation.
const maxOverridesSize = 8 << 20

// maxProblems bounds the problems listed for one file: a real file has a
// handful, and a file of garbage should not print a million lines.
const maxProblems = 1000

// fieldSpec is one field of a Config's JSON object: exactly one of the
// accessors is set, by type.
type fieldSpec struct {
	name  string
	num   func(*Config) *float64
	whole func(*Config) *int
	list  func(*Config) *[]int
	text  func(*Config) *string
}

var fieldSpecs = []fieldSpec{
	{name: fBaseURL, text: func(c *Config) *string { return &c.BaseURL }},
	{name: fPolicy, text: func(c *Config) *string { return &c.PolicyName }},
	{name: fRate, num: func(c *Config) *float64 { return &c.AIMD.Rate }},
	{name: fBurst, num: func(c *Config) *float64 { return &c.AIMD.Burst }},
	{name: fIncrease, num: func(c *Config) *float64 { return &c.AIMD.IncreaseFactor }},
	{name: fDecrease, num: func(c *Config) *float64 { return &c.AIMD.DecreaseFactor }},
	{name: fMinRate, num: func(c *Config) *float64 { return &c.AIMD.MinRate }},
	{name: fMaxRate, num: func(c *Config) *float64 { return &c.AIMD.MaxRate }},
	{name: fCooldown, num: func(c *Config) *float64 { return &c.AIMD.CooldownMultiplier }},
	{name: fSlowStart, num: func(c *Config) *float64 { return &c.AIMD.SlowStart }},
	{name: fRecovery, num: func(c *Config) *float64 { return &c.AIMD.Recovery }},
	{name: fProbe, num: func(c *Config) *float64 { return &c.AIMD.Probe }},
	{name: fRestart, num: func(c *Config) *float64 { return &c.AIMD.Restart }},
	{name: fBeta, num: func(c *Config) *float64 { return &c.CUBIC.Beta }},
	{name: fScaleConstant, num: func(c *Config) *float64 { return &c.CUBIC.ScaleConstant }},
	{name: fSmooth, num: func(c *Config) *float64 { return &c.CUBIC.Smooth }},
	{name: fBackoff, list: func(c *Config) *[]int { return &c.BackoffStatusCodes }},
	{name: fOverload, list: func(c *Config) *[]int { return &c.OverloadStatusCodes }},
	{name: fRetries, whole: func(c *Config) *int { return &c.MaxRetriesOnBackoff }},
	{name: fMaxWait, num: func(c *Config) *float64 { return &c.MaxWaitSec }},
	{name: fMaxPause, num: func(c *Config) *float64 { return &c.MaxPauseSec }},
	{name: fMaxInFlight, whole: func(c *Config) *int { return &c.MaxInFlight }},
	{name: fKey, text: func(c *Config) *string { return &c.Key }},
	{name: fMinRetryAfter, num: func(c *Config) *float64 { return &c.MinRetryAfterSec }},
	{name: fTokensPerSec, num: func(c *Config) *float64 { return &c.TokensPerSec }},
	{name: fTokenBurst, num: func(c *Config) *float64 { return &c.TokenBurst }},
}

func specFor(name string) (fieldSpec, bool) {
	for _, f := range fieldSpecs {
		if f.name == name {
			return f, true
		}
	}
	return fieldSpec{}, false
}

// decode sets f in c from raw, or says why it cannot.
func (f fieldSpec) decode(raw json.RawMessage, c *Config) (reason string) {
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch {
	case f.num != nil:
		if isNull {
			return "must be a number, not null"
		}
		var x float64
		if err := json.Unmarshal(raw, &x); err != nil {
			if isJSONNumber(raw) {
				return f.rangeReason(*c, raw, "must be a finite number; this one is out of range")
			}
			return "must be a number"
		}
		*f.num(c) = x
	case f.whole != nil:
		if isNull {
			return "must be a whole number, not null"
		}
		n, w := wholeJSON(raw)
		switch w {
		case notWhole:
			return "must be a whole number"
		case outOfRange:
			return f.rangeReason(*c, raw, "must be a whole number")
		}
		*f.whole(c) = n
	case f.list != nil:
		if isNull {
			return "must be a list of HTTP statuses, not null ([] for none)"
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return "must be a list of HTTP statuses such as [429, 503]"
		}
		codes := make([]int, 0, len(items))
		for _, it := range items {
			n, w := wholeJSON(it)
			switch w {
			case notWhole:
				return "must be a list of HTTP statuses such as [429, 503]; " + rawText(it) + " is not a whole number"
			case outOfRange:
				return "must be a list of HTTP error statuses, 400 to 599; " + rawText(it) + " is out of range"
			}
			codes = append(codes, n)
		}
		*f.list(c) = codes
	default:
		if isNull {
			return "must be a string, not null"
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "must be a string"
		}
		*f.text(c) = s
	}
	return ""
}

func (f fieldSpec) copy(dst, src *Config) {
	switch {
	case f.num != nil:
		*f.num(dst) = *f.num(src)
	case f.whole != nil:
		*f.whole(dst) = *f.whole(src)
	case f.list != nil:
		*f.list(dst) = slices.Clone(*f.list(src))
	default:
		*f.text(dst) = *f.text(src)
	}
}

func isJSONNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9')
}

// wholeResult is what wholeJSON found.
type wholeResult uint8

const (
	isWhole    wholeResult = iota
	notWhole               // not a number, or one with a fractional part
	outOfRange             // a whole number beyond ±1e9, or beyond float64's range
)

// maxWholeJSON bounds the whole numbers wholeJSON decodes: far above every
// field's own bound, far below an int's.
const maxWholeJSON = 1e9

// wholeJSON decodes a JSON number with no fractional part; 3.0 is accepted,
// as some tools write every number as a float.
func wholeJSON(raw json.RawMessage) (int, wholeResult) {
	if !isJSONNumber(raw) {
		return 0, notWhole
	}
	var x float64
	if err := json.Unmarshal(raw, &x); err != nil {
		return 0, outOfRange // a number, so the error is strconv's range error
	}
	switch {
	case x != math.Trunc(x):
		return 0, notWhole
	case math.Abs(x) > maxWholeJSON:
		return 0, outOfRange
	}
	return int(x), isWhole
}

// rangeReason says what values f takes, for a number in raw too large for
// the decoder (1e309, or 1e20 for an int): Validate's reason for a value
// beyond every bound, of raw's sign, so that the message names the range
// Validate enforces. fallback is for a field Validate does not bound.
func (f fieldSpec) rangeReason(c Config, raw json.RawMessage, fallback string) string {
	negative := bytes.TrimSpace(raw)[0] == '-'
	switch {
	case f.num != nil:
		*f.num(&c) = math.Inf(1)
		if negative {
			*f.num(&c) = math.Inf(-1)
		}
	case f.whole != nil:
		*f.whole(&c) = math.MaxInt
		if negative {
			*f.whole(&c) = math.MinInt
		}
	}
	for _, p := range c.validate(nil) {
		if p.Field == f.name {
			return p.Reason
		}
	}
	return fallback
}

// entryResult is what decoding one override entry found.
type entryResult struct {
	problems []Problem
	named    []string // fields decoded, in the order of the file
	bad      []string // fields named that could not be decoded
}

// decodeEntry applies the members of one entry to c.
func decodeEntry(name string, members []jsonMember, c *Config) entryResult {
	var r entryResult
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if seen[m.key] {
			r.problems = append(r.problems, Problem{Integration: name, Field: shortField(m.key), Value: rawText(m.raw),
				Reason: "named twice; a JSON decoder would silently keep only one"})
			r.bad = append(r.bad, m.key)
			continue
		}
		seen[m.key] = true
		spec, ok := specFor(m.key)
		if !ok {
			r.problems = append(r.problems, Problem{Integration: name, Field: shortField(m.key), Value: rawText(m.raw), Reason: unknownField(m.key)})
			continue
		}
		oldBackoff, oldOverload := c.BackoffStatusCodes, c.OverloadStatusCodes
		if reason := spec.decode(m.raw, c); reason != "" {
			r.problems = append(r.problems, Problem{Integration: name, Field: m.key, Value: rawText(m.raw), Reason: reason})
			r.bad = append(r.bad, m.key)
			continue
		}
		if !slices.Equal(oldBackoff, c.BackoffStatusCodes) || !slices.Equal(oldOverload, c.OverloadStatusCodes) {
			// Status lists changed by a file decide: they replace the API's
			// own rules, which would otherwise ignore them.
			c.Classifier = nil
		}
		r.named = append(r.named, m.key)
	}
	return r
}

// maxSuggestEdits is how far from a field's name an unknown one may be and
// still get that name suggested.
const maxSuggestEdits = 3

// fieldNames are the names of the fields an override may set.
var fieldNames = func() []string {
	names := make([]string, len(fieldSpecs))
	for i, f := range fieldSpecs {
		names[i] = f.name
	}
	return names
}()

// unknownField names the field a typo most likely meant.
func unknownField(key string) string {
	if best := suggest.Closest(key, fieldNames, maxSuggestEdits); best != "" {
		return fmt.Sprintf("unknown field; did you mean %q?", best)
	}
	return "unknown field; the fields are listed in docs/configuration.md"
}

// shortField is a field name from a file, cut as rawText cuts a value: an
// unknown one may be of any length.
func shortField(key string) string { return textcut.Cut(key, 64) }

// Overrides is a checked override file: for each integration it names, the
// fields it sets and their values. The zero Overrides sets nothing. Make
// one with [LoadOverrides] and apply it with [Merge] or [WithOverrides].
type Overrides struct {
	entries map[string]overrideEntry
}

type overrideEntry struct {
	named []string // fields the entry sets
	vals  Config   // their values; the other fields mean nothing
}

// Names returns the names of the integrations the overrides set, sorted.
func (o Overrides) Names() []string {
	return slices.Sorted(maps.Keys(o.entries))
}

// apply sets on c the fields the entry names.
func (e overrideEntry) apply(c *Config) {
	for _, name := range e.named {
		if spec, ok := specFor(name); ok {
			spec.copy(c, &e.vals)
		}
	}
}

// LoadOverrides reads an override file: a JSON object whose keys are
// integration names and whose values are objects of [Config] fields, the
// original format, for example
//
//	{"notion": {"rate_limit_per_sec": 2.0, "max_retries_on_backoff": 5},
//	 "custom_api": {"base_url": "https://api.example.com", "max_rate": 5.0}}
//
// An entry named like a built-in changes only the fields it names; a new
// name defines an integration whose other fields come from [Default].
// Names are lower-case letters, digits, '_', '-' and '.'.
//
// The check is strict and complete: syntax errors (with line and column),
// an entry or a field named twice, unknown fields (with the likely intended
// one), wrong types, nulls, and every value [Config.Validate] rejects once
// the entry is laid over the built-in of its name (or over [Default]). All
// of the file's problems are returned at once in an [*Error], each naming
// the integration, the field and the value as written. A cross-field
// problem (min_rate above max_rate) is blamed on the field the entry sets.
//
// [Merge] checks again against the configurations it is given, which may
// not be the built-ins.
func LoadOverrides(r io.Reader) (Overrides, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxOverridesSize+1))
	if err != nil {
		return Overrides{}, fmt.Errorf("integrations: read overrides: %w", err)
	}
	if len(data) > maxOverridesSize {
		return Overrides{}, &Error{Problems: []Problem{{Reason: "larger than 8 MiB; an override file is a few kilobytes"}}}
	}
	return parseOverrides(data)
}

// LoadOverridesFile reads the override file at path; see [LoadOverrides].
// The [*Error] it returns names the file.
func LoadOverridesFile(path string) (Overrides, error) {
	f, err := os.Open(path)
	if err != nil {
		return Overrides{}, fmt.Errorf("integrations: %w", err)
	}
	defer f.Close()
	o, err := LoadOverrides(f)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return o, err
}

func parseOverrides(data []byte) (Overrides, error) {
	// A byte order mark is no JSON, and the decoder would call its first
	// byte an invalid character: name it.
	switch {
	case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")):
		return Overrides{}, &Error{Problems: []Problem{{Reason: "starts with a UTF-8 byte order mark (EF BB BF); save the file as UTF-8 without it"}}}
	case bytes.HasPrefix(data, []byte("\xff\xfe")), bytes.HasPrefix(data, []byte("\xfe\xff")):
		return Overrides{}, &Error{Problems: []Problem{{Reason: "starts with a UTF-16 byte order mark; save the file as UTF-8 without a byte order mark"}}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Overrides{}, &Error{Problems: []Problem{{Reason: "empty; want a JSON object of integrations, {} for none"}}}
	}
	// Unmarshal checks the whole text first and reports a syntax error at
	// its offset in the file; a Decoder's offsets are relative to the value
	// it was decoding.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		return Overrides{}, &Error{Problems: []Problem{{Reason: syntaxReason(data, err, "")}}}
	}
	members, err := jsonObject(data)
	if err != nil {
		return Overrides{}, &Error{Problems: []Problem{{Reason: syntaxReason(data, err,
			"want a JSON object of integrations keyed by name, such as {\"notion\": {\"rate_limit_per_sec\": 2}}")}}}
	}
	builtins := Builtin()
	o := Overrides{entries: make(map[string]overrideEntry, len(members))}
	var ps []Problem
	for _, m := range members {
		if reason := checkName(m.key, builtins); reason != "" {
			ps = append(ps, Problem{Value: quoteShort(m.key), Reason: reason})
			continue
		}
		if _, dup := o.entries[m.key]; dup {
			ps = append(ps, Problem{Integration: m.key, Reason: "named twice; a JSON decoder would silently keep only the last entry"})
			continue
		}
		fields, err := jsonObject(m.raw)
		if err != nil {
			ps = append(ps, Problem{Integration: m.key, Value: rawText(m.raw), Reason: "must be a JSON object of settings"})
			o.entries[m.key] = overrideEntry{}
			continue
		}
		c, ok := builtins[m.key]
		if !ok {
			c = Default()
			c.Name = m.key
		}
		res := decodeEntry(m.key, fields, &c)
		entryPs := res.problems
		named := func(f string) bool { return slices.Contains(res.named, f) }
		for _, p := range c.validate(named) {
			// A value that could not be decoded was reported as written;
			// what the check sees in its place is the built-in's.
			if !slices.Contains(res.bad, p.Field) {
				entryPs = append(entryPs, p)
			}
		}
		// In the order of the file, as a reader goes through it.
		index := make(map[string]int, len(fields))
		for i, f := range slices.Backward(fields) {
			index[f.key] = i
		}
		at := func(p Problem) int {
			if i, ok := index[p.Field]; ok {
				return i
			}
			return len(fields)
		}
		slices.SortStableFunc(entryPs, func(a, b Problem) int { return at(a) - at(b) })
		ps = append(ps, entryPs...)
		o.entries[m.key] = overrideEntry{named: res.named, vals: c}
	}
	if len(ps) > 0 {
		if len(ps) > maxProblems {
			more := len(ps) - maxProblems
			ps = append(ps[:maxProblems:maxProblems], Problem{Reason: strconv.Itoa(more) + " more problems not shown"})
		}
		return Overrides{}, &Error{Problems: ps}
	}
	return o, nil
}

// checkName returns why name cannot name an integration, or "".
func checkName(name string, builtins map[string]Config) string {
	ok := name != "" && len(name) <= 64
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && (c == '_' || c == '-' || c == '.')
	}
	if ok {
		return ""
	}
	reason := "not a valid integration name: use 1 to 64 lower-case letters, digits, '_', '-' or '.', starting with a letter or a digit"
	if _, builtin := builtins[strings.ToLower(name)]; builtin {
		reason += fmt.Sprintf("; did you mean %q?", strings.ToLower(name))
	}
	return reason
}

// Merge returns a new map of base's configurations (nil means none; pass
// [Builtin] for the built-ins) with o laid over them: an integration o
// names gets the fields its entry sets and keeps the others; a name base
// lacks is a new integration that starts from [Default]. Each returned
// Config's Name is its key. Neither base nor o is changed.
//
// Every configuration of the result is validated; the problems of all of
// them come back together in an [*Error].
func Merge(base map[string]Config, o Overrides) (map[string]Config, error) {
	out := mergeConfigs(base, o)
	var ps []Problem
	for _, name := range Names(out) {
		var named func(string) bool
		if e, ok := o.entries[name]; ok {
			named = func(f string) bool { return slices.Contains(e.named, f) }
		}
		ps = append(ps, out[name].validate(named)...)
	}
	if len(ps) > 0 {
		return nil, &Error{Problems: ps}
	}
	return out, nil
}

// mergeConfigs is Merge without the validation.
func mergeConfigs(base map[string]Config, o Overrides) map[string]Config {
	out := make(map[string]Config, len(base)+len(o.entries))
	for name, c := range base {
		c = c.clone()
		c.Name = name
		out[name] = c
	}
	for name, e := range o.entries {
		c, ok := out[name]
		if !ok {
			c = Default()
			c.Name = name
		}
		e.apply(&c)
		out[name] = c
	}
	return out
}

// jsonMember is one member of a JSON object, in the order of the text.
type jsonMember struct {
	key string
	raw json.RawMessage
}

var errNotObject = errors.New("not a JSON object")

// jsonObject splits a JSON object into its members, keeping their order
// and their duplicates, which decoding into a map would hide.
func jsonObject(data []byte) ([]jsonMember, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var ms []jsonMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string) // inside an object the decoder only yields string keys
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		ms = append(ms, jsonMember{key: key, raw: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	// Decoder.More stops at a stray '}' as if a container ended; only
	// io.EOF proves nothing follows the object.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON object")
	}
	return ms, nil
}

// syntaxReason turns a decoding error into a message with a line and a
// column, which an offset into the file is not.
func syntaxReason(data []byte, err error, want string) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, errNotObject):
		return want
	case errors.As(err, &se):
		// Offset counts the offending byte itself.
		return linePosition(data, se.Offset-1) + ": invalid JSON: " + se.Error()
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "invalid JSON: the file ends in the middle of a value"
	}
	return "invalid JSON: " + err.Error()
}

func linePosition(data []byte, off int64) string {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}

// rawText returns a JSON value as compact text short enough for a message.
func rawText(raw []byte) string {
	var b bytes.Buffer
	s := string(bytes.TrimSpace(raw))
	if json.Compact(&b, raw) == nil {
		s = b.String()
	}
	return textcut.Cut(s, 64)
}
