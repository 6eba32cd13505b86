package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

var (
	add = localtasks.Define("example.getresult.add",
		func(ctx context.Context, xy [2]int) (int, error) { return xy[0] + xy[1], nil },
	)
	upper = localtasks.Define("example.getresult.upper",
		func(ctx context.Context, s string) (string, error) { return strings.ToUpper(s), nil },
	)
)

func ExampleTask_GetResult() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{})
	if err != nil {
		panic(err)
	}

	// One request enqueues and keeps only the ID, say in a 202 response…
	h, err := add.Enqueue(ctx, pool, [2]int{2, 3})
	if err != nil {
		panic(err)
	}
	id := h.ID()

	// …and a later one fetches the run by that ID, typed again.
	later, err := add.GetResult(ctx, pool, id)
	if err != nil {
		panic(err)
	}
	sum, err := later.Wait(ctx)
	fmt.Println(sum, err)

	res, err := pool.GetResult(ctx, id) // the untyped snapshot
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Task, res.Status, res.Attempts)

	// The ID of add's run is not a run of upper: a mismatch, as in Django.
	_, err = upper.GetResult(ctx, pool, id)
	fmt.Println(errors.Is(err, localtasks.ErrResultMismatch))

	// An ID the backend never gave out, or whose result was evicted.
	_, err = add.GetResult(ctx, pool, "8c1f3b9e-3a43-4b6e-9a5c-2f6d7f1e0b2a")
	fmt.Println(errors.Is(err, localtasks.ErrResultNotFound))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// 5 <nil>
	// example.getresult.add SUCCESSFUL 1
	// true
	// true
}
