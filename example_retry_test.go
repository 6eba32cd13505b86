package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// flakyCharge fails its first two attempts, as a call to a service that is
// briefly down does.
var flakyCharge = localtasks.Define("example.retry.flaky",
	func(ctx context.Context, order string) (string, error) {
		if n := localtasks.Attempt(ctx); n < 3 {
			return "", fmt.Errorf("attempt %d: the payment service answered 503", n)
		}
		return "charged " + order, nil
	},
	// Up to 4 attempts, waiting 10 ms before the second, then 20 ms, 40 ms:
	// exponential backoff, capped at a second.
	localtasks.WithRetry(localtasks.RetryPolicy{MaxAttempts: 4, Delay: 10 * time.Millisecond, Multiplier: 2, MaxDelay: time.Second}),
)

// A failed attempt is retried by the task's RetryPolicy; the run keeps
// the error of each failed attempt.
func ExampleWithRetry() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}

	h, err := flakyCharge.Enqueue(ctx, pool, "order-42")
	if err != nil {
		panic(err)
	}
	out, err := h.Wait(ctx)
	fmt.Println(out, err)

	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, "after", res.Attempts, "attempts")
	for _, e := range res.Errors {
		fmt.Println(e.Attempt, e.Message)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// charged order-42 <nil>
	// SUCCESSFUL after 3 attempts
	// 1 attempt 1: the payment service answered 503
	// 2 attempt 2: the payment service answered 503
}
