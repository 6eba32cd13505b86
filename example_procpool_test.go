package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// countPrimes is CPU work: it runs in a worker process, which found it by
// its name, as every task is defined at package level.
var countPrimes = localtasks.Define("example.procpool.primes",
	func(ctx context.Context, below int) (int, error) {
		n := 0
		for i := 2; i < below; i++ {
			prime := true
			for d := 2; d*d <= i; d++ {
				if i%d == 0 {
					prime = false
					break
				}
			}
			if prime {
				n++
			}
		}
		return n, nil
	},
)

// CPU-bound work goes to a pool of worker processes, copies of the program
// started from its own binary: the program calls localtasks.Init first
// thing in main (this package's TestMain does), where a worker serves tasks
// and never returns. The tasks are the same as on a thread pool.
func ExampleNewProcessPool() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	procs, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: 2})
	if err != nil {
		panic(err) // on Windows: errors.ErrUnsupported
	}

	var handles []localtasks.Handle[int]
	for _, below := range []int{100, 1000, 10000} {
		h, err := countPrimes.Enqueue(ctx, procs, below)
		if err != nil {
			panic(err)
		}
		handles = append(handles, h)
	}
	for _, h := range handles {
		n, err := h.Wait(ctx)
		fmt.Println(n, err)
	}

	if err := procs.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// 25 <nil>
	// 168 <nil>
	// 1229 <nil>
}
