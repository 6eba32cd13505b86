package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// Each queue's depth, from any page of a Snapshot: the pool keeps it as
// runs change, so reading it costs the same whatever the backlog.
func ExampleQueueInfo() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Queues: []string{"default", "bulk"}},
		MaxWorkers: 2,
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	// A paused queue keeps its runs READY; a delayed run is SCHEDULED.
	if err := pool.Pause(ctx, localtasks.Pause{Queue: "bulk"}); err != nil {
		panic(err)
	}
	for row := range 3 {
		if _, err := importRow.Using(localtasks.WithQueue("bulk")).Enqueue(ctx, pool, row); err != nil {
			panic(err)
		}
	}
	if _, err := importRow.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, 9); err != nil {
		panic(err)
	}

	snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{Limit: 1})
	if err != nil {
		panic(err)
	}
	for _, q := range snap.Queues {
		fmt.Printf("%s: ready %d, scheduled %d, running %d, paused %v\n", q.Name, q.Ready, q.Scheduled, q.Running, q.Paused)
	}
	// Output:
	// default: ready 0, scheduled 1, running 0, paused false
	// bulk: ready 3, scheduled 0, running 0, paused true
}
