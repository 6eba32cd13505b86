package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/localtasks/localtasks"
)

// The tasks are defined at package level, so that the process pool's
// workers, which run no more of main than localtasks.Init, know them too.

// FetchArgs are the arguments of Fetch.
type FetchArgs struct {
	// URL is the page to "fetch"; nothing is downloaded.
	URL string `json:"url"`
	// Steps is how many chunks the fetch takes, each a progress report.
	Steps int `json:"steps"`
	// StepMS is how long each chunk takes, in milliseconds.
	StepMS int `json:"step_ms"`
}

// Page is what Fetch returns.
type Page struct {
	URL   string `json:"url"`
	Bytes int    `json:"bytes"`
}

// Fetch simulates a slow download, for the thread pool: it waits StepMS a
// chunk on a timer, or until its ctx ends, and reports its progress after
// every chunk.
var Fetch = localtasks.Define("webapp.fetch", fetch,
	localtasks.WithTimeout(10*time.Minute),
)

func fetch(ctx context.Context, a FetchArgs) (Page, error) {
	localtasks.SetProgress(ctx, 0, int64(a.Steps), "connecting to "+a.URL)
	t := time.NewTimer(time.Duration(a.StepMS) * time.Millisecond)
	defer t.Stop()
	for i := 1; i <= a.Steps; i++ {
		select {
		case <-t.C:
		case <-ctx.Done():
			return Page{}, fmt.Errorf("fetch %s: stopped after %d of %d chunks: %w", a.URL, i-1, a.Steps, ctx.Err())
		}
		localtasks.SetProgress(ctx, int64(i), int64(a.Steps), fmt.Sprintf("chunk %d of %d", i, a.Steps))
		t.Reset(time.Duration(a.StepMS) * time.Millisecond)
	}
	h := fnv.New32a()
	h.Write([]byte(a.URL))
	return Page{URL: a.URL, Bytes: 1000 + int(h.Sum32()%50_000)}, nil
}

// PrimesArgs are the arguments of Primes.
type PrimesArgs struct {
	// Below is the bound: Primes counts the primes p < Below.
	Below int64 `json:"below"`
}

// PrimeCount is what Primes returns.
type PrimeCount struct {
	Below int64 `json:"below"`
	Count int64 `json:"count"`
}

// Primes counts the primes below a bound, for the process pool: CPU work
// that would hold a goroutine, and a core, for seconds at large bounds.
var Primes = localtasks.Define("webapp.primes", func(ctx context.Context, a PrimesArgs) (PrimeCount, error) {
	n, err := countPrimes(ctx, a.Below)
	return PrimeCount{Below: a.Below, Count: n}, err
})

// FailArgs are the arguments of Fail.
type FailArgs struct {
	// Reason is the error the task fails with.
	Reason string `json:"reason"`
}

// Fail always fails, with an error that says why, to show what a failure
// looks like in the API and in the dashboard. It is not retried.
var Fail = localtasks.Define("webapp.fail", func(ctx context.Context, a FailArgs) (struct{}, error) {
	localtasks.SetProgress(ctx, 1, 2, "asked the upstream")
	return struct{}{}, fmt.Errorf("webapp.fail: %s (this task fails on purpose)", a.Reason)
})

// countPrimes counts the primes below n with a segmented sieve of
// Eratosthenes, reporting progress after each segment (at most about 64
// reports), and stops early when ctx ends.
func countPrimes(ctx context.Context, n int64) (int64, error) {
	if n <= 2 {
		return 0, nil
	}
	// The primes up to sqrt(n) strike out the composites of every segment.
	root := int64(math.Sqrt(float64(n)))
	for root*root >= n {
		root--
	}
	for (root+1)*(root+1) < n {
		root++
	}
	small := make([]bool, root+1) // small[i]: i is composite
	var base []int64
	for i := int64(2); i <= root; i++ {
		if small[i] {
			continue
		}
		base = append(base, i)
		for j := i * i; j <= root; j += i {
			small[j] = true
		}
	}

	seg := min(max(n/64, 1<<16), 1<<24)
	composite := make([]bool, seg)
	var count int64
	for lo := int64(2); lo < n; lo += seg {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("counting primes below %d: stopped at %d: %w", n, lo, err)
		}
		hi := min(lo+seg, n) // this segment is [lo, hi)
		clear(composite)
		for _, p := range base {
			if p*p >= hi {
				break
			}
			start := max(p*p, (lo+p-1)/p*p)
			for j := start; j < hi; j += p {
				composite[j-lo] = true
			}
		}
		for i := range hi - lo {
			if !composite[i] {
				count++
			}
		}
		localtasks.SetProgress(ctx, hi, n, fmt.Sprintf("sieved below %d: %d primes so far", hi, count))
	}
	return count, nil
}
