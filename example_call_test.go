package localtasks_test

import (
	"context"
	"fmt"

	"github.com/localtasks/localtasks"
)

var greetNow = localtasks.Define("example.call.greetNow", func(ctx context.Context, name string) (string, error) {
	return fmt.Sprintf("hello %s, from %s, attempt %d", name, localtasks.TaskName(ctx), localtasks.Attempt(ctx)), nil
})

func ExampleTask_Call() {
	// No backend: the function runs here and now, with a task ctx.
	s, err := greetNow.Call(context.Background(), "ada")
	fmt.Println(s, err)
	// Output:
	// hello ada, from example.call.greetNow, attempt 1 <nil>
}
