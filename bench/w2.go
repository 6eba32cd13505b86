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

// idealMakespan is W2's ideal: the tasks in full waves of w2Workers, each
// wave sleepFor long.
func idealMakespan(n int) time.Duration {
	waves := (n + w2Workers - 1) / w2Workers
	return time.Duration(waves) * sleepFor
}

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
		targets: []target{idealAtLeast("localtasks", 1/1.02)},
		legend: "W2: N tasks that sleep 10 ms on 100 workers (goroutines: one a task, unbounded, so below the ideal). " +
			"ratio = ideal / makespan, ideal = ceil(N/100) x 10 ms; target 1/1.02 = 0.980 (makespan <= 1.02x the ideal).",
	}
}
