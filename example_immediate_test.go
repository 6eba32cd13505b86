package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// flaky fails on its first two attempts.
var flaky = localtasks.Define("example.immediate.flaky",
	func(ctx context.Context, n int) (int, error) {
		if localtasks.Attempt(ctx) < 3 {
			return 0, errors.New("connection reset")
		}
		return n * n, nil
	},
	localtasks.WithRetry(localtasks.FixedRetry(3, time.Minute)),
)

func ExampleNewImmediate() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// The immediate backend runs a task before Enqueue returns, retries
	// included and without their delays: the test-friendly backend.
	b, err := localtasks.NewImmediate(localtasks.Config{})
	if err != nil {
		panic(err)
	}
	h, err := flaky.Enqueue(ctx, b, 7)
	if err != nil {
		panic(err)
	}
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Status, res.Attempts, len(res.Errors), res.Errors[0].Message)
	v, err := h.Wait(ctx) // already finished: returns at once
	fmt.Println(v, err)

	// It cannot defer a task: that is refused, and nothing runs.
	_, err = flaky.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, 7)
	fmt.Println(errors.Is(err, errors.ErrUnsupported))

	if err := b.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// SUCCESSFUL 3 2 connection reset
	// 49 <nil>
	// true
}
