package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// poll stands in for polling a feed: each run passes the next page to the
// run that follows it.
var poll = localtasks.Define("example.perpetual.poll",
	func(ctx context.Context, page int) (int, error) {
		fmt.Println("polling page", page)
		if err := localtasks.SetNextArgs(ctx, page+1); err != nil {
			return 0, err
		}
		return page, nil
	},
	localtasks.WithPerpetual(localtasks.Perpetual{Every: time.Millisecond}),
)

func ExampleWithPerpetual() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// A perpetual task runs for ever; Test.RunAtMost ends its chain after 3
	// runs, so that Drain returns.
	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{Test: localtasks.TestConfig{RunAtMost: map[string]int{"example.perpetual.poll": 3}}},
	})
	if err != nil {
		panic(err)
	}
	h, err := poll.Enqueue(ctx, pool, 1)
	if err != nil {
		panic(err)
	}
	if err := pool.Drain(ctx); err != nil {
		panic(err)
	}

	// A perpetual task's key is its name: one chain per task.
	res, err := h.Result(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Disposition(), res.Status, "key:", res.Key)
	c := pool.Counters()
	fmt.Println("enqueued:", c.Enqueued, "perpetuated:", c.Perpetuated, "succeeded:", c.Succeeded)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// polling page 1
	// polling page 2
	// polling page 3
	// enqueued SUCCESSFUL key: example.perpetual.poll
	// enqueued: 1 perpetuated: 2 succeeded: 3
}
