package localtasks_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/localtasks/localtasks"
)

var importRows = localtasks.Define("example.runlogs.import", func(ctx context.Context, file string) (int, error) {
	log := localtasks.Logger(ctx)
	log.Info("reading", "file", file)
	log.Warn("skipped a row", "line", 17, "reason", "no email")
	return 41, nil
})

// Each run keeps what it logged through Logger(ctx) on its TaskResult, so
// that the operator reading a run's result sees its own logs, not the
// process's.
func ExampleTaskResult_logs() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Logger: slog.New(slog.DiscardHandler)},
		MaxWorkers: 1,
	})
	if err != nil {
		panic(err)
	}
	defer pool.Close(ctx)

	h, err := importRows.Enqueue(ctx, pool, "users.csv")
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	for _, r := range res.Logs {
		fmt.Println(r.Attempt, r.Level, r.Message, r.Attrs)
	}
	// Output:
	// 1 INFO reading [{file users.csv}]
	// 1 WARN skipped a row [{line 17} {reason no email}]
}
