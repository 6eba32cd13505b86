package river_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/localtasks/localtasks"
	ltriver "github.com/localtasks/localtasks/adapters/river"
)

// fetch logs through localtasks.Logger(ctx), and fails its first attempt.
var fetch = localtasks.Define("river_example.fetch", func(ctx context.Context, url string) (int, error) {
	log := localtasks.Logger(ctx)
	log.Info("fetching", "url", url)
	if localtasks.Attempt(ctx) == 1 {
		log.Warn("no answer", slog.Group("http", "timeout", "2s"))
		return 0, errors.New("timed out")
	}
	log.Debug("below RunLogs.Level: not kept")
	return 200, nil
}, localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 3, Delay: time.Millisecond}))

// What a run writes through localtasks.Logger(ctx) is kept, attempt by
// attempt, in its job's metadata as River's riverlog keeps a job's logs
// (River UI shows them), and read back with its result, in any process.
func ExampleConfig_runLogs() {
	ctx := context.Background()
	schema := "example_run_logs"                                                                // pool is a *pgxpool.Pool on the database
	defer pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	if err := ltriver.Migrate(ctx, pool, schema); err != nil {
		fmt.Println(err)
		return
	}
	b, err := ltriver.New(ctx, pool, ltriver.Config{Schema: schema, Workers: 1, Logger: quiet,
		RunLogs: localtasks.RunLogs{MaxRecords: 100}}) // the zero RunLogs keeps 200 records a run
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	h, err := fetch.Enqueue(ctx, b, "https://example.com")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := h.Wait(ctx); err != nil {
		fmt.Println(err)
		return
	}
	res, err := h.Result(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range res.Logs {
		fmt.Println(r.Attempt, r.Level, r.Message, r.Attrs)
	}
	fmt.Println("dropped:", res.LogsDropped)
	// Output:
	// 1 INFO fetching [{url https://example.com}]
	// 1 WARN no answer [{http.timeout 2s}]
	// 2 INFO fetching [{url https://example.com}]
	// dropped: 0
}
