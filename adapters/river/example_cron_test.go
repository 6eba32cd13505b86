package river_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// reports receives the days morningReport ran for.
var reports = make(chan string, 1)

// morningReport runs at nine on weekdays in New York, and once as River's
// leader starts its periodic job.
var morningReport = localtasks.Define("river_example.morning-report", func(ctx context.Context, _ struct{}) (string, error) {
	reports <- "report, attempt " + fmt.Sprint(localtasks.Attempt(ctx))
	return "sent", nil
}, localtasks.WithPerpetual(localtasks.Perpetual{
	Cron:       "0 9 * * 1-5",
	Location:   mustLoadLocation("America/New_York"),
	Automatic:  true,
	RunOnStart: true,
}))

// A cron task on River is a River periodic job: name it in Config.Automatic
// of every backend with workers, and River's elected leader inserts its
// runs, at nine in New York on weekdays here, and once at start.
func ExampleConfig_automatic() {
	ctx := context.Background()
	schema := "example_cron"                                                                    // pool is a *pgxpool.Pool on the database
	defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		fmt.Println(err)
		return
	}
	b, err := ltriver.New(ctx, pool, ltriver.Config{
		Schema:    schema,
		Workers:   2,
		Tasks:     []string{morningReport.Name()},
		Automatic: []string{morningReport.Name()},
		Logger:    quiet,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	select {
	case r := <-reports:
		fmt.Println(r)
	case <-time.After(time.Minute):
		fmt.Println("no report")
	}
	// Output:
	// report, attempt 1
}
