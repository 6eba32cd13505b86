package river_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// A pause on River is River's queue pause: made through any Backend, every
// worker on the schema obeys it, those that start later too. River pauses
// queues, not tasks.
func ExampleBackend_Pause() {
	ctx := context.Background()
	schema := "example_pause"                                                                   // pool is a *pgxpool.Pool on the database
	defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		fmt.Println(err)
		return
	}
	queues := []string{localtasks.QueueDefault, "reports"}
	admin, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Queues: queues, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer admin.Close(ctx)
	reports := localtasks.Pause{Queue: "reports"}
	if err := admin.Pause(ctx, reports); err != nil {
		fmt.Println(err)
		return
	}

	// Workers that start now start with the queue paused.
	workers, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Queues: queues, Workers: 2, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer workers.Close(ctx)
	fmt.Println(workers.Pauses())
	h, err := double.Using(localtasks.WithQueue("reports")).Enqueue(ctx, admin, 21)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Status(ctx))

	if err := admin.Resume(ctx, reports); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Wait(ctx))
	fmt.Println(admin.Pause(ctx, localtasks.Pause{Task: double.Name()}) != nil)
	// What the dashboard and the CLI read to offer queue pauses, not
	// task pauses.
	caps := admin.Capabilities()
	fmt.Println(caps.PauseQueues, caps.Pause)
	// Output:
	// [queue "reports"]
	// READY <nil>
	// 42 <nil>
	// true
	// true false
}
