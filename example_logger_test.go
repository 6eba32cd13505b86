package localtasks_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/localtasks/localtasks"
)

var charge = localtasks.Define("example.logger.charge",
	func(ctx context.Context, cents int) (bool, error) {
		// The logger carries task, task_id and attempt.
		localtasks.Logger(ctx).Info("charging card", "cents", cents)
		return true, nil
	},
)

func ExampleLogger() {
	// A text logger without the time and the task_id, so that the output
	// below does not change from run to run.
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "task_id" {
				return slog.Attr{}
			}
			return a
		},
	}))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config:     localtasks.Config{Logger: logger},
		MaxWorkers: 1,
	})
	if err != nil {
		panic(err)
	}
	h, err := charge.Enqueue(ctx, pool, 1999)
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// level=INFO msg="charging card" task=example.logger.charge attempt=1 cents=1999
}
