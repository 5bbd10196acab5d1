package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

// seedFlag is a seed that may or may not have been given: 0 is a valid
// seed, so the zero value cannot mean "keep the scenario's".
type seedFlag struct {
	v   uint64
	set bool
}

func (f *seedFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatUint(f.v, 10)
}

func (f *seedFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return fmt.Errorf("want a whole number >= 0, got %q", s)
	}
	f.v, f.set = v, true
	return nil
}

// durationFlag is a simulated duration that may or may not have been given.
type durationFlag struct {
	v time.Duration
}

func (f *durationFlag) String() string {
	if f == nil || f.v == 0 {
		return ""
	}
	return f.v.String()
}

func (f *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration like 30s or 5m, got %q", s)
	}
	// Past this the simulator refuses the scenario anyway; saying so here
	// makes it a usage error naming the flag.
	if v <= 0 || v > 1000*time.Hour {
		return fmt.Errorf("%v: must be > 0 and at most 1000h", v)
	}
	f.v = v
	return nil
}

// apply overrides sc's seed and duration with the flags that were given.
func apply(sc simtest.Scenario, seed *seedFlag, d *durationFlag) simtest.Scenario {
	if seed.set {
		sc.Seed = seed.v
	}
	if d.v > 0 {
		sc.Duration = simtest.Duration(d.v)
	}
	return sc
}

// floatList is a comma-separated list of numbers: a grid axis.
type floatList []float64

func (f *floatList) String() string {
	if f == nil {
		return ""
	}
	s := make([]string, len(*f))
	for i, v := range *f {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

func (f *floatList) Set(s string) error {
	var out floatList
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		v, err := strconv.ParseFloat(part, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("want comma-separated numbers, got %q", part)
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	*f = out
	return nil
}

// stringList collects a flag given several times.
type stringList []string

func (f *stringList) String() string {
	if f == nil {
		return ""
	}
	return strings.Join(*f, ",")
}

func (f *stringList) Set(s string) error {
	*f = append(*f, s)
	return nil
}
