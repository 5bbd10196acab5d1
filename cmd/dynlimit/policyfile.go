package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/dynlimit/dynlimit/policy"
)

// loadPolicy reads a policy's parameters from a file in either of two forms:
//
//	{"rate_limit_per_sec": 8, "decrease_factor": 0.7}
//	{"notion": {"rate_limit_per_sec": 8, "decrease_factor": 0.7}}
//
// the second being the overrides format, keyed by a name, that 'tune --out'
// writes. A "policy" member selects the policy, as in an override file:
// "aimd" (the default), whose fields left out keep policy.DefaultAIMD's
// values, or "cubic", policy.DefaultCUBIC's. The name is the entry's key, or
// the file's base name for the bare form.
func loadPolicy(path string) (string, policy.Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	name, p, err := parsePolicy(data)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return name, p, nil
}

// loadAIMD is loadPolicy for a file that must hold AIMD parameters.
func loadAIMD(path string) (string, policy.AIMD, error) {
	name, p, err := loadPolicy(path)
	if err != nil {
		return "", policy.AIMD{}, err
	}
	a, ok := p.(policy.AIMD)
	if !ok {
		return "", policy.AIMD{}, fmt.Errorf(`%s: want AIMD parameters, got "policy": %q`, path, policyName(p))
	}
	return name, a, nil
}

// parsePolicy parses either form of loadPolicy; the name is empty for the
// bare form.
func parsePolicy(data []byte) (string, policy.Policy, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return "", nil, fmt.Errorf("want a JSON object of AIMD parameters: %w", err)
	}
	if isBare(top) {
		p, err := parseParams(data, top)
		return "", p, err
	}
	if len(top) != 1 {
		return "", nil, fmt.Errorf("want AIMD parameters, or exactly one named entry of them, got %d entries (%s)",
			len(top), strings.Join(slices.Sorted(maps.Keys(top)), ", "))
	}
	name := slices.Collect(maps.Keys(top))[0]
	var members map[string]json.RawMessage
	_ = json.Unmarshal(top[name], &members) // an object: isBare says so
	p, err := parseParams(top[name], members)
	if err != nil {
		return "", nil, fmt.Errorf("entry %q: %w", name, err)
	}
	return name, p, nil
}

// parseParams parses one object of parameters, data, whose members are
// members: AIMD's, or, with "policy": "cubic", CUBIC's.
func parseParams(data []byte, members map[string]json.RawMessage) (policy.Policy, error) {
	raw, ok := members["policy"]
	if !ok {
		return policy.ParseAIMD(data)
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil || name != "aimd" && name != "cubic" {
		return nil, fmt.Errorf(`"policy" = %s: want "aimd" (the default) or "cubic"`, raw)
	}
	rest := maps.Clone(members)
	delete(rest, "policy")
	params, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	if name == "cubic" {
		return policy.ParseCUBIC(params)
	}
	return policy.ParseAIMD(params)
}

// policyName is the value of "policy" that selects p.
func policyName(p policy.Policy) string {
	if _, ok := p.(policy.CUBIC); ok {
		return "cubic"
	}
	return "aimd"
}

// isBare tells the bare form from the named one: an object whose values
// are all objects is named entries, unless a key is a parameter (then
// ParseAIMD says what is wrong with its value). An empty object is a bare
// one: all defaults.
func isBare(top map[string]json.RawMessage) bool {
	fields := aimdFields()
	for k, v := range top {
		if slices.Contains(fields, k) || !isObject(v) {
			return true
		}
	}
	return len(top) == 0
}

func isObject(raw json.RawMessage) bool {
	s := strings.TrimLeft(string(raw), " \t\r\n")
	return strings.HasPrefix(s, "{")
}

// aimdFields returns the JSON names of policy.AIMD's fields, read from the
// type so that parameters added to it are recognised here without a change.
func aimdFields() []string {
	var names []string
	for _, f := range aimdStructFields() {
		names = append(names, f.name)
	}
	return names
}

// aimdFloatFields returns the JSON names of policy.AIMD's numeric fields.
func aimdFloatFields() []string {
	var names []string
	for _, f := range aimdStructFields() {
		if f.float {
			names = append(names, f.name)
		}
	}
	return names
}

type structField struct {
	name  string
	index int
	float bool
}

func aimdStructFields() []structField {
	t := reflect.TypeFor[policy.AIMD]()
	var fs []structField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" && f.IsExported() {
			fs = append(fs, structField{name, i, f.Type == reflect.TypeFor[float64]()})
		}
	}
	return fs
}

// aimdFloat returns a pointer to the numeric parameter of a named field in
// JSON, or nil when there is none.
func aimdFloat(a *policy.AIMD, field string) *float64 {
	for _, f := range aimdStructFields() {
		if f.name == field && f.float {
			return reflect.ValueOf(a).Elem().Field(f.index).Addr().Interface().(*float64)
		}
	}
	return nil
}

// marshalPolicy writes a in the named form that loadPolicy reads back.
func marshalPolicy(name string, a policy.AIMD) ([]byte, error) {
	b, err := json.MarshalIndent(map[string]policy.AIMD{name: a}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
