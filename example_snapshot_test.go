package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// importRow fails for a negative row, on every attempt.
var importRow = localtasks.Define("example.snapshot.import",
	func(ctx context.Context, row int) (int, error) {
		if row < 0 {
			return 0, errors.New("bad row")
		}
		return row, nil
	},
	localtasks.WithRetry(localtasks.FixedRetry(2, 0)),
)

func ExampleThreadPoolBackend_Snapshot() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	if err != nil {
		panic(err)
	}

	later, err := importRow.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, pool, 99)
	if err != nil {
		panic(err)
	}
	snap := pool.Snapshot()
	fmt.Println("queued", len(snap.Queued), "scheduled", len(snap.Scheduled), "running", len(snap.Running))
	if err := later.Cancel(ctx); err != nil {
		panic(err)
	}

	for _, row := range []int{1, 2, 3, -1} {
		if _, err := importRow.Enqueue(ctx, pool, row); err != nil {
			panic(err)
		}
	}
	if err := pool.Drain(ctx); err != nil {
		panic(err)
	}

	snap = pool.Snapshot()
	fmt.Println("queued", len(snap.Queued), "scheduled", len(snap.Scheduled), "running", len(snap.Running))
	byStatus := map[localtasks.Status]int{}
	for _, res := range snap.Finished {
		byStatus[res.Status]++
	}
	fmt.Println("finished", len(snap.Finished), byStatus)
	done := 0
	for _, w := range snap.Workers {
		done += w.TasksDone
	}
	fmt.Println("workers", len(snap.Workers), "attempts done", done)
	fmt.Printf("%+v\n", snap.Counters)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// queued 0 scheduled 1 running 0
	// queued 0 scheduled 0 running 0
	// finished 5 map[SUCCESSFUL:3 FAILED:1 CANCELLED:1]
	// workers 2 attempts done 5
	// {Enqueued:5 Started:5 Succeeded:3 Failed:1 Cancelled:1 Retried:1 Struck:0 Perpetuated:0}
}
