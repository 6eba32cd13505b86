package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

var double = localtasks.Define("example.middleware.double",
	func(ctx context.Context, n int) (int, error) { return 2 * n, nil },
)

func ExampleMiddleware() {
	// trace wraps every attempt of every task the backend runs.
	trace := func(ctx context.Context, ex localtasks.Execution, next func(context.Context) error) error {
		fmt.Printf("start %s attempt %d args %v\n", ex.Task, ex.Attempt, ex.Args)
		err := next(ctx)
		fmt.Printf("end   %s err %v\n", ex.Task, err)
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	b, err := localtasks.NewImmediate(localtasks.Config{Middleware: []localtasks.Middleware{trace}})
	if err != nil {
		panic(err)
	}
	h, err := double.Enqueue(ctx, b, 21)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Wait(ctx))

	if err := b.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// start example.middleware.double attempt 1 args 21
	// end   example.middleware.double err <nil>
	// 42 <nil>
}
