package main

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/dynlimit/dynlimit/internal/simtest"
)

// job is one simulation to play.
type job struct {
	sc simtest.Scenario
	st simtest.Strategy
}

// runAll plays the jobs on up to runtime.GOMAXPROCS goroutines and returns
// their results in the jobs' order. Each run is independent and
// deterministic, so the results do not depend on the scheduling. progress,
// when not nil, is called on the caller's goroutine after each run with the
// number done so far. After a failed run no new one starts; the error is
// that of the first failed job in order.
func runAll(jobs []job, progress func(done int)) ([]*simtest.Result, error) {
	results := make([]*simtest.Result, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int, len(jobs))
	for i := range jobs {
		next <- i
	}
	close(next)
	done := make(chan struct{}, len(jobs))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for i := range next {
				if !failed.Load() {
					results[i], errs[i] = simtest.Run(jobs[i].sc, jobs[i].st)
					if errs[i] != nil {
						failed.Store(true)
					}
				}
				done <- struct{}{}
			}
		})
	}
	for n := range len(jobs) {
		<-done
		if progress != nil && !failed.Load() {
			progress(n + 1)
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}
