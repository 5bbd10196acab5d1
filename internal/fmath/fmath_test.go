package fmath_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/dynlimit/dynlimit/internal/fmath"
)

func TestMinIsMathMin(t *testing.T) {
	negZero := math.Copysign(0, -1)
	vals := []float64{0, negZero, 1, -1, 2.5, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
	for _, x := range vals {
		for _, y := range vals {
			got, want := fmath.Min(x, y), math.Min(x, y)
			if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Errorf("Min(%v, %v) = %v, math.Min gives %v", x, y, got, want)
			}
		}
	}
}

func ExampleMin() {
	fmt.Println(fmath.Min(3, 2), fmath.Min(0, math.Copysign(0, -1)), fmath.Min(1, math.NaN()))
	// Output: 2 -0 NaN
}
