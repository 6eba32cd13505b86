package localtasks_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

// ping fails its first attempt, and is retried at once.
var ping = localtasks.Define("example.subscribe.ping",
	func(ctx context.Context, host string) (string, error) {
		if localtasks.Attempt(ctx) == 1 {
			return "", errors.New("no route to host")
		}
		return "pong from " + host, nil
	},
	localtasks.WithRetry(localtasks.FixedRetry(2, 0)),
)

func ExampleThreadPoolBackend_Subscribe() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 1})
	if err != nil {
		panic(err)
	}

	// Subscribe before enqueueing: a subscription sees the events
	// published after Subscribe. Its buffer is how far it may fall behind
	// the newest event before it loses the oldest (see Dropped).
	sub := pool.Subscribe(16)
	defer sub.Close()

	h, err := ping.Enqueue(ctx, pool, "db1")
	if err != nil {
		panic(err)
	}
	if _, err := h.Wait(ctx); err != nil {
		panic(err)
	}

	for ev := range sub.C() {
		r := ev.Result
		fmt.Printf("%-8s %-10s attempt %d\n", ev.Kind, r.Status, r.Attempts)
		if ev.Kind == localtasks.EventFinished {
			break
		}
	}
	fmt.Println("dropped:", sub.Dropped())

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// enqueued READY      attempt 0
	// started  RUNNING    attempt 1
	// started  RUNNING    attempt 2
	// finished SUCCESSFUL attempt 2
	// dropped: 0
}
