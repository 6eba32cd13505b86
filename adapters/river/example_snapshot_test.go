package river_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// Snapshot lists the runs on the backend's queues, in every process, a
// page at a time: here a producer's, which runs none, so they wait for
// workers elsewhere. Counts counts them all, in one query.
func ExampleBackend_Snapshot() {
	ctx := context.Background()
	schema := "example_snapshot"                                                                // pool is a *pgxpool.Pool on the database
	defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		fmt.Println(err)
		return
	}
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema}) // no Workers: a producer
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	if _, err := double.Enqueue(ctx, b, 1); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := double.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, 2); err != nil {
		fmt.Println(err)
		return
	}
	h, err := double.Enqueue(ctx, b, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := h.Cancel(ctx); err != nil {
		fmt.Println(err)
		return
	}

	opts := localtasks.SnapshotOptions{Limit: 2}
	for page := 1; ; page++ {
		snap, err := b.Snapshot(ctx, opts)
		if err != nil {
			fmt.Println(err)
			return
		}
		if page == 1 {
			c := snap.Counts
			fmt.Printf("%d scheduled, %d ready, %d cancelled\n", c.Scheduled, c.Ready, c.Cancelled)
		}
		for _, list := range [][]localtasks.TaskResult{snap.Scheduled, snap.Queued, snap.Running, snap.Finished} {
			for _, r := range list {
				fmt.Printf("page %d: %v %s(%v)\n", page, r.Status, r.Task, r.Args)
			}
		}
		if snap.NextCursor == "" {
			break
		}
		opts.Cursor = snap.NextCursor
	}
	// Output:
	// 1 scheduled, 1 ready, 1 cancelled
	// page 1: SCHEDULED river_example.double(2)
	// page 1: READY river_example.double(1)
	// page 2: CANCELLED river_example.double(3)
}
