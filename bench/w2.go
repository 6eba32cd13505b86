package main

import (
	"context"
	"time"

	"github.com/localtasks/localtasks"
)

// sleepFor is how long each W2 task sleeps.
const sleepFor = 10 * time.Millisecond

// w2Workers is W2's pool size, at every scale.
const w2Workers = 100

// sleepTask sleeps, then returns its argument.
var sleepTask = localtasks.Define("bench.sleep", func(ctx context.Context, n int) (int, error) {
	time.Sleep(sleepFor)
	return n, nil
})

func sleepWork(n int) int {
	time.Sleep(sleepFor)
	return n
}

// boundedPeers are the Go peers of W2 that bound their workers, as
// localtasks does: the peers of its makespan target.
var boundedPeers = []string{"errgroup", "pond", "ants", "channels"}

func w2() *workload {
	return &workload{
		id: "W2", title: "sleep",
		sizes: [3]params{{N: 10_000}, {N: 2_000}, {N: 200}},
		systems: peerSet(
			system{name: "localtasks", run: func(ctx context.Context, p params) (measurement, error) {
				return ltThreadPool(ctx, w2Workers, p.N, sleepTask, func(i int) int { return i }, checkIdentity)
			}},
			goPeers(w2Workers, sleepWork),
			system{name: "python-thread", python: []string{"W2", "thread"}},
		),
		targets: []target{makespanWithin("localtasks", boundedPeers, 1/1.01)},
		legend: "W2: N tasks that sleep 10 ms on 100 workers (goroutines: one a task, unbounded). " +
			"ratio = the best bounded Go peer's makespan / localtasks' (target 1/1.01 = 0.990: within 1% of it). " +
			"The ideal, ceil(N/100) x 10 ms, is out of every Go pool's reach here: timers cost ~5%.",
	}
}
