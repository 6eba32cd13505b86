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
	snap, err := pool.Snapshot(ctx, localtasks.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
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

	snap, err = pool.Snapshot(ctx, localtasks.SnapshotOptions{})
	if err != nil {
		panic(err)
	}
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
	fmt.Printf("%+v\n", snap.Counts)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// queued 0 scheduled 1 running 0
	// queued 0 scheduled 0 running 0
	// finished 5 map[SUCCESSFUL:3 FAILED:1 CANCELLED:1]
	// workers 2 attempts done 5
	// {Enqueued:5 Started:5 Succeeded:3 Failed:1 Cancelled:1 Retried:1 Struck:0 Perpetuated:0 DeadlinePassed:0 QueueFull:0 JournalCommits:0 JournalRows:0 JournalFailures:0 WorkerRestarts:0}
	// {Scheduled:0 Ready:0 Running:0 Successful:3 Failed:1 Cancelled:1}
}

// A listing of a large backlog, a page at a time: only the runs that match
// are copied, and the counts come with every page.
func ExampleSnapshotOptions() {
	ctx := context.Background()
	// A recording backend never runs what it is given: a backlog that
	// stays put.
	backlog, err := localtasks.NewRecording(localtasks.Config{})
	if err != nil {
		panic(err)
	}
	defer backlog.Close(ctx)
	for row := range 2500 {
		if _, err := importRow.Enqueue(ctx, backlog, row); err != nil {
			panic(err)
		}
	}

	opts := localtasks.SnapshotOptions{Statuses: []localtasks.Status{localtasks.StatusReady}, Task: importRow.Name(), Limit: 1000}
	pages, rows := 0, 0
	for {
		snap, err := backlog.Snapshot(ctx, opts)
		if err != nil {
			panic(err)
		}
		pages++
		rows += len(snap.Queued)
		if pages == 1 {
			fmt.Println("ready", snap.Counts.Ready, "in all")
		}
		if snap.NextCursor == "" {
			break
		}
		opts.Cursor = snap.NextCursor
	}
	fmt.Println(rows, "rows in", pages, "pages")
	// Output:
	// ready 2500 in all
	// 2500 rows in 3 pages
}
