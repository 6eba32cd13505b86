package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// slow closes started once it runs, then waits for its ctx to end.
var slow = localtasks.Define("example.cancel.slow",
	func(ctx context.Context, started chan struct{}) (int, error) {
		close(started)
		<-ctx.Done() // a well-behaved task returns when its ctx ends
		return 0, ctx.Err()
	},
)

func ExampleHandle_Cancel() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	started := make(chan struct{})
	h, err := slow.Enqueue(ctx, pool, started)
	if err != nil {
		panic(err)
	}
	<-started
	if err := h.Cancel(ctx); err != nil {
		panic(err)
	}
	_, err = h.Wait(ctx)
	fmt.Println(errors.Is(err, localtasks.ErrCancelled))
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.CancelReason)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// true
	// CANCELLED cancelled while it was running
}
