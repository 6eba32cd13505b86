package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// Define a task once, at package level: a name that stays stable across
// releases, a typed function, and default options. Task names are
// process-wide, so those of the examples are named "example.…".
var greet = localtasks.Define("example.define.greet",
	func(ctx context.Context, name string) (string, error) {
		return "hello, " + name, nil
	},
	localtasks.WithPriority(10),
)

func ExampleDefine() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 2})
	if err != nil {
		panic(err)
	}
	h, err := greet.Enqueue(ctx, pool, "gopher")
	if err != nil {
		panic(err)
	}
	msg, err := h.Wait(ctx)
	fmt.Println(msg, err)
	fmt.Println(greet.Name(), greet.Options().Priority)

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// hello, gopher <nil>
	// example.define.greet 10
}
