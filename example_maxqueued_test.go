package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

var sendDigest = localtasks.Define("example.maxqueued.digest",
	func(ctx context.Context, user string) (string, error) { return "sent to " + user, nil })

// A backend with MaxQueued refuses what would queue one run too many, and
// a producer that can wait asks for room.
func ExampleWithWaitForRoom() {
	ctx := context.Background()
	b, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{
		Config: localtasks.Config{MaxQueued: 1},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)

	// A run an hour away takes the one place in the queue.
	if _, err := sendDigest.Using(localtasks.WithDelay(time.Hour)).Enqueue(ctx, b, "ada"); err != nil {
		fmt.Println(err)
		return
	}
	_, err = sendDigest.Enqueue(ctx, b, "grace")
	fmt.Println("refused:", errors.Is(err, localtasks.ErrQueueFull))

	// Waiting for room, until the caller's deadline: nothing leaves the
	// queue within it here.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = sendDigest.Using(localtasks.WithWaitForRoom()).Enqueue(wctx, b, "grace")
	fmt.Println("gave up:", errors.Is(err, localtasks.ErrQueueFull), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("refusals:", b.Counters().QueueFull)
	// Output:
	// refused: true
	// gave up: true true
	// refusals: 2
}
