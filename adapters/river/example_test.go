package river_test

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

var double = localtasks.Define("river_example.double", func(ctx context.Context, n int) (int, error) { return 2 * n, nil })

// EnqueueMany inserts a batch of runs in one InsertMany, all or none; Wait
// takes each final row from the workers of this process without reading
// the job again.
func ExampleBackend_EnqueueMany() {
	ctx := context.Background()
	schema := "example_enqueue_many"                                                            // pool is a *pgxpool.Pool on the database
	defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		fmt.Println(err)
		return
	}
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 4, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	hs, err := double.EnqueueMany(ctx, b, []int{1, 2, 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range hs {
		v, err := h.Wait(ctx)
		fmt.Println(v, err)
	}
	// Output:
	// 2 <nil>
	// 4 <nil>
	// 6 <nil>
}
