package localtasks_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/localtasks/localtasks"
)

var whoAmI = localtasks.Define("example.taskid.whoami",
	func(ctx context.Context, _ struct{}) (string, error) {
		// A running task reads its own ID, name and attempt from its ctx.
		return fmt.Sprintf("%s %s %d", localtasks.TaskID(ctx), localtasks.TaskName(ctx), localtasks.Attempt(ctx)), nil
	},
)

func ExampleTaskID() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}
	h, err := whoAmI.Enqueue(ctx, pool, struct{}{})
	if err != nil {
		panic(err)
	}
	out, err := h.Wait(ctx)
	if err != nil {
		panic(err)
	}
	id, rest, _ := strings.Cut(out, " ")
	fmt.Println(id == h.ID(), rest)
	fmt.Printf("outside a task: %q %d\n", localtasks.TaskID(ctx), localtasks.Attempt(ctx))

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// true example.taskid.whoami 1
	// outside a task: "" 0
}
