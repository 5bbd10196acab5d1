package monotime_test

import (
	"fmt"
	"time"

	"github.com/dynlimit/dynlimit/internal/monotime"
)

// A duration read from Since becomes an instant with At; the two agree
// with the epoch's own arithmetic.
func ExampleAt() {
	d := 1500 * time.Millisecond
	fmt.Println(monotime.At(d).Equal(monotime.Epoch.Add(d)))
	fmt.Println(monotime.Since() >= 0)
	// Output:
	// true
	// true
}
