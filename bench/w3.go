package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/localtasks/localtasks"
)

// shaArgs is a CPU task's argument: which chain, and how long.
type shaArgs struct {
	Seed, Rounds int
}

// shaChain hashes the seed (8 bytes, little-endian), then hashes the 32-byte
// digest again, rounds times in all, and returns the digest's first 8
// bytes. peers.py's sha does the same.
func shaChain(seed, rounds int) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	d := sha256.Sum256(b[:])
	for range rounds - 1 {
		d = sha256.Sum256(d[:])
	}
	return binary.LittleEndian.Uint64(d[:8])
}

// shaTask is W3's and W7's CPU task.
var shaTask = localtasks.Define("bench.sha", func(ctx context.Context, a shaArgs) (uint64, error) {
	return shaChain(a.Seed, a.Rounds), nil
})

const w3Workers = 2

func w3() *workload {
	args := func(p params) func(int) shaArgs {
		return func(i int) shaArgs { return shaArgs{Seed: i, Rounds: p.Rounds} }
	}
	return &workload{
		id: "W3", title: "cpu",
		sizes: [3]params{{N: 2_000, Rounds: 2_000}, {N: 300, Rounds: 2_000}, {N: 20, Rounds: 100}},
		systems: []system{
			{name: "localtasks-thread", run: func(ctx context.Context, p params) (measurement, error) {
				return ltThreadPool(ctx, w3Workers, p.N, shaTask, args(p), checkSHA(p))
			}},
			{name: "localtasks-proc", run: func(ctx context.Context, p params) (measurement, error) {
				return ltProcessPool(ctx, w3Workers, p.N, shaTask, args(p), checkSHA(p))
			}},
			{name: "python-proc", python: []string{"W3", "process"}},
		},
		targets: []target{throughputAtLeast("localtasks-proc", "localtasks-thread", 0.95)},
		legend: "W3: N tasks of 2,000 chained SHA-256 rounds on 2 workers; localtasks-thread = thread pool, localtasks-proc = process pool. " +
			"ratio = process pool tasks/s / thread pool tasks/s.",
	}
}

// checkSHA checks every 50th result against a chain computed here.
func checkSHA(p params) func(int, uint64) error {
	return func(i int, v uint64) error {
		if i%50 != 0 {
			return nil
		}
		if want := shaChain(i, p.Rounds); v != want {
			return fmt.Errorf("sha task %d returned %x, want %x", i, v, want)
		}
		return nil
	}
}

// ltProcessPool measures localtasks on a process pool of workers, as
// ltThreadPool does on a thread pool. The clock starts once every worker
// process has started (NewProcessPool waits for them).
func ltProcessPool[A, R any](ctx context.Context, workers, n int, t *localtasks.Task[A, R], args func(int) A, check func(int, R) error) (measurement, error) {
	b, err := localtasks.NewProcessPool(localtasks.ProcessPoolConfig{MaxWorkers: workers, Config: localtasks.Config{MaxResults: n}})
	if err != nil {
		return measurement{}, err
	}
	defer b.Close(ctx)
	return ltEnqueueWait(ctx, b, n, t, args, check)
}
