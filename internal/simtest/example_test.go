package simtest_test

import (
	"fmt"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

// Run a scenario of the suite with the default policy: the same seed gives
// the same numbers on every machine.
func ExampleRun() {
	sc, ok := simtest.ScenarioByName("S6")
	if !ok {
		fmt.Println("no S6")
		return
	}
	r, err := simtest.Run(sc, simtest.Default())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d rate decrease, %d failed\n", r.Scenario, r.Decreases, r.Failed)
	// Output: S6-in-flight: 1 rate decrease, 0 failed
}
