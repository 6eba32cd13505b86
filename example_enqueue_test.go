package localtasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/localtasks/localtasks"
)

type resize struct {
	Path  string
	Width int
}

var thumbnail = localtasks.Define("example.enqueue.thumbnail",
	func(ctx context.Context, r resize) (string, error) {
		select {
		case <-time.After(10 * time.Millisecond): // the "work"
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return fmt.Sprintf("%s@%dw", r.Path, r.Width), nil
	},
)

func ExampleTask_Enqueue() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	pool, err := localtasks.NewThreadPool(localtasks.ThreadPoolConfig{MaxWorkers: 4})
	if err != nil {
		panic(err)
	}

	// Enqueue returns at once; the pool's workers run the tasks.
	var handles []localtasks.Handle[string]
	for _, w := range []int{320, 640, 1280} {
		h, err := thumbnail.Enqueue(ctx, pool, resize{Path: "cat.jpg", Width: w})
		if err != nil {
			panic(err)
		}
		handles = append(handles, h)
	}

	// Wait blocks until a run has finished and returns its typed value.
	for _, h := range handles {
		out, err := h.Wait(ctx)
		fmt.Println(out, err)
	}

	if err := pool.Close(ctx); err != nil {
		panic(err)
	}
	// Output:
	// cat.jpg@320w <nil>
	// cat.jpg@640w <nil>
	// cat.jpg@1280w <nil>
}
